"""Sharded TFRecord stores of features or raw media, with a declared feature spec.

A store is a folder::

    <store>/
        spec.json                      # the feature spec, label classes, shard list, counts
        schema.pbtxt                   # the same spec as a tensorflow-metadata Schema
        <split>-00000-of-00004.tfrecord[.gz]
        ...

Writing is atomic per shard (``.tmp`` then rename) and the spec is written
last, so a store whose writer was interrupted has no ``spec.json`` for the
split and is never read as complete.

Every example carries the manifest columns (``clip_id``, ``corpus``,
``speaker``, ``culture``, ``split``, ``emotion``, ``label``, ``dialogue_id``,
``turn_index``) next to its features, so protocols and validation work on a
store as on a manifest.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Iterable, Iterator, Mapping, Sequence

import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from emozoo.errors import SchemaError

DTYPES = ("float32", "int64", "string")
SPEC_FILE = "spec.json"
SCHEMA_FILE = "schema.pbtxt"


@dataclasses.dataclass(frozen=True)
class FeatureSpec:
    """One feature of a store.

    Args:
        name: feature key.
        dtype: ``float32``, ``int64`` or ``string`` (bytes).
        shape: the example-level shape; ``()`` for a scalar. The first dimension
            may be ``None`` for variable length (a waveform, a frame sequence).
        description: what the feature is (written into the schema).
    """

    name: str
    dtype: str
    shape: tuple = ()
    description: str = ""

    def __post_init__(self):
        if self.dtype not in DTYPES:
            raise SchemaError(f"feature {self.name!r}: dtype {self.dtype!r} not in {DTYPES}")
        shape = tuple(None if d in (None, -1) else int(d) for d in self.shape)
        if any(d is None for d in shape[1:]):
            raise SchemaError(f"feature {self.name!r}: only the first dimension may be variable, got {shape}")
        object.__setattr__(self, "shape", shape)

    @property
    def variable(self) -> bool:
        return bool(self.shape) and self.shape[0] is None

    @property
    def size(self) -> int | None:
        """Number of values per example (None when variable)."""
        return None if self.variable else int(np.prod(self.shape, dtype=np.int64))

    @property
    def inner_size(self) -> int:
        return int(np.prod(self.shape[1:], dtype=np.int64)) if self.shape else 1

    @property
    def tf_dtype(self):
        return {"float32": tf.float32, "int64": tf.int64, "string": tf.string}[self.dtype]

    def to_json(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape),
                "description": self.description}


# Manifest columns carried by every example.
META_FEATURES = (
    FeatureSpec("clip_id", "string", (), "clip id within its corpus"),
    FeatureSpec("corpus", "string", (), "corpus name"),
    FeatureSpec("speaker", "string", (), "speaker/subject id"),
    FeatureSpec("culture", "string", (), "culture of the clip"),
    FeatureSpec("split", "string", (), "official or protocol split"),
    FeatureSpec("emotion", "string", (), "harmonised emotion; empty when unlabelled"),
    FeatureSpec("label", "int64", (), "class index in the store's label set; -1 when unlabelled"),
    FeatureSpec("dialogue_id", "string", (), "dialogue id (conversational corpora)"),
    FeatureSpec("turn_index", "int64", (), "turn within the dialogue; -1 otherwise"),
)


@dataclasses.dataclass
class StoreSpec:
    """The declared spec of a store: features, label classes and provenance."""

    features: tuple
    classes: tuple = ()
    label_set: str = ""
    description: str = ""
    shards: dict = dataclasses.field(default_factory=dict)   # split -> [file names]
    counts: dict = dataclasses.field(default_factory=dict)   # split -> examples
    compression: str = ""

    def __post_init__(self):
        self.features = tuple(self.features)
        names = [f.name for f in self.features]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise SchemaError(f"duplicate feature names {sorted(dup)}")

    @classmethod
    def with_meta(cls, features: Sequence[FeatureSpec], **kwargs) -> "StoreSpec":
        """Spec with the manifest columns followed by ``features``."""
        return cls(tuple(META_FEATURES) + tuple(features), **kwargs)

    def __getitem__(self, name: str) -> FeatureSpec:
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    def to_json(self) -> dict:
        return {"features": [f.to_json() for f in self.features], "classes": list(self.classes),
                "label_set": self.label_set, "description": self.description,
                "shards": self.shards, "counts": self.counts, "compression": self.compression}

    @classmethod
    def from_json(cls, d: Mapping) -> "StoreSpec":
        try:
            feats = tuple(FeatureSpec(f["name"], f["dtype"], tuple(f["shape"]), f.get("description", ""))
                          for f in d["features"])
        except (KeyError, TypeError) as exc:
            raise SchemaError(f"malformed store spec: {exc}") from exc
        return cls(feats, tuple(d.get("classes", ())), d.get("label_set", ""), d.get("description", ""),
                   dict(d.get("shards", {})), dict(d.get("counts", {})), d.get("compression", ""))

    # -- tensorflow-metadata Schema ------------------------------------------
    def to_schema(self) -> schema_pb2.Schema:
        """The spec as a TFX ``Schema`` proto (shape, type, presence, label domain)."""
        schema = schema_pb2.Schema()
        for f in self.features:
            feat = schema.feature.add()
            feat.name = f.name
            feat.type = {"float32": schema_pb2.FLOAT, "int64": schema_pb2.INT,
                         "string": schema_pb2.BYTES}[f.dtype]
            feat.presence.min_fraction = 1.0
            feat.presence.min_count = 1
            if f.description:
                feat.annotation.tag.append(f.description)
            if f.variable:
                feat.value_count.min = 0 if f.inner_size == 0 else f.inner_size
                if f.shape[1:]:
                    feat.annotation.tag.append(f"inner_shape={list(f.shape[1:])}")
            else:
                feat.shape.SetInParent()  # a scalar has a shape with no dims
                for d in f.shape:
                    feat.shape.dim.add().size = d
            if f.name == "emotion" and self.classes:
                feat.string_domain.name = "emotion"
                feat.string_domain.value.extend(list(self.classes) + [""])
            if f.name == "label" and self.classes:
                feat.int_domain.min = -1
                feat.int_domain.max = len(self.classes) - 1
        return schema

    @classmethod
    def from_schema(cls, schema: schema_pb2.Schema) -> "StoreSpec":
        feats, classes = [], ()
        for feat in schema.feature:
            dtype = {schema_pb2.FLOAT: "float32", schema_pb2.INT: "int64",
                     schema_pb2.BYTES: "string"}[feat.type]
            tags = list(feat.annotation.tag)
            desc = next((t for t in tags if not t.startswith("inner_shape=")), "")
            if feat.HasField("shape"):
                shape = tuple(d.size for d in feat.shape.dim)
            else:
                inner = next((json.loads(t.split("=", 1)[1]) for t in tags if t.startswith("inner_shape=")), [])
                shape = (None, *inner)
            feats.append(FeatureSpec(feat.name, dtype, shape, desc))
            if feat.name == "emotion" and feat.HasField("string_domain"):
                classes = tuple(v for v in feat.string_domain.value if v)
        return cls(tuple(feats), classes)


# -- encoding ---------------------------------------------------------------

def _as_values(spec: FeatureSpec, value, check_finite: bool) -> np.ndarray:
    if spec.dtype == "string":
        arr = np.asarray(value, dtype=object)
        flat = [v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in arr.reshape(-1)]
        arr = np.array(flat, dtype=object).reshape(arr.shape)
    else:
        try:
            arr = np.asarray(value, dtype=np.float32 if spec.dtype == "float32" else np.int64)
        except (TypeError, ValueError) as exc:
            raise SchemaError(f"feature {spec.name!r}: cannot convert to {spec.dtype} ({exc})") from exc
    if spec.variable:
        if arr.ndim != len(spec.shape) or tuple(arr.shape[1:]) != spec.shape[1:]:
            raise SchemaError(f"feature {spec.name!r}: shape {arr.shape} does not match {spec.shape}")
    elif tuple(arr.shape) != spec.shape:
        raise SchemaError(f"feature {spec.name!r}: shape {arr.shape} does not match declared {spec.shape}")
    if check_finite and spec.dtype == "float32" and not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.isfinite(arr).sum())
        raise SchemaError(f"feature {spec.name!r}: {bad} NaN/inf value(s); fix the extractor or "
                          "pass check_finite=False to store them on purpose")
    return arr.reshape(-1)


def encode_example(features: Mapping, spec: StoreSpec, *, check_finite: bool = True) -> bytes:
    """Serialise one example, checking it against the spec (missing/extra keys, shape, dtype, NaN)."""
    missing = [f.name for f in spec.features if f.name not in features]
    if missing:
        raise SchemaError(f"example {features.get('clip_id', '?')!r} lacks feature(s) {missing}")
    extra = sorted(set(features) - set(spec.names))
    if extra:
        raise SchemaError(f"example {features.get('clip_id', '?')!r} has undeclared feature(s) {extra}")
    out = {}
    for f in spec.features:
        vals = _as_values(f, features[f.name], check_finite)
        if f.dtype == "float32":
            out[f.name] = tf.train.Feature(float_list=tf.train.FloatList(value=vals))
        elif f.dtype == "int64":
            out[f.name] = tf.train.Feature(int64_list=tf.train.Int64List(value=vals))
        else:
            out[f.name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=list(vals)))
    return tf.train.Example(features=tf.train.Features(feature=out)).SerializeToString()


def decode_example_numpy(serialized: bytes) -> dict:
    """Parse one serialised example into numpy arrays without applying a spec (for validation)."""
    ex = tf.train.Example.FromString(serialized)
    out = {}
    for name, feat in ex.features.feature.items():
        kind = feat.WhichOneof("kind")
        if kind == "float_list":
            out[name] = np.asarray(feat.float_list.value, dtype=np.float32)
        elif kind == "int64_list":
            out[name] = np.asarray(feat.int64_list.value, dtype=np.int64)
        elif kind == "bytes_list":
            out[name] = np.asarray(list(feat.bytes_list.value), dtype=object)
        else:
            out[name] = np.asarray([], dtype=np.float32)
    return out


# -- writing ------------------------------------------------------------------

def _shard_name(split: str, i: int, n: int, compression: str) -> str:
    return f"{split}-{i:05d}-of-{n:05d}.tfrecord" + (".gz" if compression == "GZIP" else "")


def write_store(examples: Iterable[Mapping], out_dir: str | os.PathLike, spec: StoreSpec, *,
                split: str = "all", num_shards: int | None = None, examples_per_shard: int = 2000,
                compression: str | None = None, check_finite: bool = True,
                num_examples: int | None = None) -> Path:
    """Write ``examples`` (dicts of feature -> value) as sharded TFRecords with ``spec``.

    Args:
        examples: iterable of feature dicts; each is checked by :func:`encode_example`.
        out_dir: the store folder (created).
        spec: the declared :class:`StoreSpec`; its ``shards``/``counts`` are updated.
        split: shard-name prefix (``train``, ``test``, ``all``).
        num_shards: number of shards; default from ``examples_per_shard`` (needs a sized input).
        compression: ``None`` or ``"GZIP"``.
        check_finite: refuse NaN/inf float values (default).
        num_examples: length of ``examples`` when it is a generator.

    Returns the store folder. Examples are dealt round-robin over the shards so
    every shard sees every part of the input.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    compression = (compression or "").upper()
    if compression not in ("", "GZIP"):
        raise SchemaError(f"compression must be None or 'GZIP', got {compression!r}")
    if num_shards is None:
        n = num_examples if num_examples is not None else (len(examples) if hasattr(examples, "__len__") else None)
        num_shards = max(1, math.ceil(n / examples_per_shard)) if n else 1
    names = [_shard_name(split, i, num_shards, compression) for i in range(num_shards)]
    _merge_existing(spec, out_dir)
    opts = tf.io.TFRecordOptions(compression_type=compression or None)
    writers = [tf.io.TFRecordWriter(str(out_dir / (n + ".tmp")), opts) for n in names]
    count = 0
    try:
        for i, ex in enumerate(examples):
            writers[i % num_shards].write(encode_example(ex, spec, check_finite=check_finite))
            count += 1
    except BaseException:
        for w in writers:
            w.close()
        for n in names:
            (out_dir / (n + ".tmp")).unlink(missing_ok=True)
        raise
    for w in writers:
        w.close()
    for n in names:
        os.replace(out_dir / (n + ".tmp"), out_dir / n)
    # Drop shards of an earlier write of this split with another shard count.
    for old in spec.shards.get(split, []):
        if old not in names:
            (out_dir / old).unlink(missing_ok=True)
    spec.shards[split] = names
    spec.counts[split] = count
    spec.compression = compression
    save_spec(spec, out_dir)
    return out_dir


def _merge_existing(spec: StoreSpec, out_dir: Path) -> None:
    """Take over the splits of a store already at ``out_dir`` written with the same features."""
    path = out_dir / SPEC_FILE
    if not path.exists():
        return
    try:
        old = StoreSpec.from_json(json.loads(path.read_text()))
    except (json.JSONDecodeError, SchemaError):
        return
    if old.names != spec.names:
        raise SchemaError(f"{out_dir} already holds a store with features {old.names}; "
                          f"writing {spec.names} there would mix two schemas: use another folder")
    for split, shards in old.shards.items():
        spec.shards.setdefault(split, shards)
        spec.counts.setdefault(split, old.counts.get(split, 0))


def save_spec(spec: StoreSpec, out_dir: str | os.PathLike) -> None:
    """Write ``spec.json`` and ``schema.pbtxt`` atomically."""
    out_dir = Path(out_dir)
    for name, text in ((SPEC_FILE, json.dumps(spec.to_json(), indent=2)),
                       (SCHEMA_FILE, text_format.MessageToString(spec.to_schema()))):
        tmp = out_dir / (name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, out_dir / name)


def load_spec(store: str | os.PathLike) -> StoreSpec:
    path = Path(store) / SPEC_FILE
    if not path.exists():
        raise SchemaError(f"{store} is not a complete TFRecord store: no {SPEC_FILE} "
                          "(was the writer interrupted? re-run the extraction)")
    try:
        return StoreSpec.from_json(json.loads(path.read_text()))
    except json.JSONDecodeError as exc:
        raise SchemaError(f"{path} is not valid JSON ({exc})") from exc


def shard_paths(store: str | os.PathLike, split: str | Sequence[str] | None = None) -> list[str]:
    store = Path(store)
    spec = load_spec(store)
    splits = list(spec.shards) if split is None else ([split] if isinstance(split, str) else list(split))
    files = []
    for s in splits:
        if s not in spec.shards:
            raise SchemaError(f"store {store} has no split {s!r}; it has {sorted(spec.shards)}")
        for n in spec.shards[s]:
            p = store / n
            if not p.exists():
                raise SchemaError(f"store {store}: shard {n} listed in {SPEC_FILE} is missing")
            files.append(str(p))
    return files


# -- reading ------------------------------------------------------------------

def parse_fn(spec: StoreSpec):
    """A tf function parsing a serialised example into tensors of the declared shapes."""
    desc = {}
    for f in spec.features:
        if f.variable:
            desc[f.name] = tf.io.VarLenFeature(f.tf_dtype)
        else:
            desc[f.name] = tf.io.FixedLenFeature(f.shape, f.tf_dtype)

    def parse(serialized):
        ex = tf.io.parse_single_example(serialized, desc)
        for f in spec.features:
            if f.variable:
                dense = tf.sparse.to_dense(ex[f.name])
                ex[f.name] = tf.reshape(dense, (-1, *f.shape[1:]))
        return ex

    return parse


def read_store(store: str | os.PathLike, split: str | Sequence[str] | None = None, *,
               features: Sequence[str] | None = None, deterministic: bool = True,
               num_parallel_reads: int | None = None) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` of parsed examples (dicts of tensors) from a store.

    Args:
        store: the store folder.
        split: one split, several, or None for all.
        features: keep only these keys (default all).
        deterministic: fixed order (shards in order, interleave deterministic).
    """
    spec = load_spec(store)
    files = shard_paths(store, split)
    ds = tf.data.TFRecordDataset(files, compression_type=spec.compression or None,
                                 num_parallel_reads=num_parallel_reads or (None if deterministic else tf.data.AUTOTUNE))
    parse = parse_fn(spec)
    if features is not None:
        unknown = set(features) - set(spec.names)
        if unknown:
            raise SchemaError(f"store {store} has no feature(s) {sorted(unknown)}; it has {spec.names}")
        keep = list(features)
        base_parse = parse
        parse = lambda s: {k: v for k, v in base_parse(s).items() if k in keep}  # noqa: E731
    opts = tf.data.Options()
    opts.deterministic = deterministic
    opts.autotune.enabled = False   # no stall when an iterator ends (issue 21, emozoo.train.data.finalize)
    return ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE).with_options(opts)


def iter_examples(store: str | os.PathLike, split: str | Sequence[str] | None = None) -> Iterator[dict]:
    """Raw examples as numpy dicts, no spec applied: what validation inspects."""
    spec = load_spec(store)
    for path in shard_paths(store, split):
        for rec in tf.data.TFRecordDataset(path, compression_type=spec.compression or None):
            yield decode_example_numpy(rec.numpy())


def meta_values(row, classes: Sequence[str]) -> dict:
    """The manifest columns of a row as example features (``label`` indexed in ``classes``)."""
    emotion = row.emotion if row.emotion in classes else ""
    if row.emotion and classes and row.emotion not in classes:
        raise SchemaError(f"clip {row.clip_id!r}: emotion {row.emotion!r} is not one of the store's classes "
                          f"{list(classes)}; map the manifest to a label set first")
    return {
        "clip_id": row.clip_id, "corpus": row.corpus, "speaker": row.speaker,
        "culture": row.culture, "split": row.split, "emotion": emotion,
        "label": classes.index(emotion) if emotion else -1,
        "dialogue_id": row.dialogue_id, "turn_index": row.turn_index,
    }
