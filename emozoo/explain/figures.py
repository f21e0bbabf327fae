"""PNG figures of saliency maps (Figs. 5-6 shape) and emotion modification (Fig. 7 shape), matplotlib Agg."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def gradient_image(saliency) -> np.ndarray:
    """Signed gradient shown as in Springenberg et al.: ``0.5 + S / (2 max|S|)`` clipped to [0, 1]."""
    s = np.asarray(saliency, np.float64)
    m = np.abs(s).max()
    return np.clip(0.5 + s / (2.0 * m), 0, 1) if m > 0 else np.full_like(s, 0.5)


def heat(saliency) -> np.ndarray:
    """``|S|`` scaled to [0, 1] by its 99th percentile (robust to single hot pixels)."""
    s = np.abs(np.asarray(saliency, np.float64))
    q = np.percentile(s, 99) if s.size else 0
    return np.clip(s / q, 0, 1) if q > 0 else np.zeros_like(s)


def _outline(ax, masks):
    if not masks:
        return
    colours = {"eyes": "cyan", "mouth": "lime"}
    for name, m in masks.items():
        if m is not None and m.any():
            ax.contour(m.astype(float), levels=[0.5], colors=colours.get(name, "white"), linewidths=0.8)


def plot_saliency(face, maps: dict, path, *, title: str = "", masks: dict | None = None) -> Path:
    """One face with its saliency maps: face | per method: gradient image, |S| over the face."""
    plt = _plt()
    face = np.asarray(face, np.float64).squeeze()
    n = 1 + 2 * len(maps)
    fig, axes = plt.subplots(1, n, figsize=(2.2 * n, 2.6))
    axes[0].imshow(face, cmap="gray", vmin=0, vmax=255)
    axes[0].set_title("face", fontsize=8)
    _outline(axes[0], masks)
    i = 1
    for method, s in maps.items():
        axes[i].imshow(gradient_image(s), cmap="gray", vmin=0, vmax=1)
        axes[i].set_title(f"{method} gradient", fontsize=8)
        axes[i + 1].imshow(face, cmap="gray", vmin=0, vmax=255)
        axes[i + 1].imshow(heat(s), cmap="jet", alpha=0.5, vmin=0, vmax=1)
        axes[i + 1].set_title(f"{method} |S| on face", fontsize=8)
        _outline(axes[i + 1], masks)
        i += 2
    for ax in axes:
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return _save(fig, path)


def plot_modification(result: dict, classes, path, *, title: str = "") -> Path:
    """Fig. 7 shape: the face along the gradient-ascent path, the change, and p(target) per step."""
    plt = _plt()
    frames = result["frames"]
    if len(frames) > 6:
        keep = np.unique(np.linspace(0, len(frames) - 1, 6).round().astype(int))
        frames = [frames[j] for j in keep]
    probs = np.asarray(result["probabilities"])
    t = int(result["target"])
    n = len(frames) + 2
    fig, axes = plt.subplots(1, n, figsize=(2.1 * n, 2.6))
    for ax, (step, img) in zip(axes, frames):
        ax.imshow(np.asarray(img).squeeze(), cmap="gray", vmin=0, vmax=255)
        p = probs[min(step, len(probs) - 1), t]
        ax.set_title(f"step {step}\np({classes[t]})={p:.2f}", fontsize=8)
        ax.axis("off")
    diff = np.asarray(result["image"]).squeeze() - np.asarray(result["original"]).squeeze()
    m = max(float(np.abs(diff).max()), 1e-6)
    axes[-2].imshow(diff, cmap="seismic", vmin=-m, vmax=m)
    axes[-2].set_title(f"change (max {m:.0f})", fontsize=8)
    axes[-2].axis("off")
    for k, c in enumerate(classes):
        axes[-1].plot(probs[:, k], label=c, lw=2.0 if k == t else 0.8)
    axes[-1].set_xlabel("step", fontsize=8)
    axes[-1].set_ylim(0, 1)
    axes[-1].legend(fontsize=5, loc="best")
    axes[-1].tick_params(labelsize=6)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return _save(fig, path)


def plot_grid(rows: dict, path, *, title: str = "", kind: str = "gradient") -> Path:
    """Figs. 5-6 shape: one row per class, each cell a saliency map (``rows[class] = [maps]``);
    a cell ``("face", image)`` shows the face itself."""
    plt = _plt()
    names = list(rows)
    cols = max((len(v) for v in rows.values()), default=1) or 1
    fig, axes = plt.subplots(len(names), cols, figsize=(1.3 * cols, 1.4 * len(names)), squeeze=False)
    for r, name in enumerate(names):
        for c in range(cols):
            ax = axes[r, c]
            ax.axis("off")
            if c < len(rows[name]):
                s = rows[name][c]
                if isinstance(s, tuple) and s[0] == "face":
                    ax.imshow(np.asarray(s[1]).squeeze(), cmap="gray", vmin=0, vmax=255)
                elif kind == "gradient":
                    ax.imshow(gradient_image(s), cmap="gray", vmin=0, vmax=1)
                else:
                    ax.imshow(np.asarray(s).squeeze(), cmap="gray", vmin=0, vmax=255)
            if c == 0:
                ax.text(-2, 24, name, ha="right", va="center", fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return _save(fig, path)


def _save(fig, path) -> Path:
    path = Path(path)
    os.makedirs(path.parent, exist_ok=True)
    fig.savefig(path, dpi=110)
    _plt().close(fig)
    return path
