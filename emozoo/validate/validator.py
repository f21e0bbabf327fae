"""One pass over a store or manifest: statistics, schema, anomalies, drift.

:func:`validate_store` and :func:`validate_manifest` return a
:class:`ValidationResult`; :func:`write_outputs` saves its protos and the
report (``report.md`` + ``report.png``). ``python -m emozoo.validate`` is the
command-line face of the same functions.
"""
from __future__ import annotations

import dataclasses
import itertools
import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2

from emozoo.errors import SchemaError
from emozoo.validate.anomalies import (ERROR, ExampleChecker, Finding, add_reason, findings, has_anomalies,
                                       merge, validate_statistics)
from emozoo.validate.drift import DriftResult, dimension_drift, drift_anomalies, stats_drift
from emozoo.validate.schema import infer_schema, load_schema, save_schema
from emozoo.validate.statistics import (ALL_EXAMPLES, DEFAULT_SLICE_KEYS, StatisticsBuilder, as_array, decode,
                                        compute_manifest_statistics, missing_files)

T = anomalies_pb2.AnomalyInfo

# Fixed-size float features of at most this many values are kept per slice for
# per-dimension drift (a 1 582-dim IS10 vector qualifies, a waveform does not).
MAX_DRIFT_DIMS = 16384


@dataclasses.dataclass
class ValidationResult:
    name: str
    statistics: statistics_pb2.DatasetFeatureStatisticsList
    baseline: schema_pb2.Schema           # the schema the data was checked against
    inferred: schema_pb2.Schema           # the schema inferred from this data
    anomalies: anomalies_pb2.Anomalies
    findings: list                        # list[Finding]
    drift: dict = dataclasses.field(default_factory=dict)   # "A vs B" -> list[DriftResult]
    baseline_source: str = ""
    #: shards that do not decode (truncated, overwritten, not Examples): always an error for the CLI
    corrupt: list = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not has_anomalies(self.anomalies)

    def summary(self) -> str:
        n = self.statistics.datasets[0].num_examples if self.statistics.datasets else 0
        head = f"{self.name}: {n} examples checked against {self.baseline_source or 'its schema'}"
        if self.ok:
            return head + ": no anomalies."
        return head + f": {len(self.findings)} anomal{'y' if len(self.findings) == 1 else 'ies'}:\n" + \
            "\n".join(f"  - {f}" for f in self.findings)


class _Collector:
    """Keeps fixed-size float vectors per slice value, for per-dimension drift."""

    def __init__(self, spec, key: str | None, limit: int = 20000):
        self.key = key
        self.limit = limit
        self.feats = [f.name for f in (spec.features if spec is not None else ())
                      if f.dtype == "float32" and not f.variable and 1 < (f.size or 0) <= MAX_DRIFT_DIMS]
        self.data: dict[str, dict[str, list]] = {f: {} for f in self.feats}

    def update(self, ex) -> None:
        if not self.feats:
            return
        group = ALL_EXAMPLES
        if self.key is not None:
            v = ex.get(self.key)
            if v is None or as_array(v).size == 0:
                return
            group = decode(as_array(v)[0]) or "(empty)"
        for f in self.feats:
            if f not in ex:
                continue
            arr = as_array(ex[f])
            rows = self.data[f].setdefault(group, [])
            if len(rows) < self.limit and (not rows or arr.size == rows[0].size):
                rows.append(arr.astype(np.float64))

    def matrix(self, feature: str, group: str) -> np.ndarray | None:
        rows = self.data.get(feature, {}).get(group)
        return np.stack(rows) if rows else None


def _iter_store(store, split, problems: list):
    """Examples of a store; a corrupt shard is recorded in ``problems`` instead of crashing the run."""
    import tensorflow as tf

    from emozoo.data.tfrecord import decode_example_numpy, load_spec, shard_paths
    spec = load_spec(store)
    for path in shard_paths(store, split):
        n = 0
        try:
            for rec in tf.data.TFRecordDataset(path, compression_type=spec.compression or None):
                try:
                    ex = decode_example_numpy(rec.numpy())
                except Exception as exc:  # a record that is not an Example
                    problems.append(f"{Path(path).name}: record {n} is not a tf.train.Example ({exc})")
                    n += 1
                    continue
                n += 1
                yield ex
        except (tf.errors.DataLossError, tf.errors.NotFoundError, tf.errors.InvalidArgumentError) as exc:
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            problems.append(f"{Path(path).name}: unreadable after {n} records ({msg})")


def _scan(store, split, spec, schema, slice_keys, drift_key):
    builder = StatisticsBuilder(spec, slice_keys=slice_keys)
    checker = ExampleChecker(schema)
    collector = _Collector(spec, drift_key)
    problems: list[str] = []
    from tqdm.auto import tqdm
    total = sum(spec.counts.values()) if spec is not None and split is None else None
    for ex in tqdm(_iter_store(store, split, problems), total=total, desc=f"validate {Path(store).name}",
                   unit="ex", leave=False, disable=None):
        builder.update(ex)
        checker.update(ex)
        collector.update(ex)
    return builder.result(), checker, collector, problems


def validate_store(store: str | os.PathLike, *, schema: str | os.PathLike | schema_pb2.Schema | None = None,
                   split: str | Sequence[str] | None = None, compare: str | os.PathLike | None = None,
                   drift_slice: str | None = None, slice_keys: Sequence[str] = DEFAULT_SLICE_KEYS,
                   js_threshold: float = 0.1, linf_threshold: float = 0.1) -> ValidationResult:
    """Statistics, anomalies and (optionally) drift of a TFRecord store.

    Args:
        store: the store folder (``spec.json`` + shards).
        schema: the schema to check against (a ``Schema``, a ``.pbtxt`` path or a
            store folder); default the store's own declared ``schema.pbtxt``.
        split: only these store splits.
        compare: a second store; drift of every shared feature, this store vs that one.
        drift_slice: a slice key (``culture``, ``split``, ``corpus``): drift between
            every pair of its values within this store.
    """
    from emozoo.data.tfrecord import SCHEMA_FILE, load_spec
    store = Path(store)
    spec = load_spec(store)
    if schema is None:
        baseline = load_schema(store / SCHEMA_FILE) if (store / SCHEMA_FILE).exists() else spec.to_schema()
        source = f"the store's declared schema ({store / SCHEMA_FILE})"
    elif isinstance(schema, schema_pb2.Schema):
        baseline, source = schema, "the given schema"
    else:
        baseline, source = load_schema(schema), str(schema)
    keys = tuple(slice_keys) + ((drift_slice,) if drift_slice and drift_slice not in slice_keys else ())
    stats, checker, collector, problems = _scan(store, split, spec, baseline, keys, drift_slice)
    anomalies = validate_statistics(stats, baseline)
    splits = [split] if isinstance(split, str) else (list(split) if split else list(spec.counts))
    declared = sum(int(spec.counts.get(s, 0)) for s in splits)
    read = stats.datasets[0].num_examples
    if declared != read and not problems:
        from emozoo.data.store import framing_problem
        from emozoo.data.tfrecord import shard_paths
        broken = [f"{Path(p).name}: {framing_problem(p)}" for p in shard_paths(store, split)
                  if not spec.compression and framing_problem(p)]
        problems.append(f"the store declares {declared} examples in split(s) {splits} but {read} could be read: "
                        "a shard is truncated or was replaced" + (f" ({'; '.join(broken)})" if broken else ""))
    for p in problems:
        info = anomalies.dataset_anomaly_info
        info.severity = ERROR
        info.reason.add(type=T.CUSTOM_VALIDATION, short_description="Corrupt shard", description=p)
    inferred = infer_schema(stats, spec=spec) if stats.datasets[0].num_examples else baseline
    result = ValidationResult(store.name, stats, baseline, inferred, anomalies, [], baseline_source=source,
                              corrupt=list(problems))
    if drift_slice:
        values = sorted(ds.name.split("=", 1)[1] for ds in stats.datasets if ds.name.startswith(f"{drift_slice}="))
        if len(values) < 2:
            raise SchemaError(f"--drift-slice {drift_slice}: the store has {len(values)} value(s) of "
                              f"'{drift_slice}' ({values}); drift needs two or more")
        for va, vb in itertools.combinations(values, 2):
            label = f"{drift_slice}={va} vs {drift_slice}={vb}"
            res = stats_drift(stats, stats, dataset_a=f"{drift_slice}={va}", dataset_b=f"{drift_slice}={vb}")
            res = _with_dimension_drift(res, collector, collector, va, vb, js_threshold)
            result.drift[label] = res
            merge(anomalies, drift_anomalies(res, js_threshold=js_threshold, linf_threshold=linf_threshold,
                                             label=label))
    if compare is not None:
        other = Path(compare)
        ospec = load_spec(other)
        ostats, _, ocollector, oproblems = _scan(other, split, ospec, ospec.to_schema(), (), None)
        if oproblems:
            raise SchemaError(f"the comparison store {other} is corrupt: {oproblems[0]}")
        label = f"{store.name} vs {other.name}"
        res = stats_drift(stats, ostats)
        res = _with_dimension_drift(res, collector, ocollector, None, None, js_threshold)
        result.drift[label] = res
        merge(anomalies, drift_anomalies(res, js_threshold=js_threshold, linf_threshold=linf_threshold, label=label))
    result.findings = findings(anomalies, checker)
    return result


def _with_dimension_drift(res: list[DriftResult], ca: _Collector, cb: _Collector, ga, gb,
                          threshold: float) -> list[DriftResult]:
    """Replace the pooled JS of vector features with their per-dimension drift."""
    out = []
    for r in res:
        if r.feature in ca.feats and r.feature in cb.feats:
            a = ca.matrix(r.feature, ga if ga is not None else ALL_EXAMPLES)
            b = cb.matrix(r.feature, gb if gb is not None else ALL_EXAMPLES)
            if a is not None and b is not None and a.shape[1] == b.shape[1]:
                out.append(dimension_drift(a, b, feature=r.feature, threshold=threshold))
                continue
        out.append(r)
    return out


def validate_manifest(manifest, *, schema=None, root=None, label_set=None,
                      slice_keys: Sequence[str] = DEFAULT_SLICE_KEYS) -> ValidationResult:
    """Statistics and anomalies of a manifest: label distribution, missing files, unknown labels.

    Without ``schema`` the manifest is checked against one inferred from it,
    with the ``emotion`` domain set to ``label_set``'s classes when given (so a
    label outside the set is an anomaly) and every referenced file required.
    """
    stats = compute_manifest_statistics(manifest, slice_keys=slice_keys, check_files=True, root=root)
    inferred = infer_schema(stats)
    if schema is None:
        baseline = schema_pb2.Schema()
        baseline.CopyFrom(inferred)
        source = "a schema inferred from it"
        if label_set is not None:
            from emozoo.data.labels import get_label_set
            ls = get_label_set(label_set)
            for f in baseline.feature:
                if f.name == "emotion":
                    del f.string_domain.value[:]
                    f.string_domain.value.extend(sorted(set(ls.classes) | {""}))
            source += f" (emotion domain: label set {ls.name})"
    else:
        baseline = schema if isinstance(schema, schema_pb2.Schema) else load_schema(schema)
        source = str(schema) if not isinstance(schema, schema_pb2.Schema) else "the given schema"
    anomalies = validate_statistics(stats, baseline, allow_new_features=True)
    checker = ExampleChecker(baseline, id_feature="clip_id")
    from emozoo.validate.statistics import manifest_examples
    for row, ex in zip(manifest, manifest_examples(manifest)):
        ex["clip_id"] = row.clip_id
        checker.update(ex)
    missing = missing_files(manifest, root=root)
    if missing:
        add_reason(anomalies, "path", T.CUSTOM_VALIDATION,
                   f"{len(missing)} of {len(manifest)} rows point at files that do not exist.")
        checker.witnesses[("path", T.CUSTOM_VALIDATION)] = [r.clip_id for r in missing[:5]]
    return ValidationResult(getattr(manifest, "name", "manifest"), stats, baseline, inferred, anomalies,
                            findings(anomalies, checker), baseline_source=source)


def write_outputs(result: ValidationResult, out_dir: str | os.PathLike, *, plot: bool = True) -> Path:
    """Save statistics, schemas, anomalies, drift, findings and the report in ``out_dir``."""
    from emozoo.validate.report import write_report
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _atomic(out / "statistics.pb", result.statistics.SerializeToString())
    save_schema(result.inferred, out / "schema_inferred.pbtxt")
    _atomic(out / "anomalies.pbtxt", text_format.MessageToString(_without_baseline(result.anomalies)).encode())
    _atomic(out / "findings.txt", ("\n".join(str(f) for f in result.findings) + "\n").encode())
    _atomic(out / "drift.json", json.dumps({k: [r.to_json() for r in v] for k, v in result.drift.items()},
                                           indent=1).encode())
    write_report(result, out, plot=plot)
    return out


def _without_baseline(a: anomalies_pb2.Anomalies) -> anomalies_pb2.Anomalies:
    c = anomalies_pb2.Anomalies()
    c.CopyFrom(a)
    c.ClearField("baseline")
    return c


def _atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def load_statistics(path: str | os.PathLike) -> statistics_pb2.DatasetFeatureStatisticsList:
    """Read ``statistics.pb`` (binary ``DatasetFeatureStatisticsList``) written by :func:`write_outputs`."""
    path = Path(path)
    if path.is_dir():
        path = path / "statistics.pb"
    return statistics_pb2.DatasetFeatureStatisticsList.FromString(path.read_bytes())


__all__ = ["ValidationResult", "validate_store", "validate_manifest", "write_outputs", "load_statistics",
           "Finding"]
