"""CI (lambda = 0) vs DANN on MELD (text), 7-class and 4-class, official splits.

    python pipelines/dann_meld_table.py                  # CPU preset (Adam 1e-3, 20 epochs, batch 20 dialogues)
    python pipelines/dann_meld_table.py --seeds 5
    python pipelines/dann_meld_table.py --preset paper   # Adam 1e-4, 200 epochs

Runs the registered experiments ``dann/meld/text/{7class,4class}/{ci,dann}`` (MiniLM sentence
embeddings of the utterances in ``tfrecords/meld_minilm``, 7basic; conversations = MELD dialogues
by ``dialogue_id``/``turn_index``; speaker domain behind the GRL: speakers with >= 50 turns, the
rest pooled as ``other``; dev and test dialogues are unlabelled target data of the domain
classifier) with :func:`emozoo.models.dann.dann_task.meld_fold`, trains on the labelled train
turns, scores the official test turns (WA = accuracy, UAR, weighted F1 = MELD's usual metric;
dev scores are stored too) and writes

* ``benchmarks/results/dann_meld.json``: every run's test + dev report, mean +- std over seeds;
* ``docs/methods/dann_meld.md``: the table, between its ``<!-- table -->`` / ``<!-- /table -->`` markers
  (the rest of the page is kept).

Finished (experiment, seed) runs are kept in the JSON and skipped when the command is re-run,
so an interrupted run resumes (``--merge-only`` just rewrites the table from the JSON).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emozoo.evaluation.metrics import summarise_runs  # noqa: E402
from emozoo.experiments import get_experiment  # noqa: E402
from emozoo.models.dann import dann_experiments as E  # noqa: E402
from emozoo.models.dann import dann_task as T  # noqa: E402
from emozoo.models.dann.dann_zoo import MELD_KEYS as KEYS  # noqa: E402
from emozoo.models.dann.dann_zoo import meld_folds as _meld_folds  # noqa: E402
from emozoo.utils import write_json_atomic  # noqa: E402

SUBSETS = ("7class", "4class")
VARIANTS = ("ci", "dann")
STORE = ROOT / "tfrecords/meld_minilm"


def _atomic_json(path: Path, obj) -> None:
    write_json_atomic(path, obj, indent=1)


def meld_folds(subset: str, params: dict, dialogues=None, classes=None):
    """:func:`emozoo.models.dann.dann_zoo.meld_folds` on this checkout's ``tfrecords/meld_minilm``."""
    return _meld_folds(subset, params, dialogues, classes, store=STORE)


score = T.score_turns        # (model, batch, classes) -> report


def summarise(results: dict) -> dict:
    out = {}
    for name, runs in results["runs"].items():
        reps = [r["report"] for r in runs.values()]
        if reps:
            out[name] = summarise_runs(reps, KEYS)
            out[name]["dev"] = summarise_runs([r["dev_report"] for r in runs.values()], KEYS)
    return out


def _cell(s, key):
    if s is None:
        return "n/a"
    return f"{100 * s[key]['mean']:.2f} ± {100 * s[key]['std']:.2f}"


def markdown(summary: dict, meta: dict) -> str:
    L = [f"Measured with `{meta['command']}` ({meta['epochs']} epochs, Adam {meta['learning_rate']:g}, batch "
         f"{meta['batch_size']} dialogues; {meta['seconds']:.0f} s of run time on {meta['cpus']} CPU cores shared "
         "with other jobs). MELD official splits, text only (MiniLM sentence embeddings), speaker domain "
         f"({meta['domains']} classes: speakers with >= 50 turns + `other`), test = the official test turns "
         f"({meta['test_labelled']['7class']} for 7 classes, {meta['test_labelled']['4class']} for the 4-class subset "
         "neutral/joy/anger/sadness). Mean ± std (ddof=1) over n seeds, %. WA = accuracy, UAR = unweighted "
         "average recall, wF1 = support-weighted F1 (MELD's usual metric).", "",
         "| task | variant | n | WA | UAR | wF1 | dev wF1 |", "|---|---|---|---|---|---|---|"]
    for sub in SUBSETS:
        for v in VARIANTS:
            s = summary.get(f"dann/meld/text/{sub}/{v}")
            if s is None:
                continue
            L.append(f"| {sub} | {'CI (λ=0)' if v == 'ci' else 'DANN (λ=1)'} | {s['num_runs']} | {_cell(s, 'accuracy')} | "
                     f"{_cell(s, 'uar')} | {_cell(s, 'weighted_f1')} | {_cell(s['dev'], 'weighted_f1')} |")
    return "\n".join(L) + "\n"


def write_table(path: Path, table: str) -> None:
    """Put ``table`` between the ``<!-- table -->`` markers of ``path`` (the whole file if it has none)."""
    start, end = "<!-- table -->", "<!-- /table -->"
    text = path.read_text() if path.exists() else ""
    if start in text and end in text:
        text = text[:text.index(start) + len(start)] + "\n" + table + text[text.index(end):]
    else:
        text = f"{start}\n{table}{end}\n"
    path.write_text(text)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", choices=("cpu", "paper"), default="cpu")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--subsets", nargs="*", default=list(SUBSETS), choices=SUBSETS)
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/dann_meld.json"))
    ap.add_argument("--table", default=str(ROOT / "docs/methods/dann_meld.md"))
    ap.add_argument("--merge-only", action="store_true", help="only rewrite the summary/table from the JSON")
    args = ap.parse_args(argv)
    preset = E.PAPER_PRESET if args.preset == "paper" else E.CPU_PRESET
    epochs = args.epochs or preset["epochs"]
    lr = preset["learning_rate"]
    command = "python pipelines/dann_meld_table.py" + (" --preset paper" if args.preset == "paper" else "") + \
        (f" --seeds {args.seeds}" if args.seeds != 3 else "") + (f" --epochs {args.epochs}" if args.epochs else "")
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {"runs": {}}
    cfg0 = {"epochs": epochs, "learning_rate": lr, "batch_size": preset["batch_size"], "batching": "length_buckets"}
    if results.get("config") and {k: results["config"].get(k) for k in cfg0} != cfg0:
        results = {"runs": {}}          # a different preset: start over
    results["config"] = {**cfg0, "seeds": args.seeds}
    t0 = time.time()
    dialogues, classes = T.load_dialogues(STORE)
    folds = {}
    for sub in SUBSETS:
        cfg = get_experiment(f"dann/meld/text/{sub}/dann")
        folds[sub] = meld_folds(sub, cfg.data.protocol_kwargs, dialogues, classes)
    models = {}
    for s in ([] if args.merge_only else range(args.seeds)):
        for sub in args.subsets:
            fold, dev = folds[sub]
            for v in VARIANTS:
                name = f"dann/meld/text/{sub}/{v}"
                if str(s) in results["runs"].setdefault(name, {}):
                    continue
                params = {**get_experiment(name).model.params, "learning_rate": lr}
                models[sub], res = T.run_many(fold, [((name, s), params, s)], epochs=epochs,
                                              batch_size=preset["batch_size"], model=models.get(sub))
                res = res[(name, s)]
                res["dev_report"] = score(models[sub], dev, fold.classes)
                results["runs"][name][str(s)] = res
                results["seconds"] = results.get("seconds", 0) + res["seconds"]
                _atomic_json(out, results)
                r = res["report"]
                print(f"[{time.time() - t0:6.0f}s] {name} seed {s}: WA {100 * r['accuracy']:.2f} UAR "
                      f"{100 * r['uar']:.2f} wF1 {100 * r['weighted_f1']:.2f} dev wF1 "
                      f"{100 * res['dev_report']['weighted_f1']:.2f} dom_acc {res['final'].get('domain_accuracy', 0):.3f} "
                      f"({res['seconds']} s)", flush=True)
    summary = summarise(results)
    seeds_done = min((len(r) for r in results["runs"].values()), default=0)
    meta = {"command": command, "seeds": seeds_done, "epochs": epochs, "learning_rate": lr,
            "batch_size": preset["batch_size"], "cpus": os.cpu_count(), "seconds": results.get("seconds", 0),
            "domains": len(folds["7class"][0].domains), "domain_names": list(folds["7class"][0].domains),
            "sizes": {sub: folds[sub][0].sizes for sub in SUBSETS},
            "test_labelled": {sub: folds[sub][0].sizes["test_labelled"] for sub in SUBSETS},
            "dev_labelled": {sub: int((folds[sub][1].y >= 0).sum()) for sub in SUBSETS}}
    results.update(summary=summary, meta=meta)
    _atomic_json(out, results)
    write_table(Path(args.table), markdown(summary, meta))
    print(markdown(summary, meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
