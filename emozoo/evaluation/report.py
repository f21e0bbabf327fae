"""Write a classification report as JSON, Markdown and a confusion-matrix PNG."""
from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

LABELS = {"accuracy": "ACC (WA)", "uar": "UAR", "macro_f1": "macro-F1",
          "macro_f1_uar_map": "macro-F1 (seed 003: UAR/MAP)", "weighted_f1": "weighted F1"}


def confusion_figure(cm: Sequence[Sequence[int]], classes: Sequence[str], title: str = ""):
    """A matplotlib figure of the confusion matrix (row-normalised colours, counts written)."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    cm = np.asarray(cm, np.float64)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(classes), 1.0 + 0.9 * len(classes)), dpi=100)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center",
                    color="white" if norm[i, j] > 0.5 else "black", fontsize=9)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def confusion_png(cm, classes, title: str = "") -> bytes:
    import matplotlib.pyplot as plt

    fig = confusion_figure(cm, classes, title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def to_markdown(report: Mapping, title: str = "") -> str:
    lines = [f"# {title}" if title else "# Evaluation", ""]
    lines.append(f"{report['num_examples']} examples, classes: {', '.join(report['classes'])}")
    lines += ["", "| metric | value |", "|---|---|"]
    for k, lab in LABELS.items():
        lines.append(f"| {lab} | {100 * report[k]:.2f} |")
    lines += ["", "| class | recall | precision | F1 | support |", "|---|---|---|---|---|"]
    fmt = lambda v: "-" if v is None else f"{100 * v:.2f}"  # noqa: E731
    for k, v in report["per_class"].items():
        lines.append(f"| {k} | {fmt(v['recall'])} | {fmt(v['precision'])} | {fmt(v['f1'])} | {v['support']} |")
    lines += ["", "Confusion matrix (rows true, columns predicted):", "",
              "| | " + " | ".join(report["classes"]) + " |", "|---" * (len(report["classes"]) + 1) + "|"]
    for name, row in zip(report["classes"], report["confusion_matrix"]):
        lines.append(f"| {name} | " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_report(report: Mapping, out_dir: str | os.PathLike, *, stem: str = "report", title: str = "") -> dict:
    """Write ``<stem>.json``, ``<stem>.md`` and ``<stem>_confusion.png`` under ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / f"{stem}.json", "markdown": out / f"{stem}.md", "png": out / f"{stem}_confusion.png"}
    _atomic_write(paths["json"], json.dumps(report, indent=2).encode())
    _atomic_write(paths["markdown"], to_markdown(report, title).encode())
    _atomic_write(paths["png"], confusion_png(report["confusion_matrix"], report["classes"], title))
    return paths


def summary_markdown(summary: Mapping, title: str = "") -> str:
    lines = [f"# {title}" if title else "# Summary", "", f"{summary['num_runs']} run(s) (seeds); mean +- std (ddof=1), %",
             "", "| metric | mean | std |", "|---|---|---|"]
    for k, lab in LABELS.items():
        if k in summary:
            lines.append(f"| {lab} | {100 * summary[k]['mean']:.2f} | {100 * summary[k]['std']:.2f} |")
    return "\n".join(lines) + "\n"
