"""Feature stores -> numpy tables -> protocol folds for feature-vector experiments.

A store of utterance-level features (IS10: 1582 values per clip) is small enough to hold in
memory: :func:`load_table` reads it once; :func:`make_folds` turns the store's manifest columns
into a :class:`emozoo.data.manifest.Manifest`, runs the protocol of
:mod:`emozoo.data.protocols` on it (speaker-disjointness checked there) and slices the arrays.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import re
from pathlib import Path

import numpy as np

from emozoo.data.labels import get_label_set
from emozoo.data.manifest import Manifest, ManifestRow
from emozoo.data import protocols
from emozoo.data.tfrecord import load_spec, parse_fn, shard_paths
from emozoo.errors import SchemaError, SplitError

META = ("clip_id", "corpus", "speaker", "culture", "emotion")

#: batches prefetched by every dataset :func:`finalize` ends (a fixed buffer: no autotuning)
PREFETCH = 2


def dataset_options(*, deterministic: bool = True):
    """The ``tf.data.Options`` of every dataset emozoo trains, evaluates or reads stores with:
    autotuning off (see :func:`finalize` for why) and a deterministic order by default."""
    import tensorflow as tf

    opts = tf.data.Options()
    opts.autotune.enabled = False
    opts.deterministic = bool(deterministic)
    return opts


def finalize(ds, *, prefetch: int = PREFETCH, deterministic: bool = True):
    """End an input pipeline the way emozoo ends all of them: ``prefetch(prefetch)`` (a fixed
    buffer; 0 = none) and :func:`dataset_options` (tf.data autotuning off).

    Why (issue 21; measured in ``docs/performance.md`` and ``benchmarks/bench_fit_stall.py``): with
    autotuning on, TensorFlow's default, every iterator owns a model thread that re-optimises the
    pipeline and then sleeps for a period that doubles after each pass (10, 20, 40, ... ms; 10 s
    after a 12 s life). Destroying the iterator (``fit`` returning, Keras starting a new epoch
    iterator, a store shard read to its end) waits for that sleep to run out: up to the age of
    the iterator, e.g. 8.5 s after 12 s of use, and 30-350 ms at the end of a 0.5-1 s ``fit``.
    emozoo's pipelines are in-memory gathers and small parses whose share of a training step is
    1-2 % without autotuning, so nothing is lost by switching it off.

    Example:

    >>> import tensorflow as tf
    >>> ds = finalize(tf.data.Dataset.range(10).batch(4))
    >>> ds.options().autotune.enabled
    False
    """
    if prefetch:
        ds = ds.prefetch(int(prefetch))
    return ds.with_options(dataset_options(deterministic=deterministic))


@dataclasses.dataclass
class FeatureTable:
    """All labelled examples of a store as arrays (``meta`` holds str arrays)."""

    store: str
    x: np.ndarray
    y: np.ndarray
    meta: dict
    classes: tuple

    def __len__(self):
        return len(self.y)

    def take(self, idx) -> "FeatureTable":
        idx = np.asarray(idx, np.int64)
        return FeatureTable(self.store, self.x[idx], self.y[idx], {k: v[idx] for k, v in self.meta.items()},
                            self.classes)

    @staticmethod
    def concat(tables) -> "FeatureTable":
        tables = list(tables)
        return FeatureTable("+".join(t.store for t in tables), np.concatenate([t.x for t in tables]),
                            np.concatenate([t.y for t in tables]),
                            {k: np.concatenate([t.meta[k] for t in tables]) for k in META}, tables[0].classes)


@functools.lru_cache(maxsize=8)
def _load_cached(store: str, features: str, mtime: float) -> FeatureTable:
    spec = load_spec(store)
    if features not in spec.names:
        raise SchemaError(f"store {store} has no feature {features!r}; it has {spec.names}")
    cols = {k: [] for k in (features, "label") + META}
    for ex in _read_shards(store, spec, list(cols)):
        for k in cols:
            cols[k].append(ex[k])
    y = np.asarray(cols["label"], np.int64)
    keep = y >= 0
    if not keep.any():
        raise SchemaError(f"store {store} has no labelled example (label >= 0)")
    shapes = {np.shape(v) for v in cols[features]}
    if len(shapes) > 1:
        example = ", ".join(str(sh) for sh in sorted(shapes)[:3])
        raise SchemaError(f"feature {features!r} of {store} has a different shape per example ({len(shapes)} shapes, "
                          f"e.g. {example}): feature-vector experiments (python -m emozoo.train) need one "
                          "fixed-size vector per clip; frame sequences are read as padded batches with "
                          "emozoo.data.pipelines.from_store by the methods that use them")
    x = np.stack(cols[features]).astype(np.float32)[keep]
    if x.ndim != 2:
        raise SchemaError(f"feature {features!r} of {store} has shape {x.shape[1:]} per example; "
                          "feature-vector experiments need one vector per clip")
    meta = {k: np.asarray([v.decode("utf-8") for v in cols[k]], dtype=str)[keep] for k in META}
    return FeatureTable(store, x, y[keep], meta, tuple(spec.classes))


def checked_shard_reads(store: str, spec, paths, dataset_of, count=lambda item: 1):
    """Yield the items of ``dataset_of(path)`` for every shard path in turn, with the store's
    corruption checks, so that every reader of a store refuses the same damage in the same words
    (:class:`~emozoo.data.store.CorruptShardError`):

    * a shard that does not decode (named, with the count read before the error);
    * a shard whose record count differs from the one ``extract.json`` lists for it;
    * a total that differs from ``spec.json``'s counts (a cut TensorFlow skipped silently, or one at
      a record boundary), naming the shard with a framing problem when the store is uncompressed.

    ``count(item)`` is the number of records an item holds (1 per example; a batch's length).
    """
    import tensorflow as tf

    from emozoo.data.store import CorruptShardError, framing_problem, tf_read_error

    paths = list(paths)
    expected = _shard_counts(store)
    total = 0
    for path in paths:
        name = Path(path).name
        n = 0
        try:
            for item in dataset_of(path).as_numpy_iterator():
                yield item
                n += count(item)
        except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as exc:
            raise CorruptShardError(store, name, tf_read_error(exc), n) from None
        want = expected.get(name)
        if want is not None and n != want:
            raise CorruptShardError(store, name, f"{n} records where extract.json lists {want}")
        total += n
    declared = sum(int(v) for v in spec.counts.values())
    if spec.counts and total != declared:
        reason = f"{total} examples read where spec.json declares {declared}"
        for path in paths if not spec.compression else ():
            problem = framing_problem(path)
            if problem:
                raise CorruptShardError(store, Path(path).name, f"{problem}; {reason}")
        raise CorruptShardError(store, None, reason)


def _read_shards(store: str, spec, keys: list):
    """The examples of every shard of ``store`` (numpy dicts of ``keys``), shard by shard, so that a
    shard that does not decode is named (:func:`checked_shard_reads`)."""
    import tensorflow as tf

    parse = parse_fn(spec)

    def dataset_of(path):
        ds = tf.data.TFRecordDataset(path, compression_type=spec.compression or None)
        ds = ds.map(lambda s: {k: v for k, v in parse(s).items() if k in keys},
                    num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return finalize(ds, prefetch=0)   # one iterator per shard: no autotune thread to wait for at its end
    yield from checked_shard_reads(store, spec, shard_paths(store), dataset_of)


def _shard_counts(store: str) -> dict:
    """``shard file -> example count`` from the store's ``extract.json`` (empty when it has none)."""
    import json

    try:
        ext = json.loads((Path(store) / "extract.json").read_text(encoding="utf-8"))
        return {row[0]: int(row[1]) for rows in ext["shards"].values() for row in rows}
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return {}


class StoreMissing(SchemaError):
    """No feature store where an experiment or evaluation expects one; ``command`` builds it."""

    def __init__(self, path, command: str):
        self.path, self.command = str(path), command
        super().__init__(f"no feature store at {path}: build it with `{command}`")


def load_table(store: str | os.PathLike, features: str, label_set: str = "", *, corpus: str = "",
               command: str = "") -> FeatureTable:
    """The labelled examples of ``store`` (read once per process, cached).

    A missing store raises :class:`StoreMissing` naming ``command``, by default the command
    registered for ``features`` (:func:`emozoo.experiments.store_command`, formatted with
    ``corpus`` and ``label_set``)."""
    path = existing_store(store, features, label_set, corpus=corpus, command=command)
    return check_label_set(_load_cached(str(path), features, (path / "spec.json").stat().st_mtime), path, label_set)


def existing_store(store, features: str, label_set: str = "", *, corpus: str = "", command: str = "") -> Path:
    """``store`` resolved, or :class:`StoreMissing` naming ``command`` (default: the command
    registered for ``features``) when it has no ``spec.json``."""
    path = Path(store).resolve()
    if not (path / "spec.json").exists():
        if not command:
            from emozoo.experiments import store_command
            command = store_command(corpus=corpus, features=features, label_set=label_set, store=str(store))
        raise StoreMissing(path, command)
    return path


def check_label_set(table, path, label_set: str):
    """``table`` (anything with ``classes``) when its classes are those of ``label_set`` (or no
    label set is asked for); otherwise :class:`SchemaError` naming the re-extract flag."""
    if label_set:
        want = get_label_set(label_set).classes
        if table.classes and tuple(table.classes) != tuple(want):
            raise SchemaError(f"store {path} has classes {table.classes}, the experiment expects label set "
                              f"{label_set!r} {want}; re-extract with --label-set {label_set}")
    return table


def table_manifest(t: FeatureTable, name: str = "") -> Manifest:
    return Manifest([ManifestRow(clip_id=c, corpus=co, speaker=s, culture=cu, emotion=e)
                     for c, co, s, cu, e in zip(*(t.meta[k] for k in META))], name=name)


@dataclasses.dataclass
class Fold:
    """One split of the protocol as arrays."""

    name: str
    train: FeatureTable
    valid: FeatureTable | None
    test: FeatureTable | None
    sizes: dict
    unlabelled: FeatureTable | None = None   # labels withheld (cross-culture target), for models that use it

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", self.name).strip("_")


def _index(t: FeatureTable, m: Manifest) -> np.ndarray:
    pos = {(c, co): i for i, (c, co) in enumerate(zip(t.meta["clip_id"], t.meta["corpus"]))}
    return np.asarray([pos[(r.clip_id, r.corpus)] for r in m], np.int64)


def _fold(name: str, table: FeatureTable, split, test_table: FeatureTable | None = None) -> Fold:
    train = table.take(_index(table, split.train))
    valid = table.take(_index(table, split.valid)) if len(split.valid) else None
    tt = test_table if test_table is not None else table
    test = tt.take(_index(tt, split.test)) if len(split.test) else None
    unl = tt.take(_index(tt, split.unlabelled)) if len(split.unlabelled) else None
    if unl is not None:
        unl = dataclasses.replace(unl, y=np.full(len(unl), -1, np.int64))   # the labels are never passed on
    return Fold(name, train, valid, test, split.sizes(), unl)


def make_folds(data, *, root: str | os.PathLike = ".", load=None) -> tuple[list[Fold], tuple]:
    """Folds of ``data`` (a :class:`emozoo.experiments.DataConfig`) and the class names.

    ``load`` replaces :func:`load_table` (same signature); :func:`emozoo.train.streaming.load_meta`
    gives folds of the manifest columns only, from this same protocol code."""
    load_table = load or globals()["load_table"]
    root = Path(root)
    resolve = lambda p: str(p if Path(p).is_absolute() else root / p)  # noqa: E731
    if not data.corpora:
        raise SplitError("data.corpora is empty: name at least one training corpus")
    tables = [load_table(resolve(data.store_for(c)), data.features, data.label_set, corpus=c) for c in data.corpora]
    classes = tables[0].classes or get_label_set(data.label_set).classes
    for t in tables[1:]:
        if t.classes != tables[0].classes:
            raise SchemaError(f"stores {tables[0].store} and {t.store} have different classes")
    source = FeatureTable.concat(tables) if len(tables) > 1 else tables[0]
    src_m = table_manifest(source, "+".join(data.corpora))
    kw = dict(data.protocol_kwargs)
    seed = int(kw.pop("seed", 0))
    p = data.protocol.lower()
    if p == "cross_corpus":
        if not data.target:
            raise SplitError("protocol cross_corpus needs data.target (the test corpus)")
        target = load_table(resolve(data.store_for(data.target)), data.features, data.label_set, corpus=data.target)
        if target.classes != source.classes:
            raise SchemaError(f"target store {target.store} has classes {target.classes}, source {source.classes}")
        # ``transductive`` has one meaning, defined in cross_culture_split.target_splits (true: the
        # whole target unlabelled and tested, one fold; false: the target's speakers in halves, two folds)
        from emozoo.models.adv_culture.cross_culture_split import TRANSDUCTIVE_DEFAULT, target_splits

        tgt_m = table_manifest(target, data.target)
        base = protocols.cross_corpus(src_m, tgt_m, valid_speakers=data.valid_speakers, seed=seed,
                                      unlabelled_target=False)
        folds = []
        for suffix, unl, test in target_splits(tgt_m, transductive=kw.get("transductive", TRANSDUCTIVE_DEFAULT),
                                               seed=seed):
            split = protocols.check_speaker_disjoint(dataclasses.replace(
                base, name=base.name + suffix, test=test, unlabelled=unl))
            folds.append(_fold(f"{'+'.join(data.corpora)}_to_{data.target}{suffix}", source, split, target))
    elif p == "multi_corpus":
        ms = [table_manifest(t, c) for t, c in zip(tables, data.corpora)]
        folds = [_fold(s.name, source, s) for s in protocols.multi_corpus(ms, k=int(kw.get("k", 5)), seed=seed)]
    elif p == "all":
        split = protocols.cross_corpus(src_m, Manifest([]), valid_speakers=data.valid_speakers, seed=seed,
                                       unlabelled_target=False)
        folds = [_fold("all", source, split)]
    else:
        if p == "loso":
            kw.setdefault("valid_speakers", data.valid_speakers)
            kw["seed"] = seed
        elif p in ("speaker_kfold", "mono_culture"):
            kw.setdefault("valid_speakers", data.valid_speakers)
            kw["seed"] = seed
        splits = protocols.generate(p, src_m, **kw)
        folds = [_fold(s.name, source, s) for s in splits]
    if data.folds:
        bad = [i for i in data.folds if not 0 <= int(i) < len(folds)]
        if bad:
            raise SplitError(f"data.folds {bad} out of range: the protocol gives {len(folds)} folds")
        folds = [folds[int(i)] for i in data.folds]
    for f in folds:
        if not len(f.train):
            raise SplitError(f"fold {f.name}: empty training set")
    return folds, tuple(classes)
