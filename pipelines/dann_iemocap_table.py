"""Table 2 of Lian et al. 2019 on our data: CI (lambda = 0) vs DANN over the five IEMOCAP TS settings.

    python pipelines/dann_iemocap_table.py                  # CPU preset (5 seeds, 20 epochs, Adam 1e-3)
    python pipelines/dann_iemocap_table.py --preset paper   # 20 seeds, 200 epochs, Adam 1e-4
    python pipelines/dann_iemocap_table.py --merge-only     # only re-write the table from the finished runs

Runs the registered experiments ``dann/iemocap/text/<ts>/{ci,dann}`` (the group ``dann/table2/text``;
text modality: MiniLM sentence embeddings of the transcripts in ``tfrecords/iemocap_text_minilm``; the
paper used ComParE audio + ELMo text) through the one trainer, :func:`emozoo.train.trainer.run_experiment`
with the conversational DANN's Task (:class:`emozoo.models.dann.dann_task.ConversationTask`), seed by seed
over the settings (a partial run covers the whole table), into the run folders that
``python -m emozoo.train --experiment dann/table2/text --seeds 5`` uses (``<runs-dir>/<experiment with / as
_>``; either command resumes the other's finished seeds). Each seed scores the labelled turns of session 5
(WA = accuracy over turns, the paper's metric, and UAR). This script then writes

* ``benchmarks/results/dann_iemocap.json``: the summaries (mean +- std over seeds, per-seed values) and the
  run folders they came from;
* ``docs/methods/dann_iemocap_table.md``: the table with the paper's numbers beside it.

The seed-0 weights of each run (``<run>/seed_0/<fold>/model.weights.h5``) feed ``pipelines/dann_tsne.py`` and
``python -m emozoo.publish dann_iemocap --from-run``.
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

from emozoo.data.protocols import IEMOCAP_TS  # noqa: E402
from emozoo.experiments import apply_overrides, get_experiment  # noqa: E402
from emozoo.models.dann import dann_experiments as E  # noqa: E402
from emozoo.utils import write_json_atomic  # noqa: E402

PAPER_TABLE2 = {"ci": {"TS_1234": 81.06, "TS_123": 80.82, "TS_134": 79.85, "TS_234": 78.89, "TS_23": 77.60},
                "dann": {"TS_1234": 81.14, "TS_123": 82.68, "TS_134": 82.27, "TS_234": 82.43, "TS_23": 81.39}}
VARIANTS = ("ci", "dann")
KEYS = ("accuracy", "uar", "macro_f1")


def experiment(ts: str, variant: str) -> str:
    return f"dann/iemocap/text/{ts.lower()}/{variant}"


def run_dir(runs_dir: Path, name: str) -> Path:
    """The trainer's folder of experiment ``name`` under ``runs_dir`` (the group command's default)."""
    return Path(runs_dir) / name.replace("/", "_")


def _cell(s, key):
    if s is None:
        return "n/a"
    return f"{100 * s[key]['mean']:.2f} ± {100 * s[key]['std']:.2f} (n={s['num_runs']})"


def markdown(summary: dict, meta: dict) -> str:
    L = [f"Measured with `{meta['command']}` (n = seeds per cell, {meta['epochs']} epochs, Adam "
         f"{meta['learning_rate']:g}, batch {meta['batch_size']} conversations; {meta['seconds']:.0f} s of training "
         f"time summed over the runs on {meta['cpus']} CPU cores shared with other jobs). Test: the "
         f"{meta['test_labelled']} labelled turns of session 5 (4 classes, happy = happy + excited). Mean ± std "
         "(ddof=1) over seeds, %. WA = accuracy over turns (the paper's metric), UAR = unweighted average recall. "
         "**Text only** (MiniLM sentence embeddings of the transcripts): the paper used ComParE audio + ELMo "
         "text, and IEMOCAP audio is not in shared data.", "",
         "| setting | CI WA (paper) | CI WA | DANN WA (paper) | DANN WA | CI UAR | DANN UAR |",
         "|---|---|---|---|---|---|---|"]
    for ts in IEMOCAP_TS:
        ci, da = (summary.get(experiment(ts, v)) for v in VARIANTS)
        L.append(f"| {ts} | {PAPER_TABLE2['ci'][ts]:.2f} | {_cell(ci, 'accuracy')} | {PAPER_TABLE2['dann'][ts]:.2f} | "
                 f"{_cell(da, 'accuracy')} | {_cell(ci, 'uar')} | {_cell(da, 'uar')} |")
    return "\n".join(L) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", choices=("cpu", "paper"), default="cpu")
    ap.add_argument("--seeds", type=int)
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--settings", nargs="*", default=list(IEMOCAP_TS), choices=list(IEMOCAP_TS))
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/dann_iemocap.json"))
    ap.add_argument("--table", default=str(ROOT / "docs/methods/dann_iemocap_table.md"))
    ap.add_argument("--runs-dir", help="the trainer's run folders (default runs/, runs/dann_iemocap_paper/ with "
                                       "--preset paper); finished seeds are kept and skipped")
    ap.add_argument("--merge-only", action="store_true", help="only rewrite the table from the finished runs")
    args = ap.parse_args(argv)
    from emozoo.train.trainer import load_run, run_experiment

    preset = E.PAPER_PRESET if args.preset == "paper" else E.CPU_PRESET
    seeds = args.seeds or preset["seeds"]
    epochs = args.epochs or preset["epochs"]
    lr = preset["learning_rate"]
    runs_dir = Path(args.runs_dir or (ROOT / "runs" / ("dann_iemocap_paper" if args.preset == "paper" else "")))
    overrides = [f"trainer.epochs={epochs}", f"optimizer.learning_rate={lr}", f"trainer.batch_size={preset['batch_size']}"]
    command = "python pipelines/dann_iemocap_table.py" + (" --preset paper" if args.preset == "paper" else "") + \
        (f" --seeds {args.seeds}" if args.seeds else "") + (f" --epochs {args.epochs}" if args.epochs else "")
    t0 = time.time()
    if not args.merge_only:        # seed by seed over all settings (CI and DANN side by side)
        for n in range(1, seeds + 1):
            for ts in args.settings:
                for v in VARIANTS:
                    name = experiment(ts, v)
                    s = run_experiment(apply_overrides(get_experiment(name), overrides), run_dir(runs_dir, name),
                                       seeds=n, log=lambda *a: None)
                    t = s["test"]
                    print(f"[{time.time() - t0:6.0f}s] {name} seed {n - 1}: WA {100 * t['accuracy']['values'][-1]:.2f} "
                          f"UAR {100 * t['uar']['values'][-1]:.2f}", flush=True)
    results = {"config": {"epochs": epochs, "learning_rate": lr, "batch_size": preset["batch_size"],
                          "batching": "length_buckets", "seeds": seeds},
               "summary": {}, "runs": {}, "run_dirs": {}, "paper_table2_wa": PAPER_TABLE2}
    seconds, test_labelled = 0.0, set()
    for ts in IEMOCAP_TS:
        for v in VARIANTS:
            name = experiment(ts, v)
            folder = run_dir(runs_dir, name)
            if not (folder / "summary.json").exists():
                continue
            run = load_run(folder)
            results["summary"][name] = {k: val for k, val in run["summary"]["test"].items() if k in ("num_runs",) + KEYS}
            results["run_dirs"][name] = os.path.relpath(folder, ROOT)
            results["runs"][name] = {}
            for seed in run["seeds"]:
                (res,) = seed["folds"]
                seconds += float(res.get("seconds", 0))
                test_labelled.add(int(res["sizes"]["test_labelled"]))
                results["runs"][name][str(seed["seed"])] = {
                    "report": {k: res["test"][k] for k in KEYS + ("confusion_matrix",)},
                    "final": res.get("final", {}), "seconds": res.get("seconds")}
    if len(test_labelled) > 1:
        raise SystemExit(f"the runs under {runs_dir} count {sorted(test_labelled)} test turns; all settings test "
                         "session 5: re-run the odd ones")
    done = min((s["num_runs"] for s in results["summary"].values()), default=0)
    meta = {"command": command, "seeds": done, "epochs": epochs, "learning_rate": lr,
            "batch_size": preset["batch_size"], "cpus": os.cpu_count(), "seconds": seconds,
            "test_labelled": test_labelled.pop() if test_labelled else 0}
    results.update(meta=meta, seconds=seconds)
    write_json_atomic(Path(args.out), results, indent=1)
    Path(args.table).write_text(markdown(results["summary"], meta))
    print(markdown(results["summary"], meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
