"""Tables, figures and TensorBoard logs of the face CNN runs (issue 9; Yousefi et al. Tables 2-4, Fig. 4).

    python -m emozoo.train --experiment face_cnn/tables/cpu      # or: python pipelines/face_cnn_train.py
    python pipelines/face_cnn_table.py --preset cpu --runs runs

Reads the trainer's run folders of ``face_cnn/culture/{jaffe,ckplus}/<preset>`` and
``face_cnn/fer2013/<preset>`` (``<runs>/<experiment with / as _>``, read back with
:func:`emozoo.train.trainer.load_run`: one fold per seed, seed k = allocation k) and writes:

* ``benchmarks/results/face_cnn_results.json`` (every number) and ``face_cnn_results.md`` (the
  markdown of the ``face_cnn`` section of benchmarks/RESULTS.md);
* ``docs/figures/face_cnn/fer2013_error_curves.png`` (Fig. 4 shape: training and validation error
  per step, mean over seeds with a +-1 std band) and ``confusion_matrices.png``;
* TensorBoard event files ``<FER2013 run>/tensorboard/seed<k>/{train,validation}`` (per-epoch error and
  loss of every FER2013 seed) and ``<FER2013 run>/tensorboard/mean_over_seeds/...``.

The plain table of the same runs (accuracy / UAR / macro-F1 rows, cross-culture rows) is
``python -m emozoo.report face_cnn/tables/cpu``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

CULTURE = {"jaffe": "Japanese (JAFFE)", "ckplus": "American (CK+48)"}


def _folds(run_dir: Path) -> list[dict]:
    """Every seed's fold result of a finished face CNN run (seed order); [] when the run is missing."""
    from emozoo.train.trainer import load_run

    if not (Path(run_dir) / "summary.json").exists():
        return []
    return [f for s in load_run(run_dir)["seeds"] for f in s["folds"]]


def _ms(values) -> str:
    v = np.asarray([x for x in values if x is not None], np.float64)
    if v.size == 0:
        return "-"
    return f"{v.mean():.3f} +- {v.std(ddof=1) if v.size > 1 else 0.0:.3f}"


def confusion_table(mean_cm, classes, title) -> list[str]:
    """Tables 2-3 shape: rows = true class, columns = predicted, counts averaged over splits, totals."""
    cm = np.asarray(mean_cm)
    lines = [f"**{title}**", "", "| true \\ predicted | " + " | ".join(classes) + " | total |",
             "|---" * (len(classes) + 2) + "|"]
    for i, c in enumerate(classes):
        lines.append(f"| {c} | " + " | ".join(f"{v:.1f}" for v in cm[i]) + f" | {cm[i].sum():.1f} |")
    lines.append("| total | " + " | ".join(f"{v:.1f}" for v in cm.sum(0)) + f" | {cm.sum():.1f} |")
    return lines + [""]


def culture_summary(run_dirs: dict) -> dict:
    """``{corpus: entry}`` of the per-culture runs ``{corpus: run folder}`` (Tables 2-4 numbers)."""
    from emozoo.models.face_cnn.face_cnn_task import misclassification_rates

    out = {}
    for corpus, run_dir in run_dirs.items():
        recs = _folds(run_dir)
        if not recs:
            continue
        classes = recs[0]["classes"]
        cms = np.stack([np.asarray(r["test"]["confusion_matrix"], np.float64) for r in recs])
        mean_cm = cms.mean(0)
        entry = {"run": str(run_dir), "classes": classes, "splits": len(recs), "seeds": [r["seed"] for r in recs],
                 "mean_confusion": mean_cm.tolist(),
                 "misclassification_of_mean_confusion": misclassification_rates(mean_cm),
                 "misclassification_per_split": [r["test"]["misclassification"] for r in recs],
                 "accuracy": [r["test"]["accuracy"] for r in recs],
                 "uar": [r["test"]["uar"] for r in recs],
                 "macro_f1": [r["test"]["macro_f1"] for r in recs],
                 "test_sizes": [r["sizes"]["test"] for r in recs], "train_sizes": [r["sizes"]["train"] for r in recs],
                 "best_epochs": [r["best_epoch"] for r in recs],
                 "train_config": recs[0]["train_config"], "model_config": recs[0]["model_config"], "cross": {}}
        for other in sorted(recs[0].get("extra_tests", {})):
            ocms = np.stack([np.asarray(r["extra_tests"][other]["confusion_matrix"], np.float64) for r in recs])
            entry["cross"][other] = {"accuracy": [r["extra_tests"][other]["accuracy"] for r in recs],
                                     "uar": [r["extra_tests"][other]["uar"] for r in recs],
                                     "mean_confusion": ocms.mean(0).tolist(),
                                     "misclassification_of_mean_confusion": misclassification_rates(ocms.mean(0))}
        out[corpus] = entry
    return out


def fer_summary(run_dir: Path) -> dict:
    """The FER2013 run's numbers over seeds (PrivateTest = test, PublicTest = the fold's ``valid``)."""
    recs = _folds(run_dir)
    if not recs:
        return {}
    return {"run": str(run_dir), "seeds": [r["seed"] for r in recs], "classes": recs[0]["classes"],
            "private_test_accuracy": [r["test"]["accuracy"] for r in recs],
            "private_test_uar": [r["test"]["uar"] for r in recs],
            "public_test_accuracy": [r["valid"]["accuracy"] for r in recs],
            "best_epochs": [r["best_epoch"] for r in recs], "epochs": len(recs[0]["history"]["train_error"]),
            "epoch_seconds_median": float(np.median(np.concatenate([r["epoch_seconds"][1:] or r["epoch_seconds"] for r in recs]))),
            "train_seconds": [r["train_seconds"] for r in recs],
            "histories": [r["history"] for r in recs],
            "step_curves": [r.get("step_curve") or [] for r in recs],
            "train_config": recs[0]["train_config"], "model_config": recs[0]["model_config"]}


def plot_curves(fer: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    curves = fer.get("step_curves") or []
    n = min((len(c) for c in curves), default=0)
    per_step = n > 1
    for key, label, colour in (("train_error", "training error", "tab:blue"),
                               ("val_error", "validation error (PublicTest)", "tab:orange")):
        if per_step:          # Fig. 4: error against training steps (mini-batches)
            h = np.asarray([[pt[key] for pt in c[:n]] for c in curves])
            x = np.asarray([pt["step"] for pt in curves[0][:n]])
        else:
            h = np.asarray([r[key] for r in fer["histories"]])
            x = np.arange(1, h.shape[1] + 1)
        m, s = h.mean(0), h.std(0)
        ax.plot(x, m, "o-", ms=2.5, color=colour, label=label)
        ax.fill_between(x, m - s, m + s, color=colour, alpha=0.25)
    ax.set_xlabel("training step (mini-batch of 64)" if per_step else "epoch")
    ax.set_ylabel("error (1 - accuracy)")
    ax.set_title(f"Face CNN on FER2013: mean +- std over {len(fer['histories'])} seeds")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_confusions(cult: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = []
    for corpus, e in cult.items():
        panels.append((f"{CULTURE.get(corpus, corpus)} test", e["mean_confusion"], e["classes"]))
        for other, c in e["cross"].items():
            panels.append((f"train {corpus} -> test {other}", c["mean_confusion"], e["classes"]))
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.6), squeeze=False)
    for ax, (title, cm, classes) in zip(axes[0], panels):
        cm = np.asarray(cm)
        rows = cm / np.maximum(cm.sum(1, keepdims=True), 1e-9)
        ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
        for i in range(len(classes)):
            for j in range(len(classes)):
                ax.text(j, i, f"{cm[i, j]:.1f}", ha="center", va="center", fontsize=6,
                        color="white" if rows[i, j] > 0.6 else "black")
        ax.set_xticks(range(len(classes)), classes, rotation=60, fontsize=7)
        ax.set_yticks(range(len(classes)), classes, fontsize=7)
        ax.set_title(title, fontsize=8)
        ax.set_xlabel("predicted", fontsize=7)
    fig.suptitle("Test confusion matrices averaged over the subject-disjoint splits (counts; colour = row share)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_tensorboard(fer: dict, logdir: Path) -> None:
    import tensorflow as tf

    def write(folder, series):
        w = tf.summary.create_file_writer(str(folder))
        with w.as_default():
            for name, values in series.items():
                for step, v in enumerate(values, start=1):
                    tf.summary.scalar(name, float(v), step=step)
        w.flush()

    for seed, h in zip(fer["seeds"], fer["histories"]):
        write(logdir / f"seed{seed}" / "train", {"epoch_error": h["train_error"], "epoch_loss": h["train_loss"]})
        write(logdir / f"seed{seed}" / "validation", {"epoch_error": h["val_error"], "epoch_loss": h["val_loss"]})
    for seed, c in zip(fer["seeds"], fer.get("step_curves") or []):
        for part, key in (("train", "train_error"), ("validation", "val_error")):
            w = tf.summary.create_file_writer(str(logdir / f"seed{seed}" / part))
            with w.as_default():
                for pt in c:
                    tf.summary.scalar("step_error", float(pt[key]), step=int(pt["step"]))
            w.flush()
    for part, key in (("train", "train_error"), ("validation", "val_error")):
        arr = np.asarray([h[key] for h in fer["histories"]])
        write(logdir / "mean_over_seeds" / part, {"epoch_error_mean": arr.mean(0), "epoch_error_std": arr.std(0)})


def markdown(cult: dict, fer: dict, runs: str) -> str:
    L = []
    if cult:
        first = next(iter(cult.values()))
        mc, tc = first["model_config"], first["train_config"]
        L += [f"Per-culture training and testing (Yousefi et al. Section 4.1.1) on the 6 emotions JAFFE and CK+48 share, "
              f"{first['splits']} random subject-disjoint train/validation/test allocations (60/20/20 % of the posers, trainer seed k = allocation k), "
              f"CNN preset `{tc['arch']}` (Khorrami layout; filters {mc['filters']}, 5x5, FC {mc['dense_units']}), SGD momentum {tc['momentum']}, "
              f"lr {tc['learning_rate']} x r^epoch, " + ", ".join(f"{e['train_config']['epochs']} epochs with r = {e['train_config']['decay_rate']} ({c})" for c, e in cult.items()) + f", batch {tc['batch_size']}, "
              f"flip + rotation (+-{tc['rotation_degrees']:g} deg) augmentation; the epoch with the best validation accuracy is tested.",
              "", "| train on | test on | accuracy | UAR | macro-F1 |", "|---|---|---|---|---|"]
        for corpus, e in cult.items():
            L.append(f"| {CULTURE.get(corpus, corpus)} | same culture, held-out posers | {_ms(e['accuracy'])} | {_ms(e['uar'])} | {_ms(e['macro_f1'])} |")
            for other, c in e["cross"].items():
                L.append(f"| {CULTURE.get(corpus, corpus)} | {CULTURE.get(other, other)}, all images (cross-culture) | {_ms(c['accuracy'])} | {_ms(c['uar'])} | - |")
        L += ["", f"Test confusion matrices averaged over the {first['splits']} splits (Tables 2-3 shape; counts of test images, rows = true class):", ""]
        for corpus, e in cult.items():
            L += confusion_table(e["mean_confusion"], e["classes"], f"{CULTURE.get(corpus, corpus)}, tested on its own held-out posers")
        L += ["Misclassified test samples per class, % (Table 4 shape; from the split-averaged confusion matrices):", "",
              "| % misclassified | " + " | ".join(first["classes"]) + " | total |", "|---" * (len(first["classes"]) + 2) + "|"]
        for corpus, e in cult.items():
            m = e["misclassification_of_mean_confusion"]
            L.append(f"| {CULTURE.get(corpus, corpus)} | " + " | ".join(f"{v:.1f}" for v in m["per_class"]) + f" | {m['total']:.1f} |")
        for corpus, e in cult.items():
            for other, c in e["cross"].items():
                m = c["misclassification_of_mean_confusion"]
                L.append(f"| train {corpus} -> test {other} | " + " | ".join(f"{v:.1f}" for v in m["per_class"]) + f" | {m['total']:.1f} |")
        L += ["", "Figure: `docs/figures/face_cnn/confusion_matrices.png`.", ""]
    if fer:
        L += [f"FER2013 (official splits: Training trains, PublicTest selects the epoch, PrivateTest tested once), "
              f"the paper's TFD benchmark check, {len(fer['seeds'])} seeds, {fer['epochs']} epochs, batch {fer['train_config']['batch_size']}:",
              "", "| PrivateTest accuracy | PrivateTest UAR | PublicTest accuracy | selected epochs |", "|---|---|---|---|",
              f"| {_ms(fer['private_test_accuracy'])} | {_ms(fer['private_test_uar'])} | {_ms(fer['public_test_accuracy'])} | "
              f"{', '.join(str(b + 1) for b in fer['best_epochs'])} |", "",
              "Training / validation error curves (Fig. 4 shape: every 100 steps, the training error of the last 100 "
              "mini-batches and the error on a fixed random 1000 of the PublicTest faces; mean +- std band over seeds): "
              "`docs/figures/face_cnn/fer2013_error_curves.png`; TensorBoard: "
              f"`tensorboard --logdir {runs}/tensorboard`.", ""]
    return "\n".join(L)


def run_dirs(runs, preset: str) -> dict:
    """``{experiment: run folder}`` of the table's three experiments under ``runs``."""
    from emozoo.models.face_cnn.face_cnn_zoo import run_folder

    names = [f"face_cnn/culture/{c}/{preset}" for c in CULTURE] + [f"face_cnn/fer2013/{preset}"]
    return {n: run_folder(runs, n) for n in names}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", default="runs", help="folder of the trainer's run folders")
    p.add_argument("--preset", default="cpu")
    p.add_argument("--figures", default=str(REPO / "docs" / "figures" / "face_cnn"))
    p.add_argument("--results", default=str(REPO / "benchmarks" / "results"))
    p.add_argument("--no-tensorboard", action="store_true")
    a = p.parse_args(argv)
    dirs = run_dirs(a.runs, a.preset)
    fer_name = f"face_cnn/fer2013/{a.preset}"
    cult = culture_summary({c: dirs[f"face_cnn/culture/{c}/{a.preset}"] for c in CULTURE})
    fer = fer_summary(dirs[fer_name])
    if not cult and not fer:
        raise SystemExit(f"{a.runs} holds no finished face_cnn run of preset {a.preset}; run "
                         f"python -m emozoo.train --experiment face_cnn/tables/{a.preset} first")
    figs = Path(a.figures)
    figs.mkdir(parents=True, exist_ok=True)
    if cult:
        plot_confusions(cult, figs / "confusion_matrices.png")
    if fer:
        plot_curves(fer, figs / "fer2013_error_curves.png")
        if not a.no_tensorboard:
            write_tensorboard(fer, dirs[fer_name] / "tensorboard")
    res = Path(a.results)
    res.mkdir(parents=True, exist_ok=True)
    cfg = {name: {"command": f"python -m emozoo.train --experiment {name} --model-dir {d}", "run_dir": str(d),
                  "config": json.loads((d / "config.json").read_text()),
                  "placement": json.loads((d / "run.json").read_text()) if (d / "run.json").exists() else None}
           for name, d in dirs.items() if (d / "config.json").exists()}
    (res / "face_cnn_results.json").write_text(json.dumps({"culture": cult, "fer2013": fer, "run_config": cfg}, indent=1))
    md = markdown(cult, fer, str(dirs[fer_name]))
    (res / "face_cnn_results.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
