"""EMODal's tables in the paper's shape, from the one trainer's run folders (the groups' ``layout``).

:func:`table1` lays out the group ``emodal/table1/<classes>`` (Zhang et al. 2018, Table 1: audio-only /
visual-only / both / both without the common loss, with the paper's accuracy beside ours) and, for 4 classes,
Table 2 (the confusion matrix of the audio+visual model, the paper's value in brackets).
``python -m emozoo.report emodal/table1/4class`` prints it; ``pipelines/emodal_table.py`` writes it to
``benchmarks/results/emodal_table.md`` / ``emodal_<classes>.json`` and draws the confusion PNGs
(:func:`confusion_png`). Only finished runs are read; a missing experiment is left out, never guessed.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from emozoo.utils import shown_path

# Zhang et al. 2018, Table 1 (accuracy %, their TV/film data set, 4 classes, 80/20 split) and Table 2
PAPER_TABLE1 = {"audio": 52.20, "visual": 63.73, "both": 66.02, "both_nocommon": None}
PAPER_TABLE2 = {"classes": ["angry", "happy", "neutral", "sad"],
                "rows": [[69.74, 8.55, 9.21, 12.5], [9.09, 76.97, 9.70, 4.24], [15.13, 17.11, 55.26, 12.5],
                         [11.64, 9.59, 17.81, 60.96]]}
#: training losses of the selected epoch kept per fold in the JSON
TRAIN_KEYS = ("loss", "common_loss", "hgr_score", "classify_loss", "audio_specific_loss", "visual_specific_loss")


def _pm(s, k):
    return f"{100 * s[k]['mean']:.2f} +- {100 * s[k]['std']:.2f}"


def table_entry(model_dir: Path) -> dict:
    """One experiment's entry of the results JSON, from its trainer run folder: the summary over seeds
    (pooled test of each seed), per seed the pooled report and per fold the selected epoch, epochs
    run, test metrics and the training losses of the selected epoch; the confusion matrices summed over
    seeds (Table 2)."""
    import numpy as np

    from emozoo.evaluation.metrics import SCALARS
    from emozoo.train.trainer import load_run

    model_dir = Path(model_dir)
    run = load_run(model_dir)
    per_seed = []
    for s in run["seeds"]:
        rows = []
        for f in s["folds"]:
            sel = model_dir / f"seed_{s['seed']}" / f["fold"].replace("/", "_") / "selection.json"
            epochs = json.loads(sel.read_text())["epochs"] if f.get("best_epoch") is not None and sel.exists() else []
            best = f["best_epoch"]
            chosen = next((e for e in epochs if e.get("epoch") == best), {})
            rows.append({"fold": f["fold"], "best_epoch": best + 1, "epochs_run": f["epochs_run"],
                         **{k: f["test"][k] for k in SCALARS},
                         "final_train": {k: round(float(chosen[k]), 4) for k in TRAIN_KEYS if k in chosen}})
        per_seed.append({"seed": s["seed"], "test": s["test"], "folds": rows,
                         "seconds": round(sum(f.get("seconds", 0.0) for f in s["folds"]), 1)})
    summary = run["summary"]
    cfg_path = model_dir / "config.json"
    return {"experiment": summary["experiment"], "classes": summary["classes"], "folds": summary["folds"],
            "run_dir": shown_path(model_dir), "per_seed": per_seed, "summary": summary["test"],
            "confusion_sum": np.sum([p["test"]["confusion_matrix"] for p in per_seed], axis=0).tolist(),
            **({"config": json.loads(cfg_path.read_text())} if cfg_path.exists() else {}),
            "seconds": round(sum(p["seconds"] for p in per_seed), 1)}


def table1(group: str, runs_root: str | os.PathLike = "runs") -> dict:
    """``{"markdown", "data"}`` of ``emodal/table1/<classes>``: ``data`` = ``{"experiments": {name: entry}, "config"}``
    (the shape of ``benchmarks/results/emodal_<classes>.json``)."""
    from emozoo.models.emodal import emodal_experiments as E
    from emozoo.report import run_dir

    classes = group.rstrip("/").split("/")[-1]
    data = {"experiments": {}, "config": {}}
    for v in E.VARIANTS:
        folder = run_dir(E.experiment_name(classes, v), runs_root)
        if (folder / "summary.json").exists():
            entry = table_entry(folder)
            data["experiments"][entry["experiment"]] = entry
            tr = entry.get("config", {}).get("trainer", {})
            if tr and not data["config"]:
                data["config"] = {"seeds": entry["summary"]["num_runs"], "epochs": tr["epochs"],
                                  "patience": tr["patience"], "batch_size": tr["batch_size"],
                                  "min_epochs": tr["min_epochs"]}
    if not any(data["experiments"].get(E.experiment_name(classes, v)) for v in E.VARIANTS):
        return {"markdown": f"No finished runs of {group} under {runs_root}: run `python -m emozoo.train "
                            f"--experiment {group} --seeds 5`.\n", "data": data}
    return {"markdown": "\n".join(table1_lines(classes, data) + table2_lines(classes, data)), "data": data}


def table1_lines(classes: str, data: dict) -> list[str]:
    """Table 1 rows of one label set (Markdown lines), the paper's accuracy beside ours for 4 classes."""
    from emozoo.models.emodal import emodal_experiments as E

    rows = [(v, data["experiments"].get(E.experiment_name(classes, v))) for v in E.VARIANTS]
    rows = [(v, r) for v, r in rows if r]
    if not rows:
        return []
    lines = [f"**{classes}** ({len(rows[0][1]['classes'])} classes: {', '.join(rows[0][1]['classes'])})", "",
             "| model | ACC (WA) % | UAR % | macro-F1 % | seeds | paper ACC % (4 classes, their data) |",
             "|---|---|---|---|---|---|"]
    for v, r in rows:
        s = r["summary"]
        paper = PAPER_TABLE1[v] if classes == "4class" and PAPER_TABLE1[v] is not None else "-"
        lines.append(f"| {E.VARIANT_TITLES[v]} | {_pm(s, 'accuracy')} | {_pm(s, 'uar')} | {_pm(s, 'macro_f1')} "
                     f"| {s['num_runs']} | {paper} |")
    return lines + [""]


def table2_lines(classes: str, data: dict) -> list[str]:
    """Table 2 (4 classes only): the audio+visual model's confusion matrix, row-normalised %, summed over seeds
    and folds, the paper's value in brackets."""
    import numpy as np

    from emozoo.models.emodal import emodal_experiments as E

    both = data["experiments"].get(E.experiment_name(classes, "both"))
    if not both or classes != "4class":
        return []
    cm = np.asarray(both["confusion_sum"], np.float64)
    pct = 100 * cm / np.maximum(cm.sum(1, keepdims=True), 1)
    order = [both["classes"].index(c) for c in PAPER_TABLE2["classes"]]
    lines = ["Table 2 shape: confusion matrix of EMODal (audio+visual, 4 classes), rows ground truth, "
             "row-normalised % (summed over seeds and folds); the paper's value in brackets "
             "(`docs/methods/emodal_confusion_4class.png`, 8 classes: `docs/methods/emodal_confusion_8class.png`).",
             "", "| ground truth | " + " | ".join(PAPER_TABLE2["classes"]) + " |",
             "|---|" + "---|" * len(order)]
    for pi, i in enumerate(order):
        lines.append(f"| {PAPER_TABLE2['classes'][pi]} | " + " | ".join(
            f"{pct[i, j]:.1f} ({PAPER_TABLE2['rows'][pi][pj]:.1f})" for pj, j in enumerate(order)) + " |")
    return lines + [""]


def confusion_png(cm, classes, path: Path, title: str) -> None:
    """Row-normalised confusion matrix (%) as a PNG (Table 2 drawn)."""
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
