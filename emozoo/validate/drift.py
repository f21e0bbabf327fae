"""Drift between two datasets (two cultures, train vs test, two corpora).

Per feature, as TFDV's drift/skew comparators:

* numeric features: approximate Jensen-Shannon divergence (log base 2, so in
  [0, 1]) between the two standard histograms, re-bucketed onto the union of
  their bucket edges with mass spread uniformly inside a bucket;
* string features (the label): L-infinity distance between the two value
  distributions (largest difference of a value's frequency).

A vector feature (IS10's 1 582 functionals, a log-Mel summary) is one feature
in the statistics, all its values pooled; drift hides in single dimensions, so
:func:`dimension_drift` compares the two example matrices dimension by
dimension (JS over shared quantile buckets, and the standardised mean
difference) and reports the mean, the largest and the most drifted dimensions.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np
from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2

from emozoo.validate.anomalies import add_reason
from emozoo.validate.statistics import ALL_EXAMPLES, dataset, feature_name, value_counts

T = anomalies_pb2.AnomalyInfo

# Columns that identify rather than describe an example: never compared.
SKIP_FEATURES = ("clip_id", "speaker", "dialogue_id", "turn_index", "split", "corpus", "culture", "path")


@dataclasses.dataclass
class DriftResult:
    """Drift of one feature between dataset A and dataset B."""

    feature: str
    metric: str                    # "jensen_shannon" or "l_infty"
    value: float                   # the per-feature figure (mean over dimensions for vectors)
    num_dims: int = 1
    max_value: float | None = None        # vectors: the largest per-dimension JS
    frac_dims_above: float | None = None  # vectors: share of dimensions above the threshold
    top_dims: tuple = ()                  # vectors: (dim, js, standardised mean difference), worst first
    per_dim: np.ndarray | None = dataclasses.field(default=None, repr=False)

    def to_json(self) -> dict:
        d = {k: v for k, v in dataclasses.asdict(self).items() if k != "per_dim"}
        d["top_dims"] = [list(t) for t in self.top_dims]
        return d


# -- histogram arithmetic ---------------------------------------------------------------

def _standard_histogram(fs: statistics_pb2.FeatureNameStatistics):
    for h in fs.num_stats.histograms:
        if h.type == statistics_pb2.Histogram.STANDARD and h.buckets:
            return h
    return None


def _rebucket(h: statistics_pb2.Histogram, edges: np.ndarray) -> np.ndarray:
    """Counts of ``h`` on new ``edges``, mass uniform inside each old bucket."""
    out = np.zeros(len(edges) - 1)
    for b in h.buckets:
        lo, hi, c = b.low_value, b.high_value, b.sample_count
        if c <= 0:
            continue
        if hi <= lo:   # a point mass
            i = int(np.clip(np.searchsorted(edges, lo, side="right") - 1, 0, len(out) - 1))
            out[i] += c
            continue
        overlap = np.clip(np.minimum(edges[1:], hi) - np.maximum(edges[:-1], lo), 0, None)
        out += c * overlap / (hi - lo)
    return out


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (base 2) of two count vectors; 0 for identical, 1 for disjoint."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if p.sum() <= 0 or q.sum() <= 0:
        return float("nan")
    p, q = p / p.sum(), q / q.sum()
    m = 0.5 * (p + q)

    def kl(a, b):
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / b[mask])))
    return max(0.0, min(1.0, 0.5 * kl(p, m) + 0.5 * kl(q, m)))


def histogram_js(a: statistics_pb2.Histogram, b: statistics_pb2.Histogram) -> float:
    edges = np.unique(np.array([x for h in (a, b) for bk in h.buckets for x in (bk.low_value, bk.high_value)]))
    if edges.size < 2:
        return 0.0
    return js_divergence(_rebucket(a, edges), _rebucket(b, edges))


def l_infty(a: dict, b: dict) -> float:
    """Largest absolute difference of a value's frequency between two ``{value: count}`` maps."""
    na, nb = sum(a.values()), sum(b.values())
    if na == 0 or nb == 0:
        return float("nan")
    return max(abs(a.get(v, 0) / na - b.get(v, 0) / nb) for v in set(a) | set(b))


# -- per-feature drift from statistics ------------------------------------------------------

def stats_drift(stats_a, stats_b, *, dataset_a: str = ALL_EXAMPLES, dataset_b: str = ALL_EXAMPLES,
                features: Sequence[str] | None = None, skip: Sequence[str] = SKIP_FEATURES) -> list[DriftResult]:
    """Drift of every feature the two datasets share (JS for numbers, L-infinity for strings)."""
    a = {feature_name(f): f for f in dataset(stats_a, dataset_a).features}
    b = {feature_name(f): f for f in dataset(stats_b, dataset_b).features}
    out = []
    for name in a:
        if name not in b or name in skip or (features is not None and name not in features):
            continue
        fa, fb = a[name], b[name]
        if fa.WhichOneof("stats") == "string_stats" and fb.WhichOneof("stats") == "string_stats":
            out.append(DriftResult(name, "l_infty", l_infty(value_counts(fa), value_counts(fb))))
        elif fa.WhichOneof("stats") == "num_stats" and fb.WhichOneof("stats") == "num_stats":
            ha, hb = _standard_histogram(fa), _standard_histogram(fb)
            if ha is not None and hb is not None:
                out.append(DriftResult(name, "jensen_shannon", histogram_js(ha, hb)))
    return out


# -- per-dimension drift from examples ---------------------------------------------------

def dimension_drift(a: np.ndarray, b: np.ndarray, *, feature: str = "features", num_buckets: int = 10,
                    threshold: float = 0.1, top: int = 10) -> DriftResult:
    """Per-dimension JS divergence between two example matrices ``[n_a, d]`` and ``[n_b, d]``.

    Buckets are the pooled sample's quantiles per dimension (so both datasets
    are measured on the same grid); non-finite values are ignored.
    """
    a = np.asarray(a, dtype=np.float64).reshape(len(a), -1)
    b = np.asarray(b, dtype=np.float64).reshape(len(b), -1)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{feature}: the two datasets have {a.shape[1]} and {b.shape[1]} dimensions")
    if len(a) == 0 or len(b) == 0:
        raise ValueError(f"{feature}: one of the datasets has no examples")
    d = a.shape[1]
    js = np.zeros(d)
    smd = np.zeros(d)
    qs = np.linspace(0, 1, num_buckets + 1)
    for j in range(d):
        x, y = a[:, j], b[:, j]
        x, y = x[np.isfinite(x)], y[np.isfinite(y)]
        if x.size == 0 or y.size == 0:
            js[j] = np.nan
            continue
        edges = np.unique(np.quantile(np.concatenate([x, y]), qs))
        if edges.size < 2:
            js[j] = 0.0
        else:
            js[j] = js_divergence(np.histogram(x, edges)[0], np.histogram(y, edges)[0])
        pooled = math.sqrt(0.5 * (x.var() + y.var()))
        smd[j] = (x.mean() - y.mean()) / pooled if pooled > 0 else 0.0
    finite = np.isfinite(js)
    order = np.argsort(-np.where(finite, js, -1))[:top]
    return DriftResult(feature, "jensen_shannon", float(np.mean(js[finite])) if finite.any() else float("nan"),
                       num_dims=d, max_value=float(np.max(js[finite])) if finite.any() else None,
                       frac_dims_above=float(np.mean(js[finite] > threshold)) if finite.any() else None,
                       top_dims=tuple((int(j), round(float(js[j]), 4), round(float(smd[j]), 3)) for j in order),
                       per_dim=js)


# -- drift as anomalies -----------------------------------------------------------------

def drift_anomalies(results: Sequence[DriftResult], *, js_threshold: float = 0.1, linf_threshold: float = 0.1,
                    label: str = "A vs B") -> anomalies_pb2.Anomalies:
    """An ``Anomalies`` proto with a comparator reason for every feature above its threshold."""
    out = anomalies_pb2.Anomalies()
    for r in results:
        if not math.isfinite(r.value):
            continue
        if r.metric == "jensen_shannon" and r.value > js_threshold:
            extra = ""
            if r.num_dims > 1:
                extra = (f" (mean over {r.num_dims} dimensions; {r.frac_dims_above:.0%} of them above the threshold, "
                         f"worst dimension {r.top_dims[0][0]} at {r.top_dims[0][1]:.3f})")
            add_reason(out, r.feature, T.COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH,
                       f"{label}: approximate Jensen-Shannon divergence of '{r.feature}' is {r.value:.3f}, "
                       f"above the threshold {js_threshold}{extra}.")
        elif r.metric == "l_infty" and r.value > linf_threshold:
            add_reason(out, r.feature, T.COMPARATOR_L_INFTY_HIGH,
                       f"{label}: L-infinity distance of the '{r.feature}' distribution is {r.value:.3f}, "
                       f"above the threshold {linf_threshold}.")
    return out
