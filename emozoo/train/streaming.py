"""Streaming input: a ``tf.data`` pipeline over a store's TFRecord shards, for stores larger than memory.

The in-memory path (:func:`emozoo.train.data.load_table`) reads a whole store into numpy; that is
the right cache for the small utterance-level stores (IS10 of EmoDB: 535 x 1582 floats) and stays
the path for them. A store whose feature arrays exceed :data:`STREAM_THRESHOLD_BYTES` is streamed
instead (``data.streaming = "auto"``, the default; ``true``/``false`` force one path):

1. **Fold membership without the features.** :func:`load_meta` reads only the manifest columns
   of the store (``clip_id``, ``corpus``, ``speaker``, ``culture``, ``emotion``, ``label``),
   vectorised with ``tf.io.parse_example``, and returns a :class:`~emozoo.train.data.FeatureTable`
   whose ``x`` has zero columns. :func:`make_stream_folds` hands that loader to
   :func:`emozoo.train.data.make_folds`, so the folds come from the *same* protocol code as the
   in-memory ones and hold the same rows.
2. **The pipeline** (:func:`stream_fold_dataset`), per epoch ``e``: the shard list shuffled
   statelessly from ``(seed, e)``; each shard read in blocks of records
   (``TFRecordDataset(shard).batch(block)``), ``cycle_length`` shards interleaved block by block
   (``deterministic=True``) and their blocks joined into one window of ``shuffle_buffer`` records;
   the window parsed by one vectorised ``tf.io.parse_example`` call (not one op per record); the
   fold membership filter in the graph (a ``tf.lookup.StaticHashTable`` of ``corpus/speaker`` keys
   when the fold's side is exactly "every labelled clip of these speakers", else of
   ``corpus/clip_id`` keys, which then also give the class index); the window's rows permuted (a
   stateless permutation per window); ``rebatch(batch_size)``; optional class weights per row; and
   :func:`emozoo.train.data.finalize` (fixed prefetch, tf.data autotuning off).
3. **In the trainer** (:class:`StreamedFold`): the training side streams; the z-normalisation
   statistics come from one streaming pass (float64 moments, the same mean/std as
   ``FeatureStandardization.fit`` on the whole array); the validation and test sides, which the
   protocols keep small (held-out speakers), are read into memory once per fold, so model
   selection, the confusion images, predictions and reports are unchanged.

Shuffling: the brief of issue 19 names ``Dataset.shuffle(buffer, seed)``; we permute windows of
``shuffle_buffer`` records as whole tensors instead (``shuffle="window"``, the default) because a
row-level shuffle makes every row a tf.data element (unbatch, shuffle, batch), and per-element
work is where a TFRecord pipeline's time goes (``benchmarks/bench_input.py --profile``).
``shuffle="rows"`` keeps the per-row buffer for comparison. A window holds consecutive blocks of
``cycle_length`` shards (whose rows ``write_store`` dealt round-robin), the same rows a per-record
interleave would put in a buffer of that size; with the shard-order shuffle the order is random at
the scale of the window. The batches are deterministic for a given seed and epoch.

What is not streamed: models that build their own fold inputs (``fold_arrays``/``prepare_fold``
hooks: adv_culture, DANN, EMODAL) need the in-memory tables; a streamed fold refuses them with a
one-line :class:`~emozoo.errors.ExperimentError` (set ``data.streaming=false``). A shard that does
not decode is named by :func:`load_meta` (:class:`~emozoo.data.store.CorruptShardError`) before
training starts, since it reads every record; a shard damaged *during* training surfaces as
TensorFlow's ``DataLossError``.

Example:

>>> from emozoo.train.streaming import load_meta, Membership, stream_fold_dataset  # doctest: +SKIP
>>> table = load_meta("tfrecords/emodb_is10", "is10")                              # doctest: +SKIP
>>> members = Membership.of(table, table)                                           # doctest: +SKIP
>>> ds = stream_fold_dataset("tfrecords/emodb_is10", "is10", members=members, batch_size=32,
...                          shuffle_buffer=4096, seed=0, epochs=2)                 # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from emozoo.data.tfrecord import load_spec, shard_paths
from emozoo.errors import ExperimentError, SchemaError
from emozoo.train.data import META, FeatureTable, Fold, check_label_set, existing_store, finalize

#: stores whose feature arrays (examples x values x 4 bytes) exceed this are streamed under
#: ``data.streaming = "auto"``; smaller ones are read into memory (2 GiB: a fifth of a 16 GB laptop,
#: and 100x the largest utterance-level store of the paper tables)
STREAM_THRESHOLD_BYTES = 2 * 1024 ** 3
#: records per window: parsed by one ``parse_example`` call and permuted together (``shuffle="window"``);
#: or the row buffer (``shuffle="rows"``)
SHUFFLE_BUFFER = 8192
#: shards read at once by the interleave
CYCLE_LENGTH = 4
#: parallel parse calls (a fixed number: autotuning is off, see ``finalize``)
PARSE_CALLS = 2
#: rows per batch of the passes that read a whole side (normalisation, valid/test)
READ_BATCH = 4096

_MODES = {"auto": "auto", "true": True, "false": False}


def streaming_mode(value) -> str | bool:
    """``data.streaming`` as ``"auto"``, ``True`` or ``False`` (also from the strings an override gives)."""
    if isinstance(value, bool):
        return value
    mode = _MODES.get(str(value).strip().lower())
    if mode is None:
        raise ExperimentError(f"data.streaming must be auto, true or false, got {value!r}")
    return mode


def feature_bytes(store: str | os.PathLike, feature: str) -> int:
    """Bytes the float32 arrays of ``feature`` take in memory for every example of ``store``."""
    spec = load_spec(store)
    try:
        f = spec[feature]
    except KeyError:
        raise SchemaError(f"store {store} has no feature {feature!r}; it has {spec.names}") from None
    per = f.size if f.size is not None else f.inner_size * 1000   # variable length: a guess of 1000 frames
    return int(sum(int(v) for v in spec.counts.values()) * per * 4)


# -- the manifest columns of a store, without its features -----------------------------------------

def _shard_state(store: Path) -> tuple:
    files = shard_paths(store)
    return tuple((f, os.path.getsize(f), os.stat(f).st_mtime_ns) for f in files)


@functools.lru_cache(maxsize=8)
def _meta_cached(store: str, feature: str, state: tuple) -> FeatureTable:
    import tensorflow as tf

    from emozoo.train.data import checked_shard_reads

    spec = load_spec(store)
    if feature not in spec.names:
        raise SchemaError(f"store {store} has no feature {feature!r}; it has {spec.names}")
    desc = {k: tf.io.FixedLenFeature((), tf.string) for k in META}
    desc["label"] = tf.io.FixedLenFeature((), tf.int64)
    cols = {k: [] for k in desc}

    def dataset_of(path):
        ds = tf.data.TFRecordDataset(path, compression_type=spec.compression or None).batch(READ_BATCH)
        return finalize(ds.map(lambda s: tf.io.parse_example(s, desc)), prefetch=0)
    for batch in checked_shard_reads(store, spec, [path for path, _, _ in state], dataset_of,
                                     count=lambda b: len(b["label"])):
        for k in cols:     # fixed-width bytes per batch, not a Python object per value
            cols[k].append(batch[k] if k == "label" else np.asarray(batch[k]).astype(bytes))
    y = np.concatenate(cols["label"]) if cols["label"] else np.zeros(0, np.int64)
    meta = {k: (np.char.decode(np.concatenate(cols[k]), "utf-8") if cols[k]
                else np.zeros(0, str)) for k in META}
    classes = tuple(spec.classes)
    bad = np.flatnonzero((y >= len(classes)) if classes else np.zeros(len(y), bool))
    if not len(bad) and classes:
        lab = y >= 0
        named = np.asarray(classes, dtype=str)[np.where(lab, y, 0)]
        bad = np.flatnonzero(lab & (named != meta["emotion"]))
    if len(bad):
        i = int(bad[0])
        raise SchemaError(f"store {store}: clip {meta['corpus'][i]}/{meta['clip_id'][i]} has label {int(y[i])} "
                          f"(emotion {meta['emotion'][i]!r}), not a class of the store's label set "
                          f"{list(classes)} ({len(bad)} such row(s)); re-extract the store with a label set "
                          "that holds its emotions")
    keep = y >= 0
    if not keep.any():
        raise SchemaError(f"store {store} has no labelled example (label >= 0)")
    n = int(keep.sum())
    return FeatureTable(store, np.zeros((n, 0), np.float32), y[keep], {k: v[keep] for k, v in meta.items()},
                        classes)


def load_meta(store: str | os.PathLike, features: str, label_set: str = "", *, corpus: str = "",
              command: str = "") -> FeatureTable:
    """The labelled rows of ``store`` with their manifest columns and labels, no feature values.

    The same rows, order and checks as :func:`emozoo.train.data.load_table` (missing store, class
    names of the label set, a shard that does not decode), with ``x`` of shape ``[rows, 0]``;
    cached per process while the shards are unchanged. A label outside the store's classes, or
    one that disagrees with the row's emotion, is refused.

    Args:
        store: the store folder.
        features: the feature name the experiment reads (checked to exist).
        label_set: the experiment's label set (the store's classes must equal it).
        corpus, command: as in ``load_table`` (the command a missing store's error names).

    Example:

    >>> load_meta("tfrecords/emodb_is10", "is10", "4class").meta["speaker"][:3]  # doctest: +SKIP
    array(['03', '03', '03'], dtype='<U2')
    """
    path = existing_store(store, features, label_set, corpus=corpus, command=command)
    return check_label_set(_meta_cached(str(path), features, _shard_state(path)), path, label_set)


# -- fold membership ---------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Membership:
    """Which rows of the stores belong to one side of a fold, as lookup keys.

    Attributes:
        kind: ``"speaker"`` (keys ``corpus/speaker``: every labelled clip of these speakers) or
            ``"clip"`` (keys ``corpus/clip_id``).
        keys: the keys (numpy str array).
        labels: for ``clip``, the class index of each key (the lookup gives the label); for
            ``speaker`` unused (the label is the row's own).
        count: rows of the side (what one epoch yields).
    """

    kind: str
    keys: np.ndarray
    labels: np.ndarray
    count: int

    @classmethod
    def of(cls, part: FeatureTable, everything: FeatureTable | None = None) -> "Membership":
        """The membership of ``part`` (a side of a fold). With ``everything`` (all labelled rows of
        the stores the side reads) the compact speaker keys are used when they select exactly the
        rows of ``part``; else one key per clip."""
        if everything is not None:
            spk = np.unique(np.char.add(np.char.add(part.meta["corpus"], "/"), part.meta["speaker"]))
            every = np.char.add(np.char.add(everything.meta["corpus"], "/"), everything.meta["speaker"])
            if int(np.isin(every, spk).sum()) == len(part):
                return cls("speaker", spk, np.zeros(len(spk), np.int64), len(part))
        keys = np.char.add(np.char.add(part.meta["corpus"], "/"), part.meta["clip_id"])
        if len(np.unique(keys)) != len(keys):
            raise SchemaError(f"{part.store}: clip keys corpus/clip_id are not unique; the store holds a clip twice")
        return cls("clip", keys, part.y.astype(np.int64), len(part))

    def table(self):
        import tensorflow as tf

        init = tf.lookup.KeyValueTensorInitializer(tf.constant(np.char.encode(self.keys, "utf-8")),
                                                   tf.constant(self.labels, tf.int64))
        return tf.lookup.StaticHashTable(init, default_value=-1)


# -- the pipeline --------------------------------------------------------------------------------------

def _stores(store) -> list[str]:
    return [str(store)] if isinstance(store, (str, os.PathLike)) else [str(s) for s in store]


def stream_fold_dataset(store, features: str, *, members: Membership, batch_size: int,
                        shuffle_buffer: int | None = None, seed: int = 0, epochs: int = 1,
                        start_epoch: int = 0, skip: int = 0, shuffle: str | bool = "window",
                        class_weights: Sequence[float] | None = None, with_keys: bool = False,
                        cycle_length: int = CYCLE_LENGTH, parse_calls: int = PARSE_CALLS,
                        read_calls: int = 0, prefetch: int | None = None):
    """Batches ``(x, y[, w])`` of the rows of ``members`` read from the shards of ``store``.

    Epochs ``start_epoch .. epochs - 1`` are one stream of ``ceil(members.count / batch_size)``
    batches each (the last batch of an epoch may be short), as the trainer's in-memory
    ``_dataset``; ``skip`` drops the first batches of ``start_epoch`` (a resumed mid-epoch backup).
    The order depends only on ``seed`` and the epoch (stateless shard shuffle, stateless window
    permutations; ``shuffle="rows"`` passes a seed to ``Dataset.shuffle`` as well).

    How a window is read: every shard is read in blocks of ``shuffle_buffer / cycle_length``
    records (``TFRecordDataset(shard).batch(block)``), ``cycle_length`` shards are interleaved
    block by block, and the blocks of the ``cycle_length`` shards (``ragged_batch``) form one
    window of ``shuffle_buffer`` records: parsed by one ``tf.io.parse_example`` call, filtered,
    permuted, then cut into batches (``rebatch``). No tf.data element is ever one record or one
    row, which is where a per-record pipeline spends its time (``bench_input.py --profile``).

    Args:
        store: a store folder or several (their shards are read together).
        features: the feature to read (any fixed shape: a vector, ``[frames, bins]``).
        members: the fold side (:class:`Membership`); rows outside it are dropped in the graph.
        batch_size: rows per batch.
        shuffle_buffer: records per window (``"window"``) or rows in the buffer (``"rows"``);
            default :data:`SHUFFLE_BUFFER`, fewer for large rows (at most 16 MiB of features: a
            larger window costs more per row, in page faults of its large buffers).
        seed: shard order and permutations derive from ``(seed, epoch)``.
        epochs, start_epoch, skip: which batches (see above).
        shuffle: ``"window"`` (default), ``"rows"`` (``Dataset.shuffle`` per row) or ``False``
            (store order: shards in order, one at a time).
        class_weights: per-class weight; adds ``w = class_weights[y]`` to every batch.
        with_keys: add the ``corpus/clip_id`` key of each row (to align predictions).
        cycle_length, parse_calls: shards read at once and blocks parsed at once (fixed numbers:
            tf.data autotuning is off).
        read_calls: parallel reads in the interleave (0: sequential, in the parse stage's thread;
            one core gains nothing from more, ``bench_input.py --profile``).
        prefetch: batches prefetched (default :data:`emozoo.train.data.PREFETCH`).

    Example:

    >>> ds = stream_fold_dataset(store, "is10", members=Membership.of(table), batch_size=32,
    ...                          seed=0, epochs=2)                                  # doctest: +SKIP
    >>> x, y = next(iter(ds))                                                       # doctest: +SKIP
    """
    import tensorflow as tf

    from emozoo.train.data import PREFETCH

    stores = _stores(store)
    if int(batch_size) < 1:
        raise ExperimentError(f"batch_size must be >= 1, got {batch_size}")
    if shuffle not in ("window", "rows", False, None):
        raise ExperimentError(f"shuffle must be 'window', 'rows' or False, got {shuffle!r}")
    if not 0 <= int(start_epoch) <= int(epochs):
        raise ExperimentError(f"start_epoch {start_epoch} not in [0, epochs={epochs}]")
    if int(cycle_length) < 1 or int(parse_calls) < 1:
        raise ExperimentError(f"cycle_length and parse_calls must be >= 1, got {cycle_length}, {parse_calls}")
    specs = [load_spec(s) for s in stores]
    spec = specs[0]
    if features not in spec.names:
        raise SchemaError(f"store {stores[0]} has no feature {features!r}; it has {spec.names}")
    fspec = spec[features]
    if fspec.variable:
        raise SchemaError(f"feature {features!r} of {stores[0]} has a variable length {fspec.shape}; streaming "
                          "reads fixed-shape features (crop the frames when extracting)")
    for s, sp in zip(stores[1:], specs[1:]):
        if features not in sp.names or sp[features].shape != fspec.shape:
            raise SchemaError(f"stores {stores[0]} and {s} hold {features!r} with different shapes")
        if sp.compression != spec.compression:
            raise SchemaError(f"stores {stores[0]} and {s} use different compression")
    if shuffle_buffer is None:
        shuffle_buffer = int(min(SHUFFLE_BUFFER, max(int(batch_size), (16 << 20) // (4 * max(1, fspec.size)))))
    if int(shuffle_buffer) < 1:
        raise ExperimentError(f"shuffle_buffer must be >= 1, got {shuffle_buffer}")
    files = [f for s in stores for f in shard_paths(s)]
    compression = spec.compression or None
    key_col = "speaker" if members.kind == "speaker" else "clip_id"
    desc = {features: tf.io.FixedLenFeature(fspec.shape, tf.float32),
            "label": tf.io.FixedLenFeature((), tf.int64),
            "corpus": tf.io.FixedLenFeature((), tf.string)}
    desc[key_col] = tf.io.FixedLenFeature((), tf.string)
    if with_keys:
        desc["clip_id"] = tf.io.FixedLenFeature((), tf.string)
    table = members.table()
    weights = None if class_weights is None else tf.constant(np.asarray(class_weights, np.float32))
    py_seed = int(seed)
    seed = tf.constant(int(seed), tf.int64)
    cycle = int(cycle_length) if shuffle else 1
    block = max(1, int(shuffle_buffer) // cycle)

    def parse(serialized):
        """A block of records -> its rows (all of them) and which belong to the fold."""
        ex = tf.io.parse_example(serialized, desc)
        found = table.lookup(tf.strings.join([ex["corpus"], ex[key_col]], "/"))
        if members.kind == "clip":
            y, keep = found, found >= 0               # the class index of the fold's row
        else:
            y, keep = ex["label"], (found >= 0) & (ex["label"] >= 0)
        rows = {"x": ex[features], "y": y, "keep": keep}
        if with_keys:
            rows["key"] = tf.strings.join([ex["corpus"], ex["clip_id"]], "/")
        return rows

    def select(rows, window_seed=None):
        """The fold's rows of a block or window, permuted when ``window_seed`` is given: one gather
        (the membership filter and the permutation in one copy of the feature values)."""
        idx = tf.reshape(tf.where(rows["keep"]), (-1,))
        if window_seed is not None:
            idx = tf.random.experimental.stateless_shuffle(idx, seed=window_seed)
        return {k: tf.gather(v, idx) for k, v in rows.items() if k != "keep"}

    def one_epoch(epoch):
        names = tf.constant(files)
        if shuffle:
            names = tf.random.experimental.stateless_shuffle(names, seed=tf.stack([seed, -1 - epoch]))
        ds = tf.data.Dataset.from_tensor_slices(names)
        read = lambda f: tf.data.TFRecordDataset(f, compression_type=compression).batch(block)  # noqa: E731
        if cycle > 1:
            # blocks parsed one by one (the records are never copied into a bigger string tensor:
            # every string copy is an allocation), the rows of ``cycle`` consecutive blocks joined
            # into a window, filtered and permuted
            ds = ds.interleave(read, cycle_length=cycle, block_length=1,
                               num_parallel_calls=int(read_calls) if read_calls else None)
            ds = ds.map(parse, num_parallel_calls=int(parse_calls), deterministic=True)
            ds = ds.ragged_batch(cycle).enumerate().map(lambda i, r: select(
                {k: v.values for k, v in r.items()},
                tf.stack([seed, epoch * 4294967296 + i]) if shuffle == "window" else None))
        else:
            ds = ds.flat_map(read).map(lambda s: select(parse(s)), num_parallel_calls=int(parse_calls),
                                       deterministic=True)
        if shuffle == "rows":
            # a Python seed: a tensor seed fails to trace once a global seed is set (tf.random.set_seed);
            # epochs still differ: the shard order above is drawn per epoch
            return ds.unbatch().shuffle(int(shuffle_buffer), seed=py_seed * 100003).batch(int(batch_size))
        return ds.rebatch(int(batch_size))

    ds = tf.data.Dataset.range(int(start_epoch), int(epochs)).flat_map(one_epoch)
    if skip:
        ds = ds.skip(int(skip))

    def structure(b):
        out = (b["x"], b["y"])
        if weights is not None:
            out += (tf.gather(weights, b["y"]),)
        if with_keys:
            out += (b["key"],)
        return out

    ds = ds.map(structure)
    opts = tf.data.Options()
    opts.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return finalize(ds.with_options(opts), prefetch=PREFETCH if prefetch is None else prefetch)


def read_rows(store, features: str, part: FeatureTable) -> np.ndarray:
    """The feature values of the rows of ``part`` (a meta-only table), in ``part``'s order."""
    members = Membership.of(part)
    xs, keys = [], []
    ds = stream_fold_dataset(store, features, members=members, batch_size=READ_BATCH, shuffle=False,
                             with_keys=True, shuffle_buffer=READ_BATCH, prefetch=0)
    for x, _, k in ds.as_numpy_iterator():
        xs.append(x)
        keys.append(k)
    got = np.char.decode(np.concatenate(keys).astype(bytes), "utf-8") if keys else np.zeros(0, str)
    if len(got) != len(part):
        raise SchemaError(f"{part.store}: {len(got)} of the fold's {len(part)} rows were found in the shards; "
                          "the store changed while it was read")
    pos = {k: i for i, k in enumerate(got)}
    order = np.asarray([pos[k] for k in members.keys], np.int64)
    return np.concatenate(xs)[order]


def moments(store, features: str, members: Membership) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and standard deviation (ddof 0) of the rows of ``members``, in one pass
    over the shards with float64 accumulators (Chan et al.'s pairwise merge of batch moments)."""
    n, mean, m2 = 0, None, None
    ds = stream_fold_dataset(store, features, members=members, batch_size=READ_BATCH, shuffle=False,
                             shuffle_buffer=READ_BATCH, prefetch=0)
    for x, _ in ds.as_numpy_iterator():
        x = x.reshape(len(x), -1).astype(np.float64)
        nb, mb = len(x), x.mean(0)
        m2b = ((x - mb) ** 2).sum(0)
        if mean is None:
            n, mean, m2 = nb, mb, m2b
            continue
        d, tot = mb - mean, n + nb
        mean = mean + d * nb / tot
        m2 = m2 + m2b + d * d * n * nb / tot
        n = tot
    if not n:
        raise SchemaError(f"no row of the fold's training side was found in {_stores(store)}")
    return mean, np.sqrt(m2 / n)


# -- folds whose training side streams ---------------------------------------------------------------------

@dataclasses.dataclass
class StreamedFold(Fold):
    """A :class:`~emozoo.train.data.Fold` whose training side is read from the shards.

    Every side holds the manifest columns and labels only (``x`` of shape ``[rows, 0]``) until
    :meth:`prepare_model` (called by the trainer when the fold's turn comes) reads the feature
    values of ``valid`` and ``test`` into memory in one pass; ``train`` is never read into memory.
    ``stores`` maps each store folder to the corpus names its rows carry.
    """

    stores: dict = dataclasses.field(default_factory=dict)
    feature: str = ""
    input_dim: int = 0
    everything: FeatureTable | None = None    # all labelled rows of the training stores (meta only)

    def _stores_of(self, part: FeatureTable) -> list[str]:
        corpora = set(np.unique(part.meta["corpus"]).tolist())
        return [s for s, cs in self.stores.items() if cs & corpora]

    @functools.cached_property
    def members(self) -> Membership:
        return Membership.of(self.train, self.everything)

    def train_dataset(self, batch_size: int, *, seed: int, epochs: int, start_epoch: int = 0, skip: int = 0,
                      weights: np.ndarray | None = None, **options):
        """The training batches, as the trainer's ``_dataset`` gives them (``weights``: the per-row
        class weights the trainer computed, turned into one weight per class)."""
        per_class = None
        if weights is not None:
            per_class = np.zeros(int(self.train.y.max()) + 1, np.float32)
            per_class[self.train.y] = weights
        return stream_fold_dataset(self._stores_of(self.train), self.feature, members=self.members,
                                   batch_size=batch_size, seed=seed, epochs=epochs, start_epoch=start_epoch,
                                   skip=skip, class_weights=per_class, **options)

    def read_eval_parts(self) -> None:
        """Read the feature values of ``valid`` and ``test`` into memory (one pass over their stores)."""
        parts = [p for p in ("valid", "test") if getattr(self, p) is not None and len(getattr(self, p))
                 and getattr(self, p).x.shape[1] != self.input_dim]
        if not parts:
            return
        both = FeatureTable.concat([getattr(self, p) for p in parts])
        x = read_rows(self._stores_of(both), self.feature, both)
        start = 0
        for p in parts:
            t = getattr(self, p)
            setattr(self, p, dataclasses.replace(t, x=x[start:start + len(t)]))
            start += len(t)

    def prepare_model(self, model) -> None:
        """Refuse a model that builds its own fold inputs, read ``valid``/``test`` into memory
        (:meth:`read_eval_parts`) and fit the model's z-normalisation on the training side (one
        streaming pass)."""
        if hasattr(model, "fold_arrays") or hasattr(model, "prepare_fold"):
            raise ExperimentError(f"model {type(model).__name__} builds its own fold inputs from the in-memory "
                                  "tables and cannot stream: set data.streaming=false")
        self.read_eval_parts()
        if hasattr(model, "fit_normalization"):
            mean, std = moments(self._stores_of(self.train), self.feature, self.members)
            # two rows whose mean and (ddof 0) std are exactly these: fit() then applies its own
            # epsilon floor as on the full array
            model.fit_normalization(np.stack([mean + std, mean - std]))

    def projector_view(self, limit: int, seed: int) -> Fold:
        """This fold with a random sample of ``limit`` training rows read into memory (the projector)."""
        rng = np.random.default_rng(seed)
        sample = self.train.take(np.sort(rng.permutation(len(self.train))[:max(1, int(limit))]))
        sample = dataclasses.replace(sample, x=read_rows(self._stores_of(sample), self.feature, sample))
        return Fold(self.name, sample, self.valid, self.test, self.sizes, self.unlabelled)


def make_stream_folds(data, *, root: str | os.PathLike = ".") -> tuple[list[StreamedFold], tuple]:
    """The folds of ``data`` as :func:`emozoo.train.data.make_folds` makes them (same protocol code,
    same rows), as :class:`StreamedFold` (no feature values read yet)."""
    from emozoo.train.data import make_folds

    root = Path(root)
    resolve = lambda p: str(Path(p if Path(p).is_absolute() else root / p).resolve())  # noqa: E731
    folds, classes = make_folds(data, root=root, load=load_meta)
    corpora = list(data.corpora) + ([data.target] if getattr(data, "target", "") else [])
    stores = {}
    for c in corpora:
        path = resolve(data.store_for(c))
        stores[path] = set(np.unique(load_meta(path, data.features).meta["corpus"]).tolist())
    source = [resolve(data.store_for(c)) for c in data.corpora]
    everything = FeatureTable.concat([load_meta(s, data.features) for s in source]) if len(source) > 1 \
        else load_meta(source[0], data.features)
    shape = load_spec(source[0])[data.features].shape
    if len(shape) != 1:
        raise SchemaError(f"feature {data.features!r} has shape {shape} per example; feature-vector experiments "
                          "need one vector per clip")
    out = []
    out = [StreamedFold(f.name, f.train, f.valid, f.test, f.sizes, f.unlabelled, stores=stores,
                        feature=data.features, input_dim=int(shape[0]), everything=everything) for f in folds]
    return out, classes


def fold_source(data, *, root: str | os.PathLike = ".", log=print):
    """The folds of ``data`` (a ``DataConfig``): in memory (``make_folds``) or with streamed training
    sides (:func:`make_stream_folds`), by ``data.streaming``: ``auto`` streams when the training
    corpora's feature arrays exceed :data:`STREAM_THRESHOLD_BYTES`."""
    from emozoo.train.data import make_folds

    mode = streaming_mode(getattr(data, "streaming", "auto"))
    if mode == "auto":
        root = Path(root)
        size = 0
        for c in data.corpora:
            p = Path(data.store_for(c))
            p = p if p.is_absolute() else root / p
            if not (p / "spec.json").exists():
                return make_folds(data, root=root)    # names the command that builds the store
            size += feature_bytes(p, data.features)
        mode = size > STREAM_THRESHOLD_BYTES
        if mode:
            log(f"[emozoo.train] the training stores hold {size / 2 ** 30:.1f} GiB of {data.features}: "
                "streaming them from the shards (data.streaming=auto)")
    return make_stream_folds(data, root=root) if mode else make_folds(data, root=root)
