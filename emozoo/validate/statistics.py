"""Streaming dataset statistics as TFDV ``DatasetFeatureStatisticsList`` protos.

TensorFlow Data Validation has no wheel for every platform emozoo runs on, so
emozoo computes the same ``tensorflow_metadata`` statistics protos itself
(TFDV's ``generate_statistics_from_tfrecord`` output, without Beam). The protos
open in Facets / ``tfdv.visualize_statistics`` where TFDV is installed.

What is computed, per dataset (``All Examples`` plus one per slice value,
``split=train``, ``culture=german``, ...), per feature:

* ``common_stats``: examples with / without the feature, min / max / avg /
  total number of values.
* numeric features (``float32``, ``int64``): mean, std (population), min, max,
  median, zeros, a standard histogram (equal-width buckets over the finite
  values, NaN count in its ``num_nan``) and a quantiles histogram; custom
  stats ``num_nan``, ``num_inf`` and ``num_finite`` (float features).
* string features: unique count, top values, a rank histogram (at most
  ``max_rank_values`` values), mean length, invalid UTF-8 count. Since every
  example carries ``emotion``, ``split`` and ``culture``, the rank histogram of
  ``emotion`` in each slice is the label distribution per split and culture.

Statistics are streamed: running sums (Chan's parallel mean/variance update)
plus a bounded bottom-k reservoir sample of each numeric feature's values for
the median, quantiles and histogram shape. Memory is O(features x
``reservoir_size``), not O(examples); with a fixed ``seed`` the result is
deterministic for a given example order. Histogram and quantiles are exact
while a feature has at most ``reservoir_size`` finite values, estimates beyond.
Mean, std, min, max and all counts are always exact.

Example::

    from emozoo.data.tfrecord import iter_examples, load_spec
    from emozoo.validate import compute_statistics
    stats = compute_statistics(iter_examples("tfrecords/emodb_is10"), load_spec("tfrecords/emodb_is10"))
    print(stats.datasets[0].num_examples)
"""
from __future__ import annotations

import collections
import json
import math
import os
import zlib
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
from tensorflow_metadata.proto.v0 import statistics_pb2

from emozoo.errors import SchemaError

ALL_EXAMPLES = "All Examples"
DEFAULT_SLICE_KEYS = ("split", "culture")
EMPTY_SLICE_VALUE = "(empty)"

FLOAT = statistics_pb2.FeatureNameStatistics.FLOAT
INT = statistics_pb2.FeatureNameStatistics.INT
STRING = statistics_pb2.FeatureNameStatistics.STRING
BYTES = statistics_pb2.FeatureNameStatistics.BYTES

_KIND_TO_TYPE = {"float": FLOAT, "int": INT, "bytes": STRING}
_DTYPE_TO_KIND = {"float32": "float", "int64": "int", "string": "bytes"}

# Columns of a manifest summarised by compute_manifest_statistics.
MANIFEST_COLUMNS = ("label", "emotion", "speaker", "gender", "culture", "split", "corpus")


# -- small helpers used by the other validate modules ---------------------------

def feature_name(fs: statistics_pb2.FeatureNameStatistics) -> str:
    """The name of a feature's statistics (``path`` steps joined by '.', or ``name``)."""
    if fs.HasField("path"):
        return ".".join(fs.path.step)
    return fs.name


def dataset(stats, name: str | None = None) -> statistics_pb2.DatasetFeatureStatistics:
    """One dataset of a statistics list: ``name`` or the first (``All Examples``)."""
    if isinstance(stats, statistics_pb2.DatasetFeatureStatistics):
        return stats
    if not isinstance(stats, statistics_pb2.DatasetFeatureStatisticsList):
        raise TypeError(f"expected statistics protos, got {type(stats).__name__}")
    if not stats.datasets:
        raise SchemaError("the statistics hold no dataset")
    if name is None:
        return stats.datasets[0]
    for ds in stats.datasets:
        if ds.name == name:
            return ds
    raise KeyError(f"no dataset {name!r} in statistics; have {[d.name for d in stats.datasets]}")


def features_by_name(ds: statistics_pb2.DatasetFeatureStatistics) -> dict:
    return {feature_name(f): f for f in ds.features}


def common_stats(fs: statistics_pb2.FeatureNameStatistics) -> statistics_pb2.CommonStatistics:
    which = fs.WhichOneof("stats")
    if which == "num_stats":
        return fs.num_stats.common_stats
    if which == "string_stats":
        return fs.string_stats.common_stats
    if which == "bytes_stats":
        return fs.bytes_stats.common_stats
    return statistics_pb2.CommonStatistics()


def custom_stat(fs: statistics_pb2.FeatureNameStatistics, name: str, default=None):
    """A custom statistic's value (``num`` or ``str``), or ``default``."""
    for c in fs.custom_stats:
        if c.name == name:
            which = c.WhichOneof("val")
            return getattr(c, which) if which in ("num", "str") else c
    return default


def value_counts(fs: statistics_pb2.FeatureNameStatistics) -> dict:
    """A string feature's ``{value: count}`` from its rank histogram (top values as fallback)."""
    if fs.WhichOneof("stats") != "string_stats":
        return {}
    ss = fs.string_stats
    if ss.rank_histogram.buckets:
        return {b.label: b.sample_count for b in ss.rank_histogram.buckets}
    return {t.value: t.frequency for t in ss.top_values}


def as_array(value) -> np.ndarray:
    """A feature value (numpy array from ``iter_examples``, or a python value) as a flat array.

    Strings become an object array of ``bytes``; floats ``float32``/``float64``;
    integers and booleans ``int64``.
    """
    if isinstance(value, np.ndarray):
        arr = value
    elif isinstance(value, (str, bytes)):
        arr = np.array([value], dtype=object)
    else:
        arr = np.asarray(value)
    if arr.dtype.kind in "US":
        arr = arr.astype(object)
    if arr.dtype == object:
        flat = arr.reshape(-1)
        if flat.size and not all(isinstance(v, bytes) for v in flat):
            flat = np.array([v.encode("utf-8") if isinstance(v, str) else
                             (v if isinstance(v, bytes) else str(v).encode("utf-8")) for v in flat],
                            dtype=object)
        return flat
    if arr.dtype.kind == "b":
        arr = arr.astype(np.int64)
    return arr.reshape(-1)


def array_kind(arr: np.ndarray) -> str | None:
    """``float``, ``int`` or ``bytes`` for a non-empty flat array; None when empty."""
    if arr.size == 0:
        return None
    k = arr.dtype.kind
    if k == "f":
        return "float"
    if k in "iu":
        return "int"
    return "bytes"


def decode(value: bytes) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def slice_value(example: Mapping, key: str) -> str | None:
    """The first value of a scalar string feature as text, None when absent/empty."""
    if key not in example:
        return None
    arr = as_array(example[key])
    if arr.size == 0:
        return None
    v = decode(arr[0]) if arr.dtype == object else str(arr[0])
    return v if v != "" else EMPTY_SLICE_VALUE


# -- accumulators -----------------------------------------------------------------

class _Reservoir:
    """Bottom-k sample: keeps the ``size`` values with the smallest random keys.

    Keys are drawn once per value by the caller, so the same value carries the
    same key into every slice's reservoir; each reservoir is still a uniform
    sample of the values it was offered.
    """

    __slots__ = ("size", "keys", "values", "_buf_k", "_buf_v", "_buffered", "tau")

    def __init__(self, size: int):
        self.size = size
        self.keys = np.empty(0)
        self.values = np.empty(0)
        self._buf_k, self._buf_v, self._buffered = [], [], 0
        self.tau = math.inf

    def offer(self, keys: np.ndarray, values: np.ndarray) -> None:
        if self.tau != math.inf:
            keep = keys < self.tau
            if not keep.any():
                return
            keys, values = keys[keep], values[keep]
        self._buf_k.append(keys)
        self._buf_v.append(values)
        self._buffered += keys.size
        if self._buffered >= 2 * self.size:
            self._compact()

    def _compact(self) -> None:
        if not self._buf_k:
            return
        keys = np.concatenate([self.keys, *self._buf_k])
        values = np.concatenate([self.values, *self._buf_v])
        self._buf_k, self._buf_v, self._buffered = [], [], 0
        if keys.size > self.size:
            idx = np.argpartition(keys, self.size - 1)[: self.size]
            keys, values = keys[idx], values[idx]
        self.keys, self.values = keys, values
        if keys.size >= self.size:
            self.tau = float(keys.max())

    def sample(self) -> np.ndarray:
        self._compact()
        return np.sort(self.values)


class _Piece:
    """What one example contributes to one feature, computed once, merged into every slice."""

    __slots__ = ("kind", "nvals", "n", "mean", "m2", "min", "max", "zeros", "nan", "inf",
                 "finite", "keys", "strings", "invalid_utf8", "length")


def _summarise(arr: np.ndarray, kind: str | None, rng: np.random.Generator) -> _Piece:
    p = _Piece()
    p.kind = kind
    p.nvals = int(arr.size)
    p.n = 0
    p.strings = None
    p.finite = None
    if kind in ("float", "int"):
        if arr.size == 1:                            # fast path: scalars
            x = float(arr[0])
            if math.isfinite(x):
                p.n, p.mean, p.m2, p.min, p.max = 1, x, 0.0, x, x
                p.zeros, p.nan, p.inf = int(x == 0.0), 0, 0
                p.finite = np.array([x])
            else:
                p.zeros, p.nan, p.inf = 0, int(math.isnan(x)), int(math.isinf(x))
        else:
            vals = arr.astype(np.float64, copy=False)
            fin_mask = np.isfinite(vals)
            fin = vals if fin_mask.all() else vals[fin_mask]
            nan = int(np.isnan(vals).sum()) if fin.size != vals.size else 0
            p.nan, p.inf = nan, int(vals.size - fin.size - nan)
            p.n = int(fin.size)
            if p.n:
                p.mean = float(fin.mean())
                p.m2 = float(np.square(fin - p.mean).sum())
                p.min, p.max = float(fin.min()), float(fin.max())
                p.zeros = int(np.count_nonzero(fin == 0.0))
                p.finite = fin
            else:
                p.zeros = 0
        if p.n:
            p.keys = rng.random(p.n)
    elif kind == "bytes":
        strings, invalid, length = [], 0, 0
        for v in arr:
            if isinstance(v, bytes):
                try:
                    s = v.decode("utf-8")
                except UnicodeDecodeError:
                    s = v.decode("utf-8", errors="replace")
                    invalid += 1
            else:
                s = str(v)
            strings.append(s)
            length += len(s)
        p.strings, p.invalid_utf8, p.length = strings, invalid, length
    return p


class _FeatureAcc:
    __slots__ = ("present", "min_nv", "max_nv", "tot_nv", "kinds", "n", "mean", "m2", "min", "max",
                 "zeros", "nan", "inf", "reservoir", "counter", "invalid_utf8", "length", "nstrings")

    def __init__(self, reservoir_size: int):
        self.present = 0
        self.min_nv, self.max_nv, self.tot_nv = math.inf, 0, 0
        self.kinds = collections.Counter()
        self.n, self.mean, self.m2 = 0, 0.0, 0.0
        self.min, self.max = math.inf, -math.inf
        self.zeros = self.nan = self.inf = 0
        self.reservoir = _Reservoir(reservoir_size)
        self.counter = None
        self.invalid_utf8 = self.length = self.nstrings = 0

    def add(self, p: _Piece) -> None:
        self.present += 1
        self.min_nv = min(self.min_nv, p.nvals)
        self.max_nv = max(self.max_nv, p.nvals)
        self.tot_nv += p.nvals
        if p.kind is None:
            return
        self.kinds[p.kind] += 1
        if p.kind == "bytes":
            if self.counter is None:
                self.counter = collections.Counter()
            if len(p.strings) == 1:
                self.counter[p.strings[0]] += 1
            else:
                self.counter.update(p.strings)
            self.invalid_utf8 += p.invalid_utf8
            self.length += p.length
            self.nstrings += len(p.strings)
            return
        self.nan += p.nan
        self.inf += p.inf
        if p.n:
            n = self.n + p.n
            delta = p.mean - self.mean
            self.mean += delta * p.n / n
            self.m2 += p.m2 + delta * delta * self.n * p.n / n
            self.n = n
            self.min = min(self.min, p.min)
            self.max = max(self.max, p.max)
            self.zeros += p.zeros
            self.reservoir.offer(p.keys, p.finite)


class _DatasetAcc:
    def __init__(self, name: str, reservoir_size: int):
        self.name = name
        self.num_examples = 0
        self.reservoir_size = reservoir_size
        self.features: dict[str, _FeatureAcc] = {}

    def add(self, pieces: Mapping[str, _Piece]) -> None:
        self.num_examples += 1
        for name, p in pieces.items():
            acc = self.features.get(name)
            if acc is None:
                acc = self.features[name] = _FeatureAcc(self.reservoir_size)
            acc.add(p)


class StatisticsBuilder:
    """Consumes examples one by one and builds a ``DatasetFeatureStatisticsList``.

    :func:`compute_statistics` wraps it; use the builder directly to compute
    statistics in the same pass as other checks (see ``emozoo.validate.cli``).

    Args:
        spec: the store's :class:`~emozoo.data.tfrecord.StoreSpec`, or None. With a
            spec, features are listed in declared order, empty values take the
            declared type and the declared shape is recorded as the custom stat
            ``declared_shape``.
        slice_keys: string features whose values define slices.
        num_histogram_buckets: buckets of the standard and quantiles histograms.
        num_top_values: entries in ``string_stats.top_values``.
        max_rank_values: most values kept in ``string_stats.rank_histogram``.
        reservoir_size: values sampled per numeric feature and dataset.
        seed: seed of the reservoir keys.
    """

    def __init__(self, spec=None, *, slice_keys: Sequence[str] = DEFAULT_SLICE_KEYS,
                 num_histogram_buckets: int = 10, num_top_values: int = 20,
                 max_rank_values: int = 1000, reservoir_size: int = 10_000, seed: int = 0):
        if num_histogram_buckets < 1:
            raise ValueError(f"num_histogram_buckets must be >= 1, got {num_histogram_buckets}")
        if reservoir_size < 1:
            raise ValueError(f"reservoir_size must be >= 1, got {reservoir_size}")
        if isinstance(slice_keys, str):
            slice_keys = (slice_keys,)
        self.spec = spec
        self.slice_keys = tuple(slice_keys or ())
        self.num_buckets = int(num_histogram_buckets)
        self.num_top_values = int(num_top_values)
        self.max_rank_values = int(max_rank_values)
        self.reservoir_size = int(reservoir_size)
        self.seed = int(seed)
        self._declared = {f.name: f for f in spec.features} if spec is not None else {}
        self._order: dict[str, None] = dict.fromkeys(self._declared)
        self._rngs: dict[str, np.random.Generator] = {}
        self._all = _DatasetAcc(ALL_EXAMPLES, self.reservoir_size)
        self._slices: dict[tuple, _DatasetAcc] = {}

    def _rng(self, name: str) -> np.random.Generator:
        rng = self._rngs.get(name)
        if rng is None:   # one stream per feature: stable under feature order changes
            rng = self._rngs[name] = np.random.default_rng([self.seed, zlib.crc32(name.encode())])
        return rng

    def update(self, example: Mapping) -> None:
        """Add one example (a dict of feature name -> value)."""
        if not isinstance(example, Mapping):
            raise TypeError(f"an example must be a mapping of feature -> value, got {type(example).__name__}")
        pieces = {}
        for name, value in example.items():
            arr = as_array(value)
            kind = array_kind(arr)
            if kind is None and name in self._declared:
                kind_hint = None
            else:
                kind_hint = kind
            pieces[name] = _summarise(arr, kind_hint, self._rng(name))
            if name not in self._order:
                self._order[name] = None
        self._all.add(pieces)
        for key in self.slice_keys:
            v = slice_value(example, key)
            if v is None:
                continue
            acc = self._slices.get((key, v))
            if acc is None:
                acc = self._slices[(key, v)] = _DatasetAcc(f"{key}={v}", self.reservoir_size)
            acc.add(pieces)

    def update_all(self, examples: Iterable[Mapping]) -> "StatisticsBuilder":
        for ex in examples:
            self.update(ex)
        return self

    @property
    def num_examples(self) -> int:
        return self._all.num_examples

    def result(self) -> statistics_pb2.DatasetFeatureStatisticsList:
        out = statistics_pb2.DatasetFeatureStatisticsList()
        datasets = [self._all]
        key_rank = {k: i for i, k in enumerate(self.slice_keys)}
        datasets += [self._slices[k] for k in sorted(self._slices, key=lambda kv: (key_rank[kv[0]], kv[1]))]
        for acc in datasets:
            ds = out.datasets.add()
            ds.name = acc.name
            ds.num_examples = acc.num_examples
            for name in self._order:
                if name in acc.features:
                    self._feature_stats(ds.features.add(), name, acc.features[name], acc.num_examples)
        return out

    # -- proto building -----------------------------------------------------------
    def _feature_stats(self, fs, name: str, acc: _FeatureAcc, num_examples: int) -> None:
        fs.path.step.append(name)
        declared = self._declared.get(name)
        if acc.kinds:
            kind = acc.kinds.most_common(1)[0][0]
        elif declared is not None:
            kind = _DTYPE_TO_KIND[declared.dtype]
        else:
            kind = "float"
        fs.type = _KIND_TO_TYPE[kind]
        if kind == "bytes":
            ss = fs.string_stats
            self._common(ss.common_stats, acc, num_examples)
            counts = sorted((acc.counter or {}).items(), key=lambda kv: (-kv[1], kv[0]))
            ss.unique = len(counts)
            for value, freq in counts[: self.num_top_values]:
                ss.top_values.add(value=value, frequency=freq)
            for rank, (value, freq) in enumerate(counts[: self.max_rank_values]):
                ss.rank_histogram.buckets.add(low_rank=rank, high_rank=rank, label=value, sample_count=freq)
            ss.avg_length = acc.length / acc.nstrings if acc.nstrings else 0.0
            if acc.invalid_utf8:
                ss.invalid_utf8_count = acc.invalid_utf8
        else:
            ns = fs.num_stats
            self._common(ns.common_stats, acc, num_examples)
            if acc.n:
                ns.mean = acc.mean
                ns.std_dev = math.sqrt(max(acc.m2 / acc.n, 0.0))
                ns.min, ns.max = acc.min, acc.max
                ns.num_zeros = acc.zeros
                sample = acc.reservoir.sample()
                ns.median = float(np.median(sample))
                ns.histograms.append(self._standard_histogram(sample, acc))
                ns.histograms.append(self._quantiles_histogram(sample, acc))
            elif acc.nan:
                h = ns.histograms.add()
                h.type = statistics_pb2.Histogram.STANDARD
                h.num_nan = acc.nan
            if kind == "float":
                fs.custom_stats.add(name="num_nan", num=acc.nan)
                fs.custom_stats.add(name="num_inf", num=acc.inf)
                fs.custom_stats.add(name="num_finite", num=acc.n)
        if declared is not None:
            fs.custom_stats.add(name="declared_shape", str=json.dumps(list(declared.shape)))
        if len(acc.kinds) > 1:
            fs.custom_stats.add(name="observed_types", str=json.dumps(dict(sorted(acc.kinds.items()))))

    @staticmethod
    def _common(cs, acc: _FeatureAcc, num_examples: int) -> None:
        cs.num_non_missing = acc.present
        cs.num_missing = num_examples - acc.present
        if acc.present:
            cs.min_num_values = int(acc.min_nv)
            cs.max_num_values = int(acc.max_nv)
            cs.avg_num_values = acc.tot_nv / acc.present
            cs.tot_num_values = acc.tot_nv

    def _standard_histogram(self, sample: np.ndarray, acc: _FeatureAcc) -> statistics_pb2.Histogram:
        h = statistics_pb2.Histogram(type=statistics_pb2.Histogram.STANDARD, num_nan=acc.nan)
        lo, hi = acc.min, acc.max
        if hi <= lo:
            h.buckets.add(low_value=lo, high_value=hi, sample_count=acc.n)
            return h
        counts, edges = np.histogram(np.clip(sample, lo, hi), bins=self.num_buckets, range=(lo, hi))
        scale = acc.n / sample.size
        for i, c in enumerate(counts):
            h.buckets.add(low_value=float(edges[i]), high_value=float(edges[i + 1]),
                          sample_count=float(c) * scale)
        return h

    def _quantiles_histogram(self, sample: np.ndarray, acc: _FeatureAcc) -> statistics_pb2.Histogram:
        h = statistics_pb2.Histogram(type=statistics_pb2.Histogram.QUANTILES)
        edges = np.quantile(sample, np.linspace(0.0, 1.0, self.num_buckets + 1))
        edges[0], edges[-1] = acc.min, acc.max
        per = acc.n / self.num_buckets
        for i in range(self.num_buckets):
            h.buckets.add(low_value=float(edges[i]), high_value=float(edges[i + 1]), sample_count=per)
        return h


def compute_statistics(examples: Iterable[Mapping], spec=None, *,
                       slice_keys: Sequence[str] = DEFAULT_SLICE_KEYS,
                       num_histogram_buckets: int = 10, reservoir_size: int = 10_000,
                       seed: int = 0) -> statistics_pb2.DatasetFeatureStatisticsList:
    """Statistics of ``examples`` for ``All Examples`` and for every slice value.

    Args:
        examples: iterable of feature dicts, e.g. ``emozoo.data.tfrecord.iter_examples(store)``
            (raw numpy arrays) or the python dicts given to ``write_store``.
        spec: the store's ``StoreSpec`` or None (see :class:`StatisticsBuilder`).
        slice_keys: string features that define slices (``split=train``,
            ``culture=german``); a key absent from an example is skipped for it.
        num_histogram_buckets: buckets of each numeric histogram.
        reservoir_size: values sampled per numeric feature and dataset for the
            median, quantiles and histogram shape.
        seed: fixes the sample, so the statistics are deterministic.

    Returns a ``DatasetFeatureStatisticsList``: ``datasets[0]`` is ``All Examples``,
    then one dataset per slice, ordered by slice key then value.
    """
    return StatisticsBuilder(spec, slice_keys=slice_keys, num_histogram_buckets=num_histogram_buckets,
                             reservoir_size=reservoir_size, seed=seed).update_all(examples).result()


def manifest_examples(manifest, *, columns: Sequence[str] = MANIFEST_COLUMNS):
    """The manifest's string columns (and ``path``) as example dicts of strings."""
    for row in manifest:
        ex = {c: str(getattr(row, c)) for c in columns}
        ex["path"] = row.path
        yield ex


def _resolve(path: str, root) -> Path:
    p = Path(path).expanduser()
    if not p.is_absolute() and root is not None:
        p = Path(root) / p
    return p


def missing_files(manifest, *, root: str | os.PathLike | None = None) -> list:
    """Rows whose non-empty ``path`` does not exist (relative paths resolved against ``root``)."""
    return [r for r in manifest if r.path and not _resolve(r.path, root).exists()]


def compute_manifest_statistics(manifest, *, slice_keys: Sequence[str] = DEFAULT_SLICE_KEYS,
                                root: str | os.PathLike | None = None, check_files: bool = True,
                                ) -> statistics_pb2.DatasetFeatureStatisticsList:
    """Statistics of a :class:`~emozoo.data.manifest.Manifest`'s string columns.

    Summarises ``label``, ``emotion``, ``speaker``, ``gender``, ``culture``,
    ``split``, ``corpus`` as string features, and ``path`` with the custom stats
    ``num_missing_files`` (rows whose non-empty path does not exist; relative
    paths resolved against ``root``, default the working directory) and
    ``num_empty_paths``. Same slices as :func:`compute_statistics`.
    """
    from emozoo.data.manifest import Manifest

    if not isinstance(manifest, Manifest):
        raise TypeError(f"expected a Manifest, got {type(manifest).__name__}")
    stats = compute_statistics(manifest_examples(manifest), None, slice_keys=slice_keys)
    if not check_files:
        return stats
    missing = {(r.corpus, r.clip_id) for r in missing_files(manifest, root=root)}
    per_dataset = collections.Counter()
    empty = collections.Counter()
    for row in manifest:
        names = [ALL_EXAMPLES]
        for key in slice_keys:
            v = str(getattr(row, key, "")) if hasattr(row, key) else None
            if v is not None:
                names.append(f"{key}={v or EMPTY_SLICE_VALUE}")
        for n in names:
            if (row.corpus, row.clip_id) in missing:
                per_dataset[n] += 1
            if not row.path:
                empty[n] += 1
    for ds in stats.datasets:
        for fs in ds.features:
            if feature_name(fs) == "path":
                fs.custom_stats.add(name="num_missing_files", num=per_dataset[ds.name])
                fs.custom_stats.add(name="num_empty_paths", num=empty[ds.name])
    return stats
