"""Table 2 of Lian et al. 2019 on our data: CI (lambda = 0) vs DANN over the five IEMOCAP TS settings.

    python pipelines/dann_iemocap_table.py                  # CPU preset (5 seeds, 20 epochs, Adam 1e-3)
    python pipelines/dann_iemocap_table.py --preset paper   # 20 seeds, 200 epochs, Adam 1e-4

Runs the registered experiments ``dann/iemocap/text/<ts>/{ci,dann}`` (text modality: MiniLM
sentence embeddings of the transcripts in ``tfrecords/iemocap_text_minilm``; the paper used
ComParE audio + ELMo text) for ``--seeds`` seeds, scores the labelled turns of session 5
(WA = accuracy over turns, the paper's metric, and UAR) and writes

* ``benchmarks/results/dann_iemocap.json``: every run's report, mean +- std over seeds;
* ``docs/methods/dann_iemocap_table.md``: the table with the paper's numbers beside it;
* ``runs/dann_iemocap/embeddings_<ts>_<variant>_seed0.npz``: ``r_i`` of every turn (seed 0) for
  ``pipelines/dann_tsne.py``.

Finished (experiment, seed) runs are kept in the JSON and skipped when the command is re-run.
``--parallel N`` runs the settings in N worker processes (one JSON part per setting under
``--runs-dir``, merged at the end); the table in the docs was made with ``--parallel 5``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emozoo.data.protocols import IEMOCAP_TS  # noqa: E402
from emozoo.evaluation.metrics import summarise_runs  # noqa: E402
from emozoo.experiments import get_experiment  # noqa: E402
from emozoo.models.dann import dann_experiments as E  # noqa: E402
from emozoo.models.dann import dann_task as T  # noqa: E402
from emozoo.utils import write_json_atomic  # noqa: E402

PAPER_TABLE2 = {"ci": {"TS_1234": 81.06, "TS_123": 80.82, "TS_134": 79.85, "TS_234": 78.89, "TS_23": 77.60},
                "dann": {"TS_1234": 81.14, "TS_123": 82.68, "TS_134": 82.27, "TS_234": 82.43, "TS_23": 81.39}}
VARIANTS = ("ci", "dann")


def _atomic_json(path: Path, obj) -> None:
    write_json_atomic(path, obj, indent=1)


def summarise(results: dict) -> dict:
    out = {}
    for name, runs in results["runs"].items():
        reps = [r["report"] for r in runs.values()]
        if reps:
            out[name] = summarise_runs(reps, ("accuracy", "uar", "macro_f1"))
    return out


def _cell(s, key):
    if s is None:
        return "n/a"
    return f"{100 * s[key]['mean']:.2f} ± {100 * s[key]['std']:.2f} (n={s['num_runs']})"


def markdown(summary: dict, meta: dict) -> str:
    L = [f"Measured with `{meta['command']}` (n = seeds per cell, {meta['epochs']} epochs, Adam "
         f"{meta['learning_rate']:g}, batch {meta['batch_size']} conversations; {meta['seconds']:.0f} s of run time on "
         f"{meta['cpus']} CPU cores shared with other jobs"
         + ("; the run was stopped at the deadline and its finished seeds merged with `--merge-only`" if
            meta.get("interrupted") else "") + f"). Test: the {meta['test_labelled']} labelled turns "
         "of session 5 (4 classes, happy = happy + excited). Mean ± std (ddof=1) over seeds, %. "
         "WA = accuracy over turns (the paper's metric), UAR = unweighted average recall. "
         "**Text only** (MiniLM sentence embeddings of the transcripts): the paper used ComParE audio + ELMo "
         "text, and IEMOCAP audio is not in shared data.", "",
         "| setting | CI WA (paper) | CI WA | DANN WA (paper) | DANN WA | CI UAR | DANN UAR |",
         "|---|---|---|---|---|---|---|"]
    for ts in IEMOCAP_TS:
        ci, da = (summary.get(f"dann/iemocap/text/{ts.lower()}/{v}") for v in VARIANTS)
        L.append(f"| {ts} | {PAPER_TABLE2['ci'][ts]:.2f} | {_cell(ci, 'accuracy')} | {PAPER_TABLE2['dann'][ts]:.2f} | "
                 f"{_cell(da, 'accuracy')} | {_cell(ci, 'uar')} | {_cell(da, 'uar')} |")
    return "\n".join(L) + "\n"


def run_parallel(args, argv) -> int:
    """One worker per setting (``--settings TS --out <runs-dir>/part_<ts>.json``), then merge."""
    import subprocess
    t0 = time.time()
    rest, skip = [], False
    for a in argv:                     # drop --parallel/--settings/--out from the workers' arguments
        if skip:
            skip = False
            continue
        if a in ("--parallel", "--out", "--table"):
            skip = True
            continue
        if a.startswith(("--parallel=", "--out=", "--table=")):
            continue
        rest.append(a)
    if "--settings" in rest:
        i = rest.index("--settings")
        j = i + 1
        while j < len(rest) and not rest[j].startswith("--"):
            j += 1
        rest = rest[:i] + rest[j:]
    parts = {ts: Path(args.runs_dir) / f"part_{ts.lower()}.json" for ts in args.settings}
    Path(args.runs_dir).mkdir(parents=True, exist_ok=True)
    pending = [] if args.merge_only else list(args.settings)
    procs = []
    while pending or procs:
        while pending and len(procs) < args.parallel:
            ts = pending.pop(0)
            log = open(Path(args.runs_dir) / f"part_{ts.lower()}.log", "w")
            procs.append(subprocess.Popen([sys.executable, __file__, *rest, "--settings", ts, "--out", str(parts[ts]),
                                           "--table", os.devnull], stdout=log, stderr=subprocess.STDOUT))
        if procs:
            time.sleep(5)
        procs = [p for p in procs if p.poll() is None]
    merged = {"runs": {}}
    test_labelled = set()
    for ts, part in parts.items():
        if part.exists():
            r = json.loads(part.read_text())
            merged["runs"].update(r["runs"])
            merged["config"] = r["config"]
            merged["meta"] = r.get("meta", {})
            if "test_labelled" in merged["meta"]:
                test_labelled.add(int(merged["meta"]["test_labelled"]))
    if len(test_labelled) != 1:      # the workers' counted test turns (all settings test session 5)
        raise SystemExit(f"the per-setting parts under {args.runs_dir} give test sizes {sorted(test_labelled)}; "
                         "expected one count (re-run the missing settings)")
    summary = summarise(merged)
    seeds_done = min((len(r) for r in merged["runs"].values()), default=0)
    meta = {**merged.get("meta", {}), "command": "python pipelines/dann_iemocap_table.py --parallel 5",
            "seconds": time.time() - t0, "cpus": os.cpu_count(), "seeds": seeds_done,
            "epochs": merged["config"]["epochs"], "learning_rate": merged["config"]["learning_rate"],
            "batch_size": merged["config"]["batch_size"], "test_labelled": test_labelled.pop()}
    if args.merge_only:
        meta["seconds"] = sum(r.get("seconds", 0) for runs in merged["runs"].values() for r in runs.values())
        meta["interrupted"] = True
    merged.update(summary=summary, paper_table2_wa=PAPER_TABLE2, meta=meta, seconds=meta["seconds"])
    _atomic_json(Path(args.out), merged)
    Path(args.table).write_text(markdown(summary, meta))
    print(markdown(summary, meta))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", choices=("cpu", "paper"), default="cpu")
    ap.add_argument("--seeds", type=int)
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--settings", nargs="*", default=list(IEMOCAP_TS))
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/dann_iemocap.json"))
    ap.add_argument("--table", default=str(ROOT / "docs/methods/dann_iemocap_table.md"))
    ap.add_argument("--runs-dir", default=str(ROOT / "runs/dann_iemocap"))
    ap.add_argument("--parallel", type=int, default=1, help="worker processes, one setting each")
    ap.add_argument("--merge-only", action="store_true",
                    help="only merge the per-setting parts of an interrupted --parallel run into the table")
    args = ap.parse_args(argv)
    if args.merge_only or (args.parallel > 1 and len(args.settings) > 1):
        return run_parallel(args, argv or sys.argv[1:])
    preset = E.PAPER_PRESET if args.preset == "paper" else E.CPU_PRESET
    seeds = args.seeds or preset["seeds"]
    epochs = args.epochs or preset["epochs"]
    lr = preset["learning_rate"]
    command = "python pipelines/dann_iemocap_table.py" + (" --preset paper" if args.preset == "paper" else "") + \
        (f" --seeds {args.seeds}" if args.seeds else "") + (f" --epochs {args.epochs}" if args.epochs else "")
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {"runs": {}}
    cfg0 = {"epochs": epochs, "learning_rate": lr, "batch_size": preset["batch_size"], "batching": "length_buckets"}
    if results.get("config") and {k: results["config"].get(k) for k in cfg0} != cfg0:
        results = {"runs": {}}          # a different preset: start over
    results["config"] = {**cfg0, "seeds": seeds}
    t0 = time.time()
    dialogues, classes = T.load_dialogues(ROOT / "tfrecords/iemocap_text_minilm")
    model = None
    folds = {ts: T.iemocap_fold(dialogues, classes, ts, domain="speaker") for ts in args.settings}
    test_labelled = next(iter(folds.values())).sizes["test_labelled"]

    def save(key, res):
        name, s = key
        emb = res.pop("embeddings", None)
        trained = res.pop("model", None)
        if emb is not None:
            Path(args.runs_dir).mkdir(parents=True, exist_ok=True)
            ts, v = name.split("/")[-2:]
            np.savez(Path(args.runs_dir) / f"embeddings_{ts}_{v}_seed{s}.npz", **emb)
            # the weights of the seed-0 models (python -m emozoo.publish dann_iemocap --from-run publishes TS_1234 DANN)
            trained.save_weights(str(Path(args.runs_dir) / f"{ts}_{v}_seed{s}.weights.h5"))
            (Path(args.runs_dir) / f"{ts}_{v}_seed{s}.json").write_text(json.dumps(
                {"report": res["report"], "epochs": res["epochs"], "seed": s, "experiment": name,
                 "params": {k: v for k, v in trained.get_config().items() if k not in ("name", "trainable", "dtype")}},
                indent=1))
        results["runs"][name][str(s)] = res
        _atomic_json(out, results)
        print(f"[{time.time() - t0:6.0f}s] {name} seed {s}: WA {100 * res['report']['accuracy']:.2f} "
              f"UAR {100 * res['report']['uar']:.2f} dom_acc {res['final'].get('domain_accuracy', 0):.3f} "
              f"({res['seconds']} s)", flush=True)

    # seed by seed over all settings (CI and DANN side by side), so a partial run covers the table
    for s in range(seeds):
        for ts in args.settings:
            runs = []
            for v in VARIANTS:
                name = f"dann/iemocap/text/{ts.lower()}/{v}"
                cfg = get_experiment(name)
                params = {**cfg.model.params, "learning_rate": lr}
                if str(s) not in results["runs"].setdefault(name, {}):
                    runs.append(((name, s), params, s))
            if runs:
                keep = [(f"dann/iemocap/text/{ts.lower()}/{v}", 0) for v in VARIANTS]
                model, _ = T.run_many(folds[ts], runs, epochs=epochs, batch_size=preset["batch_size"], model=model,
                                      on_result=save, keep_embeddings=keep)
    summary = summarise(results)
    results["summary"] = summary
    results["paper_table2_wa"] = PAPER_TABLE2
    meta = {"command": command, "seeds": seeds, "epochs": epochs, "learning_rate": lr,
            "batch_size": preset["batch_size"], "cpus": os.cpu_count(),
            "seconds": results.get("seconds", 0) + time.time() - t0, "test_labelled": int(test_labelled)}
    results["seconds"] = meta["seconds"]
    results["meta"] = meta
    _atomic_json(out, results)
    Path(args.table).write_text(markdown(summary, meta))
    print(markdown(summary, meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
