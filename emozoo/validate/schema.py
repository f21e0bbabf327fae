"""Schemas: inferred from statistics, declared by a store, saved and loaded as text protos.

A ``tensorflow_metadata`` ``Schema`` is what a dataset is checked against
(:mod:`emozoo.validate.anomalies`). Two sources:

* the *declared* schema of a store (``schema.pbtxt``, written by
  :func:`emozoo.data.tfrecord.write_store` from the store's spec): the shapes,
  types and label classes the writer promised;
* an *inferred* schema (:func:`infer_schema`), TFDV style: type, presence and
  value count read off a statistics proto, a string domain for the label and
  the other low-cardinality categorical columns, an int domain for the label
  index. Infer on training data, check new data against it.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from emozoo.errors import SchemaError
from emozoo.validate.statistics import (ALL_EXAMPLES, common_stats, custom_stat, dataset, feature_name,
                                        value_counts)

# Categorical columns whose set of values is part of the contract (a new value
# is an anomaly). Speakers and clip ids are expected to change between datasets.
DOMAIN_FEATURES = ("emotion", "culture", "corpus", "split", "gender")

_TYPE = {statistics_pb2.FeatureNameStatistics.FLOAT: schema_pb2.FLOAT,
         statistics_pb2.FeatureNameStatistics.INT: schema_pb2.INT,
         statistics_pb2.FeatureNameStatistics.STRING: schema_pb2.BYTES,
         statistics_pb2.FeatureNameStatistics.BYTES: schema_pb2.BYTES}


def infer_schema(stats, *, domain_features: Sequence[str] = DOMAIN_FEATURES,
                 max_domain_size: int = 100, spec=None) -> schema_pb2.Schema:
    """A schema that the dataset described by ``stats`` satisfies.

    Args:
        stats: a ``DatasetFeatureStatisticsList`` (its ``All Examples`` dataset is used).
        domain_features: string features given a closed domain of the values seen
            (if they have at most ``max_domain_size`` values).
        spec: optional store spec; its declared shapes replace value counts and
            its label classes become the ``emotion`` domain.

    Presence: a feature present in every example is required
    (``min_fraction = 1``); otherwise the observed fraction is the minimum.
    Shape: a numeric feature with the same number of values in every example
    gets that fixed shape (``shape.dim``); otherwise a ``value_count`` range.
    """
    ds = dataset(stats, ALL_EXAMPLES) if not isinstance(stats, statistics_pb2.DatasetFeatureStatistics) else stats
    n = ds.num_examples
    if n == 0:
        raise SchemaError("cannot infer a schema from an empty dataset (0 examples)")
    declared = {f.name: f for f in spec.features} if spec is not None else {}
    schema = schema_pb2.Schema()
    for fs in ds.features:
        name = feature_name(fs)
        cs = common_stats(fs)
        feat = schema.feature.add()
        feat.name = name
        feat.type = _TYPE.get(fs.type, schema_pb2.BYTES)
        frac = cs.num_non_missing / n
        feat.presence.min_fraction = 1.0 if frac >= 1.0 else round(frac, 6)
        feat.presence.min_count = 1 if cs.num_non_missing else 0
        d = declared.get(name)
        if d is not None and not d.variable:
            feat.shape.SetInParent()
            for size in d.shape:
                feat.shape.dim.add().size = size
        elif d is not None:
            feat.value_count.min = d.inner_size if d.inner_size else 0
        elif cs.num_non_missing and cs.min_num_values == cs.max_num_values and feat.type != schema_pb2.BYTES:
            feat.shape.SetInParent()
            if cs.min_num_values != 1:
                feat.shape.dim.add().size = int(cs.min_num_values)
        elif cs.num_non_missing and cs.min_num_values == cs.max_num_values == 1:
            feat.shape.SetInParent()       # scalar string
        else:
            feat.value_count.min = int(cs.min_num_values)
            feat.value_count.max = int(cs.max_num_values)
        if feat.type == schema_pb2.BYTES and name in domain_features:
            values = sorted(value_counts(fs))
            if name == "emotion" and spec is not None and spec.classes:
                values = sorted(set(spec.classes) | {""})
            if len(values) <= max_domain_size:
                feat.string_domain.name = name
                feat.string_domain.value.extend(values)
        if name == "label" and feat.type == schema_pb2.INT:
            classes = list(spec.classes) if spec is not None and spec.classes else None
            if classes:
                feat.int_domain.min, feat.int_domain.max = -1, len(classes) - 1
            elif fs.num_stats.common_stats.num_non_missing:
                feat.int_domain.min = int(fs.num_stats.min)
                feat.int_domain.max = int(fs.num_stats.max)
        shape_tag = custom_stat(fs, "declared_shape")
        if shape_tag and d is None:
            feat.annotation.tag.append(f"declared_shape={shape_tag}")
    return schema


def save_schema(schema: schema_pb2.Schema, path: str | os.PathLike) -> Path:
    """Write ``schema`` as a text proto (atomically)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text_format.MessageToString(schema), encoding="utf-8")
    os.replace(tmp, path)
    return path


def load_schema(path: str | os.PathLike) -> schema_pb2.Schema:
    """Read a text-proto schema; a store folder reads its ``schema.pbtxt``."""
    path = Path(path)
    if path.is_dir():
        path = path / "schema.pbtxt"
    if not path.exists():
        raise SchemaError(f"no schema at {path}")
    try:
        return text_format.Parse(path.read_text(encoding="utf-8"), schema_pb2.Schema())
    except text_format.ParseError as exc:
        raise SchemaError(f"{path} is not a valid Schema text proto: {exc}") from exc


def expected_num_values(feat: schema_pb2.Feature) -> tuple[int | None, int | None]:
    """(min, max) number of values per example a schema feature allows; None = unbounded."""
    if feat.HasField("shape"):
        size = 1
        for d in feat.shape.dim:
            size *= int(d.size)
        return size, size
    if feat.HasField("value_count"):
        vc = feat.value_count
        return (int(vc.min) if vc.min else None), (int(vc.max) if vc.max else None)
    return None, None


def describe(schema: schema_pb2.Schema) -> list[dict]:
    """A plain summary of a schema (one dict per feature) for reports."""
    out = []
    for f in schema.feature:
        lo, hi = expected_num_values(f)
        out.append({"name": f.name, "type": schema_pb2.FeatureType.Name(f.type),
                    "required": f.presence.min_fraction >= 1.0,
                    "num_values": lo if lo == hi else [lo, hi],
                    "domain": list(f.string_domain.value) if f.HasField("string_domain") else None})
    return out


def to_json(schema: schema_pb2.Schema) -> str:
    return json.dumps(describe(schema), indent=1)
