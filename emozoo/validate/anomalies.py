"""Checking a dataset against a schema: ``Anomalies`` protos plus plain-words findings.

Two passes share one set of rules:

* :func:`validate_statistics` (TFDV's ``validate_statistics``): the
  statistics of a dataset against a schema; yields a ``tensorflow_metadata``
  ``Anomalies`` proto keyed by feature.
* :class:`ExampleChecker`: the same rules applied example by example while the
  statistics are computed, so every finding can name the clips at fault
  ("clip 03a01Fa: 3 NaN values in 'is10'").

What is flagged (every one an ERROR; nothing passes silently):

==========================================  ===============================================
defect                                      anomaly type
==========================================  ===============================================
feature in the schema absent from the data  SCHEMA_MISSING_COLUMN
feature present in too few examples         FEATURE_TYPE_LOW_FRACTION_PRESENT
feature not in the schema                   SCHEMA_NEW_COLUMN
wrong value type (float where int ...)      UNEXPECTED_DATA_TYPE
wrong number of values (wrong shape)        FEATURE_TYPE_LOW/HIGH_NUMBER_VALUES
NaN / inf in a float feature                FLOAT_TYPE_HAS_NAN / FLOAT_TYPE_HAS_INF
label string outside the domain             ENUM_TYPE_UNEXPECTED_STRING_VALUES
label index outside its range               INT_TYPE_SMALL_INT / INT_TYPE_BIG_INT
dataset with no examples                    DATASET_LOW_NUM_EXAMPLES
drift above a threshold (see drift.py)      COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH /
                                            COMPARATOR_L_INFTY_HIGH
==========================================  ===============================================
"""
from __future__ import annotations

import collections
import json
import dataclasses
from typing import Iterable, Mapping

import numpy as np
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2

from emozoo.validate.schema import expected_num_values
from emozoo.validate.statistics import (ALL_EXAMPLES, as_array, common_stats, custom_stat, dataset, decode,
                                        feature_name, value_counts)

T = anomalies_pb2.AnomalyInfo
ERROR = anomalies_pb2.AnomalyInfo.ERROR

_SCHEMA_TYPE_NAME = {schema_pb2.FLOAT: "float", schema_pb2.INT: "int", schema_pb2.BYTES: "bytes"}
_STATS_TYPE_NAME = {statistics_pb2.FeatureNameStatistics.FLOAT: "float",
                    statistics_pb2.FeatureNameStatistics.INT: "int",
                    statistics_pb2.FeatureNameStatistics.STRING: "bytes",
                    statistics_pb2.FeatureNameStatistics.BYTES: "bytes"}

# The short descriptions TFDV uses, for the reasons emozoo raises.
_SHORT = {
    T.SCHEMA_MISSING_COLUMN: "Column dropped",
    T.FEATURE_TYPE_LOW_FRACTION_PRESENT: "Column dropped in some examples",
    T.SCHEMA_NEW_COLUMN: "New column",
    T.UNEXPECTED_DATA_TYPE: "Unexpected data type",
    T.FEATURE_TYPE_LOW_NUMBER_VALUES: "Missing values",
    T.FEATURE_TYPE_HIGH_NUMBER_VALUES: "Superfluous values",
    T.FLOAT_TYPE_HAS_NAN: "Invalid values (NaN)",
    T.FLOAT_TYPE_HAS_INF: "Invalid values (inf)",
    T.ENUM_TYPE_UNEXPECTED_STRING_VALUES: "Unexpected string values",
    T.INT_TYPE_SMALL_INT: "Out-of-range values",
    T.INT_TYPE_BIG_INT: "Out-of-range values",
    T.DATASET_LOW_NUM_EXAMPLES: "Low num examples in dataset",
    T.COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH: "High approximate Jensen-Shannon divergence between two datasets",
    T.COMPARATOR_L_INFTY_HIGH: "High Linfty distance between two datasets",
}


@dataclasses.dataclass
class Finding:
    """One anomaly in plain words."""

    feature: str
    type: str          # AnomalyInfo.Type name
    description: str
    examples: tuple = ()   # clip ids at fault (at most a few)

    def __str__(self) -> str:
        where = f" e.g. {', '.join(self.examples)}" if self.examples else ""
        return f"[{self.type}] {self.feature}: {self.description}{where}"


def add_reason(anomalies: anomalies_pb2.Anomalies, feature: str, rtype: int, description: str) -> None:
    """Add one reason to ``feature``'s AnomalyInfo (creating it), TFDV style."""
    info = anomalies.anomaly_info[feature]
    if not info.path.step:
        info.path.step.append(feature)
    info.severity = ERROR
    r = info.reason.add()
    r.type = rtype
    r.short_description = _SHORT.get(rtype, T.Type.Name(rtype))
    r.description = description
    if len(info.reason) == 1:
        info.short_description, info.description = r.short_description, r.description
    else:
        info.short_description = "Multiple errors"
        info.description = " ".join(x.description for x in info.reason)


def validate_statistics(stats, schema: schema_pb2.Schema, *, dataset_name: str = ALL_EXAMPLES,
                        allow_new_features: bool = False) -> anomalies_pb2.Anomalies:
    """Anomalies of the dataset ``dataset_name`` of ``stats`` with respect to ``schema``."""
    ds = dataset(stats, dataset_name)
    out = anomalies_pb2.Anomalies()
    out.baseline.CopyFrom(schema)
    out.anomaly_name_format = anomalies_pb2.Anomalies.SERIALIZED_PATH
    n = ds.num_examples
    if n == 0:
        info = out.dataset_anomaly_info
        info.severity = ERROR
        r = info.reason.add(type=T.DATASET_LOW_NUM_EXAMPLES, short_description=_SHORT[T.DATASET_LOW_NUM_EXAMPLES],
                            description="The dataset has no examples.")
        info.description, info.short_description = r.description, r.short_description
        return out
    have = {feature_name(fs): fs for fs in ds.features}
    for feat in schema.feature:
        fs = have.get(feat.name)
        if fs is None or common_stats(fs).num_non_missing == 0:
            if feat.presence.min_count >= 1 or feat.presence.min_fraction > 0:
                add_reason(out, feat.name, T.SCHEMA_MISSING_COLUMN,
                           f"The feature '{feat.name}' is in the schema but missing from all {n} examples.")
            continue
        _check_feature(out, feat, fs, n)
    if not allow_new_features:
        declared = {f.name for f in schema.feature}
        for name in have:
            if name not in declared:
                add_reason(out, name, T.SCHEMA_NEW_COLUMN,
                           f"New feature '{name}' is not in the schema.")
    return out


def _check_feature(out, feat: schema_pb2.Feature, fs: statistics_pb2.FeatureNameStatistics, n: int) -> None:
    name = feat.name
    cs = common_stats(fs)
    present = cs.num_non_missing
    if present < n * feat.presence.min_fraction - 1e-9:
        add_reason(out, name, T.FEATURE_TYPE_LOW_FRACTION_PRESENT,
                   f"'{name}' is missing from {n - present} of {n} examples "
                   f"(present in {present / n:.1%}, the schema requires {feat.presence.min_fraction:.0%}).")
    want = _SCHEMA_TYPE_NAME.get(feat.type)
    got = _STATS_TYPE_NAME.get(fs.type)
    if want and got and want != got:
        add_reason(out, name, T.UNEXPECTED_DATA_TYPE,
                   f"'{name}' should hold {want} values but holds {got} values.")
        return
    mixed = custom_stat(fs, "observed_types")
    if mixed and want:
        kinds = json.loads(mixed)
        wrong = {k: v for k, v in kinds.items() if k != want}
        if wrong:
            add_reason(out, name, T.UNEXPECTED_DATA_TYPE,
                       f"'{name}' should hold {want} values but holds "
                       + ", ".join(f"{k} values in {v} example(s)" for k, v in sorted(wrong.items())) + ".")
    lo, hi = expected_num_values(feat)
    if lo is not None and cs.min_num_values < lo:
        add_reason(out, name, T.FEATURE_TYPE_LOW_NUMBER_VALUES,
                   f"'{name}' should have {_count_words(lo, hi)} per example; some have {cs.min_num_values}"
                   f"{_shape_note(feat)}.")
    if hi is not None and cs.max_num_values > hi:
        add_reason(out, name, T.FEATURE_TYPE_HIGH_NUMBER_VALUES,
                   f"'{name}' should have {_count_words(lo, hi)} per example; some have {cs.max_num_values}"
                   f"{_shape_note(feat)}.")
    if got == "float":
        nan = int(custom_stat(fs, "num_nan", 0) or 0)
        inf = int(custom_stat(fs, "num_inf", 0) or 0)
        if nan:
            add_reason(out, name, T.FLOAT_TYPE_HAS_NAN, f"'{name}' holds {nan} NaN value(s).")
        if inf:
            add_reason(out, name, T.FLOAT_TYPE_HAS_INF, f"'{name}' holds {inf} infinite value(s).")
    if got == "bytes" and feat.HasField("string_domain"):
        allowed = set(feat.string_domain.value)
        counts = value_counts(fs)
        unknown = {v: c for v, c in counts.items() if v not in allowed}
        if unknown:
            listed = ", ".join(f"'{v}' ({int(c)})" for v, c in sorted(unknown.items(), key=lambda kv: -kv[1])[:10])
            add_reason(out, name, T.ENUM_TYPE_UNEXPECTED_STRING_VALUES,
                       f"'{name}' has values outside its domain {sorted(v for v in allowed if v)}: {listed}.")
    if got == "int" and feat.HasField("int_domain") and fs.num_stats.common_stats.num_non_missing:
        dom = feat.int_domain
        if dom.HasField("min") and fs.num_stats.min < dom.min:
            add_reason(out, name, T.INT_TYPE_SMALL_INT,
                       f"'{name}' has values below {dom.min} (min {fs.num_stats.min:g}).")
        if dom.HasField("max") and fs.num_stats.max > dom.max:
            add_reason(out, name, T.INT_TYPE_BIG_INT,
                       f"'{name}' has values above {dom.max} (max {fs.num_stats.max:g}).")


def _count_words(lo, hi) -> str:
    if lo == hi:
        return f"exactly {lo} value(s)"
    if hi is None:
        return f"at least {lo} value(s)"
    if lo is None:
        return f"at most {hi} value(s)"
    return f"{lo} to {hi} values"


def _shape_note(feat) -> str:
    if feat.HasField("shape") and len(feat.shape.dim) > 0:
        return f" (declared shape {[int(d.size) for d in feat.shape.dim]})"
    return ""


# -- example-level witnesses ------------------------------------------------------------

class ExampleChecker:
    """Applies the schema's rules to each example and remembers the clips at fault.

    Feed it the same examples as the statistics builder; :meth:`findings`
    merges its witnesses into the findings of an ``Anomalies`` proto.
    """

    def __init__(self, schema: schema_pb2.Schema, *, max_examples: int = 5, id_feature: str = "clip_id"):
        self.schema = schema
        self.max_examples = max_examples
        self.id_feature = id_feature
        self._feats = {f.name: f for f in schema.feature}
        self._bounds = {f.name: expected_num_values(f) for f in schema.feature}
        self._domains = {f.name: set(f.string_domain.value) for f in schema.feature if f.HasField("string_domain")}
        self.witnesses: dict[tuple, list] = collections.defaultdict(list)
        self.seen = 0

    def _note(self, feature: str, rtype: int, clip: str) -> None:
        w = self.witnesses[(feature, rtype)]
        if len(w) < self.max_examples:
            w.append(clip)

    def update(self, example: Mapping) -> None:
        self.seen += 1
        clip = example.get(self.id_feature)
        clip = decode(as_array(clip)[0]) if clip is not None and as_array(clip).size else f"#{self.seen}"
        for name, feat in self._feats.items():
            if name not in example or as_array(example[name]).size == 0:
                if feat.presence.min_fraction > 0:
                    self._note(name, T.SCHEMA_MISSING_COLUMN, clip)
                    self._note(name, T.FEATURE_TYPE_LOW_FRACTION_PRESENT, clip)
                continue
            arr = as_array(example[name])
            kind = "bytes" if arr.dtype == object else ("float" if arr.dtype.kind == "f" else "int")
            if _SCHEMA_TYPE_NAME.get(feat.type, kind) != kind:
                self._note(name, T.UNEXPECTED_DATA_TYPE, clip)
            lo, hi = self._bounds[name]
            if lo is not None and arr.size < lo:
                self._note(name, T.FEATURE_TYPE_LOW_NUMBER_VALUES, clip)
            if hi is not None and arr.size > hi:
                self._note(name, T.FEATURE_TYPE_HIGH_NUMBER_VALUES, clip)
            if arr.dtype.kind == "f":
                if np.isnan(arr).any():
                    self._note(name, T.FLOAT_TYPE_HAS_NAN, clip)
                if np.isinf(arr).any():
                    self._note(name, T.FLOAT_TYPE_HAS_INF, clip)
            if name in self._domains and arr.dtype == object:
                if any(decode(v) not in self._domains[name] for v in arr):
                    self._note(name, T.ENUM_TYPE_UNEXPECTED_STRING_VALUES, clip)
            if feat.HasField("int_domain") and arr.dtype.kind in "iu":
                dom = feat.int_domain
                if dom.HasField("min") and arr.min() < dom.min:
                    self._note(name, T.INT_TYPE_SMALL_INT, clip)
                if dom.HasField("max") and arr.max() > dom.max:
                    self._note(name, T.INT_TYPE_BIG_INT, clip)
        for name in example:
            if name not in self._feats:
                self._note(name, T.SCHEMA_NEW_COLUMN, clip)

    def update_all(self, examples: Iterable[Mapping]) -> "ExampleChecker":
        for ex in examples:
            self.update(ex)
        return self


def findings(anomalies: anomalies_pb2.Anomalies, checker: ExampleChecker | None = None) -> list[Finding]:
    """Every reason of ``anomalies`` as a :class:`Finding`, with the clips at fault when known."""
    out = []
    info = anomalies.dataset_anomaly_info
    for r in info.reason:
        out.append(Finding("(dataset)", T.Type.Name(r.type), r.description))
    for feature in sorted(anomalies.anomaly_info):
        for r in anomalies.anomaly_info[feature].reason:
            ex = tuple(checker.witnesses.get((feature, r.type), ())) if checker is not None else ()
            out.append(Finding(feature, T.Type.Name(r.type), r.description, ex))
    return out


def has_anomalies(anomalies: anomalies_pb2.Anomalies) -> bool:
    return bool(anomalies.anomaly_info) or bool(anomalies.dataset_anomaly_info.reason)


def merge(into: anomalies_pb2.Anomalies, other: anomalies_pb2.Anomalies) -> anomalies_pb2.Anomalies:
    """Add ``other``'s reasons to ``into`` (e.g. drift anomalies into schema anomalies)."""
    for feature, info in other.anomaly_info.items():
        for r in info.reason:
            add_reason(into, feature, r.type, r.description)
    for r in other.dataset_anomaly_info.reason:
        into.dataset_anomaly_info.reason.add().CopyFrom(r)
        into.dataset_anomaly_info.severity = ERROR
    return into

