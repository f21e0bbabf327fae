"""A readable validation report: ``report.md`` and ``report.png``.

The Markdown lists the anomalies in plain words, the label distribution per
split and culture, a per-feature statistics table, and the drift tables. The
PNG shows what is quicker seen than read: label distribution per slice,
missing/NaN counts per feature, and the per-dimension drift of vector features.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from tensorflow_metadata.proto.v0 import statistics_pb2

from emozoo.validate.statistics import ALL_EXAMPLES, common_stats, custom_stat, feature_name, value_counts


def _fmt(x) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        if not math.isfinite(x):
            return str(x)
        return f"{x:.4g}"
    return str(x)


def label_table(stats, feature: str = "emotion") -> tuple[list[str], list[str], np.ndarray]:
    """(dataset names, labels, counts[dataset, label]) of ``feature`` in every dataset that has it."""
    names, rows = [], []
    for ds in stats.datasets:
        for fs in ds.features:
            if feature_name(fs) == feature:
                names.append(ds.name)
                rows.append(value_counts(fs))
    labels = sorted({k for r in rows for k in r}, key=lambda v: (v == "", v))
    counts = np.array([[r.get(lab, 0) for lab in labels] for r in rows], dtype=float).reshape(len(rows), len(labels))
    return names, labels, counts


def feature_rows(ds: statistics_pb2.DatasetFeatureStatistics) -> list[dict]:
    rows = []
    for fs in ds.features:
        cs = common_stats(fs)
        row = {"feature": feature_name(fs), "type": statistics_pb2.FeatureNameStatistics.Type.Name(fs.type),
               "present": cs.num_non_missing, "missing": cs.num_missing,
               "values/ex": (f"{cs.min_num_values}" if cs.min_num_values == cs.max_num_values
                             else f"{cs.min_num_values}-{cs.max_num_values}")}
        if fs.WhichOneof("stats") == "num_stats":
            ns = fs.num_stats
            row.update(nan=int(custom_stat(fs, "num_nan", 0) or 0), inf=int(custom_stat(fs, "num_inf", 0) or 0),
                       mean=ns.mean, std=ns.std_dev, min=ns.min, max=ns.max)
        else:
            row.update(unique=fs.string_stats.unique)
        rows.append(row)
    return rows


def markdown(result) -> str:
    stats = result.statistics
    ds = stats.datasets[0]
    lines = [f"# Validation report: {result.name}", "",
             f"{ds.num_examples} examples, checked against {result.baseline_source}.", ""]
    lines += ["## Anomalies", ""]
    if result.ok:
        lines += ["None.", ""]
    else:
        lines += [f"- **{f.feature}** `{f.type}`: {f.description}"
                  + (f" Examples: {', '.join(f.examples)}." if f.examples else "") for f in result.findings]
        lines.append("")
    names, labels, counts = label_table(stats)
    if names:
        lines += ["## Label distribution (`emotion`)", "",
                  "| dataset | " + " | ".join(lab or "(unlabelled)" for lab in labels) + " | total |",
                  "|---" * (len(labels) + 2) + "|"]
        for n, row in zip(names, counts):
            lines.append(f"| {n} | " + " | ".join(str(int(c)) for c in row) + f" | {int(row.sum())} |")
        lines.append("")
    lines += ["## Features (All Examples)", "",
              "| feature | type | present | missing | values/ex | NaN | inf | mean | std | min | max | unique |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in feature_rows(ds):
        lines.append("| " + " | ".join(_fmt(r.get(k)) for k in ("feature", "type", "present", "missing", "values/ex",
                                                                 "nan", "inf", "mean", "std", "min", "max",
                                                                 "unique")) + " |")
    lines.append("")
    for label, res in result.drift.items():
        lines += [f"## Drift: {label}", "", "| feature | metric | value | dims | max dim | dims above | worst dims (dim, JS, SMD) |",
                  "|---|---|---|---|---|---|---|"]
        for r in sorted(res, key=lambda r: -(r.value if math.isfinite(r.value) else -1)):
            worst = "; ".join(f"{d} ({j:.3f}, {s:+.2f})" for d, j, s in r.top_dims[:5])
            lines.append(f"| {r.feature} | {r.metric} | {_fmt(r.value)} | {r.num_dims} | {_fmt(r.max_value)} | "
                         f"{'-' if r.frac_dims_above is None else f'{r.frac_dims_above:.0%}'} | {worst or '-'} |")
        lines.append("")
    lines += ["![report](report.png)", ""]
    return "\n".join(lines)


def plot_report(result, path) -> Path:
    """Label distribution per slice, NaN/missing per feature and drift per dimension, in one PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stats = result.statistics
    names, labels, counts = label_table(stats)
    vec_drift = [(lab, r) for lab, res in result.drift.items() for r in res if r.per_dim is not None]
    main_feat = _main_float_feature(stats.datasets[0])
    panels = 2 + (1 if vec_drift else 0) + (1 if main_feat else 0)
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 4.5))
    ax = axes[0]
    if names:
        frac = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        left = np.zeros(len(names))
        cmap = plt.get_cmap("tab10")
        for j, lab in enumerate(labels):
            ax.barh(range(len(names)), frac[:, j], left=left, color=cmap(j % 10), label=lab or "(unlabelled)")
            left += frac[:, j]
        ax.set_yticks(range(len(names)))
        ax.set_yticklabels([f"{n} (n={int(c)})" for n, c in zip(names, counts.sum(axis=1))], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("share of examples")
        ax.legend(fontsize=7, loc="lower right")
    ax.set_title("emotion per slice")
    ax = axes[1]
    rows = feature_rows(stats.datasets[0])
    feats = [r["feature"] for r in rows]
    missing = [r["missing"] for r in rows]
    nan = [r.get("nan", 0) + r.get("inf", 0) for r in rows]
    y = np.arange(len(feats))
    ax.barh(y - 0.2, missing, height=0.4, label="examples missing the feature", color="tab:orange")
    ax.barh(y + 0.2, nan, height=0.4, label="NaN/inf values", color="tab:red")
    ax.set_yticks(y)
    ax.set_yticklabels(feats, fontsize=8)
    ax.invert_yaxis()
    ax.legend(fontsize=7)
    bad = {f.feature for f in result.findings}
    for tick, f in zip(ax.get_yticklabels(), feats):
        if f in bad:
            tick.set_color("tab:red")
    ax.set_title(f"data quality ({len(result.findings)} anomalies; red = flagged)")
    if not any(missing) and not any(nan):
        ax.set_xlim(0, 1)
        ax.text(0.5, 0.5, "no missing features,\nno NaN/inf values", ha="center", va="center",
                transform=ax.transAxes, fontsize=11, color="tab:green")
    nxt = 2
    if main_feat:
        ax = axes[nxt]
        nxt += 1
        for ds in stats.datasets:
            if ds.name != ALL_EXAMPLES and not ds.name.startswith("culture="):
                continue
            fs = next((f for f in ds.features if feature_name(f) == main_feat), None)
            h = next((h for h in fs.num_stats.histograms if h.type == statistics_pb2.Histogram.STANDARD), None) \
                if fs is not None else None
            if h is None or not h.buckets:
                continue
            mids = [(b.low_value + b.high_value) / 2 for b in h.buckets]
            total = sum(b.sample_count for b in h.buckets) or 1
            ax.plot(mids, [b.sample_count / total for b in h.buckets], marker=".", label=ds.name)
        ax.set_xlabel(f"{main_feat} value")
        ax.set_ylabel("share of values")
        ax.set_yscale("log")
        ax.legend(fontsize=7)
        ax.set_title(f"value distribution of '{main_feat}'")
    if vec_drift:
        ax = axes[nxt]
        for lab, r in vec_drift[:6]:
            ax.plot(np.sort(r.per_dim)[::-1], label=f"{lab}: {r.feature} (mean {r.value:.3f})")
        ax.set_xlabel("dimension (sorted by divergence)")
        ax.set_ylabel("Jensen-Shannon divergence")
        ax.set_title("per-dimension drift")
        ax.legend(fontsize=7)
    fig.suptitle(f"{result.name}: {stats.datasets[0].num_examples} examples")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _main_float_feature(ds) -> str | None:
    """The float feature with the most values (the waveform, the feature vector), if any."""
    best, size = None, 0
    for fs in ds.features:
        if fs.type == statistics_pb2.FeatureNameStatistics.FLOAT and fs.num_stats.common_stats.tot_num_values > size:
            best, size = feature_name(fs), fs.num_stats.common_stats.tot_num_values
    return best


def write_report(result, out_dir, *, plot: bool = True) -> Path:
    out = Path(out_dir)
    (out / "report.md").write_text(markdown(result), encoding="utf-8")
    if plot:
        plot_report(result, out / "report.png")
    return out / "report.md"

