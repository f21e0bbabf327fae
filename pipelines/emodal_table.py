"""EMODal Table 1 (audio-only / visual-only / both / both without common loss) and Table 2
(confusion matrix) on real paired audio-visual data (RAVDESS AV features)::

    EMOZOO_DATA_DIR=../shared/data python pipelines/emodal_build_stores.py     # stores, once
    EMOZOO_DATA_DIR=../shared/data python pipelines/emodal_table.py            # all 8 experiments, 5 seeds
    python pipelines/emodal_table.py --report-only                            # tables/PNG from the JSON

Runs the registered experiments ``emodal/ravdess_av/{4class,8class}/{audio,visual,both,both_nocommon}``
(the groups ``emodal/table1/4class`` and ``emodal/table1/8class``: actor-independent 6-fold, 2
validation actors per fold, early stopping on validation UAR) through the one trainer,
:func:`emozoo.train.trainer.run_experiment`, into the run folders ``python -m emozoo.train
--experiment emodal/table1/4class --seeds 5 --override trainer.tensorboard=false`` uses
(``<runs-dir>/<experiment with / as _>``; either command resumes the other's finished folds), then
writes every per-seed/per-fold number to ``benchmarks/results/emodal_{4class,8class}.json``, the
markdown tables to ``benchmarks/results/emodal_table.md`` and the confusion matrices of the
``both`` models (summed over seeds, row-normalised %, Table 2 shape) to
``docs/methods/emodal_confusion_4class.png`` and ``docs/methods/emodal_confusion_8class.png``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RESULTS = REPO / "benchmarks" / "results" / "emodal_{classes}.json"   # one file per label set
TABLE_MD = REPO / "benchmarks" / "results" / "emodal_table.md"
DOCS = REPO / "docs" / "methods"
COMMAND = "python pipelines/emodal_table.py"
# Zhang et al. 2018, Table 1 (accuracy %, their TV/film data set, 4 classes, 80/20 split) and Table 2
PAPER_TABLE1 = {"audio": 52.20, "visual": 63.73, "both": 66.02, "both_nocommon": None}
PAPER_TABLE2 = {"classes": ["angry", "happy", "neutral", "sad"],
                "rows": [[69.74, 8.55, 9.21, 12.5], [9.09, 76.97, 9.70, 4.24], [15.13, 17.11, 55.26, 12.5],
                         [11.64, 9.59, 17.81, 60.96]]}


def _pm(s, k):
    return f"{100 * s[k]['mean']:.2f} +- {100 * s[k]['std']:.2f}"


def confusion_png(cm, classes, path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    cm = np.asarray(cm, np.float64)
    pct = 100 * cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(classes), 1.0 + 0.8 * len(classes)), dpi=100)
    ax.imshow(pct, cmap="Blues", vmin=0, vmax=100)
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, f"{pct[i, j]:.1f}", ha="center", va="center", fontsize=8,
                    color="white" if pct[i, j] > 50 else "black")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("prediction (%)")
    ax.set_ylabel("ground truth")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


TRAIN_KEYS = ("loss", "common_loss", "hgr_score", "classify_loss", "audio_specific_loss", "visual_specific_loss")


def table_entry(model_dir: Path) -> dict:
    """One experiment's entry of the results JSON, from its trainer run folder: the summary over seeds
    (pooled test of each seed), per seed the pooled report and per fold the selected epoch, epochs
    run, test actors, test metrics and the training losses of the selected epoch; the confusion
    matrices summed over seeds (Table 2)."""
    import numpy as np

    from emozoo.evaluation.metrics import SCALARS
    from emozoo.train.trainer import load_run

    run = load_run(model_dir)
    per_seed = []
    for s in run["seeds"]:
        rows = []
        for f in s["folds"]:
            epochs = json.loads((model_dir / f"seed_{s['seed']}" / f["fold"].replace("/", "_") / "selection.json")
                                .read_text())["epochs"] if f.get("best_epoch") is not None else []
            best = f["best_epoch"]
            chosen = next((e for e in epochs if e.get("epoch") == best), {})
            rows.append({"fold": f["fold"], "best_epoch": best + 1, "epochs_run": f["epochs_run"],
                         **{k: f["test"][k] for k in SCALARS},
                         "final_train": {k: round(float(chosen[k]), 4) for k in TRAIN_KEYS if k in chosen}})
        per_seed.append({"seed": s["seed"], "test": s["test"], "folds": rows,
                         "seconds": round(sum(f.get("seconds", 0.0) for f in s["folds"]), 1)})
    summary = run["summary"]
    return {"experiment": summary["experiment"], "classes": summary["classes"], "folds": summary["folds"],
            "run_dir": os.path.relpath(model_dir, REPO), "per_seed": per_seed, "summary": summary["test"],
            "confusion_sum": np.sum([p["test"]["confusion_matrix"] for p in per_seed], axis=0).tolist()}


def report(res: dict) -> str:
    from emozoo.models.emodal import emodal_experiments as E

    lines = [f"Command: `{COMMAND}` (stores: `python pipelines/emodal_build_stores.py`). Data: RAVDESS audio-visual "
             "clips, per-clip features of `ravdess_av_features` (audio: 259-dim MFCC vector; visual: 35 OpenFace "
             "action units; dense visual branch), 24 actors, actor-independent 6-fold CV (4 test actors per fold, "
             "2 validation actors for early stopping on UAR), predictions pooled over folds per seed, "
             f"{res.get('config', {}).get('seeds', '?')} seeds (mean +- std over seeds), CPU preset "
             f"({res.get('config', {}).get('epochs', '?')} epochs max, patience "
             f"{res.get('config', {}).get('patience', '?')}, batch {res.get('config', {}).get('batch_size', '?')}, "
             "Adam 1e-3). The paper's numbers are on its own Chinese TV/film data set (11 606 clips, face images + "
             "68 pyAudioAnalysis features, 80/20 split, accuracy only): different data, not comparable one to one.",
             ""]
    for classes in E.STORES:
        rows = [(v, res["experiments"].get(E.experiment_name(classes, v))) for v in E.VARIANTS]
        rows = [(v, r) for v, r in rows if r]
        if not rows:
            continue
        lines += [f"**{classes}** ({len(rows[0][1]['classes'])} classes: {', '.join(rows[0][1]['classes'])})", "",
                  "| model | ACC (WA) % | UAR % | macro-F1 % | seeds | paper ACC % (4 classes, their data) |",
                  "|---|---|---|---|---|---|"]
        for v, r in rows:
            s = r["summary"]
            paper = PAPER_TABLE1[v] if classes == "4class" and PAPER_TABLE1[v] is not None else "-"
            lines.append(f"| {E.VARIANT_TITLES[v]} | {_pm(s, 'accuracy')} | {_pm(s, 'uar')} | {_pm(s, 'macro_f1')} "
                         f"| {s['num_runs']} | {paper} |")
        lines.append("")
    both = res["experiments"].get(E.experiment_name("4class", "both"))
    if both:
        import numpy as np
        cm = np.asarray(both["confusion_sum"], np.float64)
        pct = 100 * cm / np.maximum(cm.sum(1, keepdims=True), 1)
        order = [both["classes"].index(c) for c in PAPER_TABLE2["classes"]]
        lines += ["Table 2 shape: confusion matrix of EMODal (audio+visual, 4 classes), rows ground truth, "
                  "row-normalised % (summed over seeds and folds); the paper's value in brackets "
                  "(`docs/methods/emodal_confusion_4class.png`, 8 classes: `docs/methods/emodal_confusion_8class.png`).",
                  "", "| ground truth | " + " | ".join(PAPER_TABLE2["classes"]) + " |",
                  "|---|" + "---|" * len(order)]
        for pi, i in enumerate(order):
            lines.append(f"| {PAPER_TABLE2['classes'][pi]} | " + " | ".join(
                f"{pct[i, j]:.1f} ({PAPER_TABLE2['rows'][pi][pj]:.1f})" for pj, j in enumerate(order)) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--classes", nargs="+", default=["4class", "8class"])
    ap.add_argument("--variants", nargs="+", default=["audio", "visual", "both", "both_nocommon"])
    ap.add_argument("--seeds", type=int, default=None, help="default: the experiments' trainer.seeds (5)")
    ap.add_argument("--override", nargs="+", action="extend", default=[], metavar="KEY=VALUE")
    ap.add_argument("--root", default=str(REPO))
    ap.add_argument("--out", default=str(RESULTS), help="results JSON, {classes} filled in")
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--runs-dir", default=str(REPO / "runs"),
                    help="the trainer's run folders (<runs-dir>/<experiment with / as _>; finished folds are kept)")
    args = ap.parse_args(argv)

    from emozoo.experiments import apply_overrides, get_experiment
    from emozoo.models import discover
    from emozoo.models.emodal import emodal_experiments as E
    from emozoo.train.trainer import run_experiment

    discover()
    def load(classes):
        p = Path(args.out.format(classes=classes))
        return json.loads(p.read_text()) if p.exists() else {"experiments": {}}

    def load_all(classes):
        """The results file of ``classes`` plus parts run in parallel into ``emodal_<classes>_<part>.json``."""
        res = load(classes)
        main_path = Path(args.out.format(classes=classes))
        for part in sorted(main_path.parent.glob(f"{main_path.stem}_*.json")):
            for name, r in json.loads(part.read_text())["experiments"].items():
                res["experiments"].setdefault(name, r)
        return res

    if not args.report_only:
        for classes in args.classes:
            out = Path(args.out.format(classes=classes))
            res = load(classes)
            for v in args.variants:
                cfg = apply_overrides(get_experiment(E.experiment_name(classes, v)),
                                      ["trainer.tensorboard=false", *args.override])
                seeds = args.seeds or cfg.trainer.seeds
                t0 = time.time()
                model_dir = Path(args.runs_dir) / cfg.name.replace("/", "_")
                print(f"[emodal] {cfg.name}: {seeds} seeds -> {model_dir}", flush=True)
                run_experiment(cfg, model_dir, seeds=seeds, data_root=args.root, log=lambda *a: None)
                r = table_entry(model_dir)
                r["config"] = cfg.to_json()
                r["seconds"] = round(time.time() - t0, 1)
                res["experiments"][cfg.name] = r
                tr = cfg.trainer
                res["config"] = {"seeds": seeds, "epochs": tr.epochs, "patience": tr.patience,
                                 "batch_size": tr.batch_size, "min_epochs": tr.min_epochs}
                res["command"] = COMMAND
                out.parent.mkdir(parents=True, exist_ok=True)
                tmp = out.with_suffix(".tmp")
                tmp.write_text(json.dumps(res, indent=1))
                os.replace(tmp, out)
                s = r["summary"]
                print(f"[emodal] {cfg.name}: ACC {_pm(s, 'accuracy')} UAR {_pm(s, 'uar')} [{r['seconds']}s]", flush=True)
    res = {"experiments": {}}
    for classes in E.STORES:
        part = load_all(classes)
        res["experiments"].update(part["experiments"])
        res.setdefault("config", part.get("config", {}))
    for classes in E.STORES:
        r = res["experiments"].get(E.experiment_name(classes, "both"))
        if r:
            s = r["summary"]
            confusion_png(r["confusion_sum"], r["classes"], DOCS / f"emodal_confusion_{classes}.png",
                          f"EMODal audio+visual, RAVDESS AV {classes}\nACC {_pm(s, 'accuracy')} "
                          f"({len(r['per_seed'])} seeds, actor 6-fold)")
    text = report(res)
    TABLE_MD.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
