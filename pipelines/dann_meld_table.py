"""CI (lambda = 0) vs DANN on MELD (text), 7-class and 4-class, official splits.

    python pipelines/dann_meld_table.py                  # CPU preset (Adam 1e-3, 20 epochs, batch 20 dialogues)
    python pipelines/dann_meld_table.py --seeds 5
    python pipelines/dann_meld_table.py --preset paper   # Adam 1e-4, 200 epochs

Runs the registered experiments ``dann/meld/text/{7class,4class}/{ci,dann}`` (the group
``dann/meld_table``: MiniLM sentence embeddings of the utterances in ``tfrecords/meld_minilm``,
7basic; conversations = MELD dialogues by ``dialogue_id``/``turn_index``; speaker domain behind the
GRL: speakers with >= 50 turns, the rest pooled as ``other``; dev and test dialogues are unlabelled
target data of the domain classifier) through the one trainer,
:func:`emozoo.train.trainer.run_experiment` with the conversational DANN's Task
(:class:`emozoo.models.dann.dann_task.ConversationTask`), into the run folders that
``python -m emozoo.train --experiment dann/meld_table --seeds 5`` uses (``<runs-dir>/<experiment with
/ as _>``; either command resumes the other's finished seeds). Each seed trains on the labelled
train turns and scores the official test turns (WA = accuracy, UAR, weighted F1 = MELD's usual
metric) and the official dev turns (``extra_tests``); this script writes

* ``benchmarks/results/dann_meld.json``: the test and dev summaries (mean +- std over seeds, the
  per-seed values) and the run folders they came from;
* ``docs/methods/dann_meld.md``: the table, between its ``<!-- table -->`` / ``<!-- /table -->`` markers
  (the rest of the page is kept).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

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


def summary_cells(summary: dict) -> dict:
    """The table's cells of one trainer summary: the test metrics over seeds and, under ``dev``, the
    official dev turns' (``extra_tests``)."""
    keep = ("num_runs",) + tuple(KEYS)
    return {**{k: v for k, v in summary["test"].items() if k in keep},
            "dev": {k: v for k, v in summary["extra_tests"]["dev"].items() if k in keep}}


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
    ap.add_argument("--runs-dir", help="the trainer's run folders (default runs/, runs/dann_meld_paper/ with "
                                       "--preset paper); finished seeds are kept and skipped")
    ap.add_argument("--merge-only", action="store_true", help="only rewrite the table from the finished runs")
    args = ap.parse_args(argv)
    from emozoo.experiments import apply_overrides
    from emozoo.train.trainer import load_run, run_experiment

    preset = E.PAPER_PRESET if args.preset == "paper" else E.CPU_PRESET
    epochs = args.epochs or preset["epochs"]
    lr = preset["learning_rate"]
    runs_dir = Path(args.runs_dir or (ROOT / "runs" / ("dann_meld_paper" if args.preset == "paper" else "")))
    overrides = [f"trainer.epochs={epochs}", f"optimizer.learning_rate={lr}", f"trainer.batch_size={preset['batch_size']}"]
    command = "python pipelines/dann_meld_table.py" + (" --preset paper" if args.preset == "paper" else "") + \
        (f" --seeds {args.seeds}" if args.seeds != 3 else "") + (f" --epochs {args.epochs}" if args.epochs else "")
    t0 = time.time()
    results = {"config": {"epochs": epochs, "learning_rate": lr, "batch_size": preset["batch_size"],
                          "batching": "length_buckets", "seeds": args.seeds}, "summary": {}, "run_dirs": {}}
    for sub in SUBSETS:
        for v in VARIANTS:
            name = f"dann/meld/text/{sub}/{v}"
            model_dir = runs_dir / name.replace("/", "_")
            if not args.merge_only and sub in args.subsets:
                run_experiment(apply_overrides(get_experiment(name), overrides), model_dir, seeds=args.seeds,
                               log=lambda *a: None)
            if not (model_dir / "summary.json").exists():
                continue
            run = load_run(model_dir)
            results["summary"][name] = summary_cells(run["summary"])
            results["run_dirs"][name] = os.path.relpath(model_dir, ROOT)
            for seed in run["seeds"]:
                (res,) = seed["folds"]
                r, d = res["test"], res["extra_tests"]["dev"]
                print(f"[{time.time() - t0:6.0f}s] {name} seed {seed['seed']}: WA {100 * r['accuracy']:.2f} UAR "
                      f"{100 * r['uar']:.2f} wF1 {100 * r['weighted_f1']:.2f} dev wF1 {100 * d['weighted_f1']:.2f} "
                      f"dom_acc {res['final'].get('domain_accuracy', 0):.3f} ({res['seconds']} s)", flush=True)
            results["seconds"] = results.get("seconds", 0) + sum(f["seconds"] for s_ in run["seeds"] for f in s_["folds"])
    summary = results["summary"]
    dialogues, classes = T.load_dialogues(STORE)
    folds = {sub: meld_folds(sub, get_experiment(f"dann/meld/text/{sub}/dann").data.protocol_kwargs, dialogues,
                             classes) for sub in SUBSETS}
    seeds_done = min((s["num_runs"] for s in summary.values()), default=0)
    meta = {"command": command, "seeds": seeds_done, "epochs": epochs, "learning_rate": lr,
            "batch_size": preset["batch_size"], "cpus": os.cpu_count(), "seconds": results.get("seconds", 0),
            "domains": len(folds["7class"][0].domains), "domain_names": list(folds["7class"][0].domains),
            "sizes": {sub: folds[sub][0].sizes for sub in SUBSETS},
            "test_labelled": {sub: folds[sub][0].sizes["test_labelled"] for sub in SUBSETS},
            "dev_labelled": {sub: int((folds[sub][1].y >= 0).sum()) for sub in SUBSETS}}
    results["meta"] = meta
    _atomic_json(Path(args.out), results)
    write_table(Path(args.table), markdown(summary, meta))
    print(markdown(summary, meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
