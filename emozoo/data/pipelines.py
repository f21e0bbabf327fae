"""tf.data input pipelines over TFRecord stores and raw media.

Building blocks the papers need:

* :func:`from_store`: a store split -> ``(features, label)`` batches, with
  shuffle/cache/prefetch, parallel parsing and a deterministic mode;
* :func:`from_manifest`: raw media straight from files (audio decoded and
  resampled, cropped/padded; images decoded, grey, resized);
* :func:`class_balanced`: equal-probability sampling of classes;
* :func:`upsample_groups`: mix corpora/cultures with equal weight, so the
  smaller ones are upsampled (seed 000 multi-culture);
* :func:`with_unlabelled`: each batch = a labelled source batch plus an
  unlabelled target batch (seeds 000, 001, 003);
* :func:`dialogue_batches`: utterances grouped into conversations, padded, with
  a mask (seed 001).

Everything takes a ``seed``; with ``deterministic=True`` (default) two runs
give the same batches in the same order.
"""
from __future__ import annotations

import os
from typing import Callable, Mapping, Sequence

import numpy as np
import tensorflow as tf

from emozoo.data.manifest import Manifest
from emozoo.data.tfrecord import load_spec, read_store
from emozoo.errors import SchemaError

AUTOTUNE = tf.data.AUTOTUNE


def _options(deterministic: bool) -> tf.data.Options:
    opts = tf.data.Options()
    opts.deterministic = deterministic
    opts.autotune.enabled = False   # no stall when an iterator ends (issue 21, emozoo.train.data.finalize)
    return opts


def from_store(store: str | os.PathLike, split: str | Sequence[str] | None = None, *,
               features: str | Sequence[str] = "is10", label_key: str = "label",
               batch_size: int | None = 32, shuffle: bool = False, seed: int = 0,
               labelled_only: bool = True, cache: bool = False, repeat: bool = False,
               drop_remainder: bool = False, keep_meta: Sequence[str] = (),
               deterministic: bool = True) -> tf.data.Dataset:
    """``(x, y)`` or ``(x, y, meta)`` batches from a store.

    Args:
        features: one feature name (``x`` is its tensor) or several (``x`` is a dict);
            variable-length features (waveforms) are zero-padded to the longest in the batch.
        labelled_only: drop examples whose label is -1.
        keep_meta: extra columns (``speaker``, ``culture`` ...) returned as a third dict.
    """
    names = [features] if isinstance(features, str) else list(features)
    spec = load_spec(store)
    unknown = [n for n in names + list(keep_meta) + [label_key] if n not in spec.names]
    if unknown:
        raise SchemaError(f"store {store} has no feature(s) {unknown}; it has {spec.names}")
    ds = read_store(store, split, features=names + [label_key] + list(keep_meta), deterministic=deterministic)
    if labelled_only:
        ds = ds.filter(lambda ex: ex[label_key] >= 0)
    if cache:
        ds = ds.cache()
    if shuffle:
        ds = ds.shuffle(10_000, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()

    def to_xy(ex):
        x = ex[names[0]] if isinstance(features, str) else {n: ex[n] for n in names}
        if keep_meta:
            return x, ex[label_key], {k: ex[k] for k in keep_meta}
        return x, ex[label_key]

    ds = ds.map(to_xy, num_parallel_calls=AUTOTUNE)
    if batch_size:
        if any(spec[n].variable for n in names):   # waveforms, frame sequences: zero-padded per batch
            ds = ds.padded_batch(batch_size, drop_remainder=drop_remainder)
        else:
            ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    return ds.prefetch(AUTOTUNE).with_options(_options(deterministic))


def from_manifest(manifest: Manifest, classes: Sequence[str], *, modality: str = "audio",
                  sample_rate: int = 16000, crop_seconds: float | None = 3.0, random_crop: bool = False,
                  image_size: int = 48, grey: bool = True, batch_size: int | None = 32,
                  shuffle: bool = False, seed: int = 0, labelled_only: bool = True,
                  deterministic: bool = True) -> tf.data.Dataset:
    """``(media, label)`` batches decoded from the files a manifest lists.

    Audio is decoded (WAV through ``tf.audio``, FLAC and others through
    soundfile/PyAV), down-mixed, resampled to ``sample_rate`` and cropped or
    padded to ``crop_seconds`` (``None`` keeps the full length and pads per batch).
    """
    rows = [r for r in manifest if not labelled_only or r.emotion in classes]
    if not rows:
        raise SchemaError(f"manifest {manifest.name} has no rows with labels in {list(classes)}")
    paths = [r.path for r in rows]
    labels = [classes.index(r.emotion) if r.emotion in classes else -1 for r in rows]
    ds = tf.data.Dataset.from_tensor_slices((paths, np.asarray(labels, np.int64)))
    if shuffle:
        ds = ds.shuffle(len(rows), seed=seed, reshuffle_each_iteration=True)
    if modality == "audio":
        from emozoo.data.audio import tf_crop_or_pad, tf_load_audio
        length = int(round(crop_seconds * sample_rate)) if crop_seconds else None

        def load(path, y):
            x = tf_load_audio(path, sample_rate)
            if length:
                x = tf_crop_or_pad(x, length, random=random_crop, seed=seed)
            return x, y
    elif modality == "image":
        from emozoo.data.image import tf_load_image

        def load(path, y):
            return tf.cast(tf_load_image(path, grey, image_size), tf.float32) / 255.0, y
    else:
        raise SchemaError(f"from_manifest handles audio or image, not {modality!r}")
    ds = ds.map(load, num_parallel_calls=AUTOTUNE)
    if batch_size:
        ds = ds.padded_batch(batch_size) if modality == "audio" and not crop_seconds else ds.batch(batch_size)
    return ds.prefetch(AUTOTUNE).with_options(_options(deterministic))


def class_balanced(ds: tf.data.Dataset, num_classes: int, *, label_fn: Callable | None = None,
                   seed: int = 0) -> tf.data.Dataset:
    """An infinite stream drawing each class with probability 1/K (unbatched input).

    ``label_fn(element) -> int label`` defaults to the element's second component.
    """
    label_fn = label_fn or (lambda *el: el[1])
    per_class = [ds.filter(lambda *el, k=k: tf.equal(tf.cast(label_fn(*el), tf.int64), k)).repeat()
                 for k in range(num_classes)]
    return tf.data.Dataset.sample_from_datasets(per_class, weights=[1.0 / num_classes] * num_classes,
                                                seed=seed, stop_on_empty_dataset=False)


def upsample_groups(groups: Mapping[str, tf.data.Dataset], *, weights: Mapping[str, float] | None = None,
                    seed: int = 0, sizes: Mapping[str, int] | None = None) -> tf.data.Dataset:
    """Mix several (unbatched) datasets with equal weight, repeating the smaller ones.

    One epoch is ``len(groups) * max(size)`` elements when ``sizes`` is given
    (every group then appears as often as the largest: upsampling), else infinite.
    """
    names = sorted(groups)
    if not names:
        raise SchemaError("upsample_groups needs at least one dataset")
    w = [float((weights or {}).get(n, 1.0)) for n in names]
    total = sum(w)
    mixed = tf.data.Dataset.sample_from_datasets([groups[n].repeat() for n in names],
                                                 weights=[x / total for x in w], seed=seed)
    if sizes:
        mixed = mixed.take(len(names) * max(sizes[n] for n in names))
    return mixed


def with_unlabelled(labelled: tf.data.Dataset, unlabelled: tf.data.Dataset, *,
                    batch_size: int, unlabelled_batch_size: int | None = None, seed: int = 0,
                    steps: int | None = None) -> tf.data.Dataset:
    """Batches ``((x_l, y_l), x_u)``: a labelled batch beside an unlabelled one.

    Both inputs are unbatched; ``labelled`` yields ``(x, y)``, ``unlabelled``
    yields ``x`` or ``(x, ...)`` (extra components are dropped). Both are
    shuffled and repeated; one epoch is ``steps`` batches (default: one pass
    over the labelled data, computed by the caller).
    """
    ub = unlabelled_batch_size or batch_size
    lab = labelled.shuffle(10_000, seed=seed).repeat().batch(batch_size, drop_remainder=True)
    unl = unlabelled.map(lambda *el: el[0] if isinstance(el, tuple) and len(el) > 1 else el[0]) \
        if isinstance(unlabelled.element_spec, tuple) else unlabelled
    unl = unl.shuffle(10_000, seed=seed + 1).repeat().batch(ub, drop_remainder=True)
    ds = tf.data.Dataset.zip((lab, unl))
    if steps:
        ds = ds.take(steps)
    return ds.prefetch(AUTOTUNE).with_options(_options(True))   # autotuning off (issue 21)


def dialogue_batches(store: str | os.PathLike, split: str | Sequence[str] | None = None, *,
                     feature: str = "text_embedding", batch_size: int = 20, max_turns: int | None = None,
                     shuffle: bool = False, seed: int = 0, extra: Sequence[str] = ()) -> tf.data.Dataset:
    """Conversations as padded batches ``({feature: [B,T,...], "mask": [B,T], extra...}, labels [B,T])``.

    Utterances are grouped by ``dialogue_id`` and ordered by ``turn_index``;
    padding turns have mask 0 and label -1; unlabelled turns (label -1) keep
    mask 1 so they serve as context.
    """
    spec = load_spec(store)
    for n in (feature, "dialogue_id", "turn_index", "label", *extra):
        if n not in spec.names:
            raise SchemaError(f"store {store} has no feature {n!r}; it has {spec.names}")
    dialogues: dict[bytes, list] = {}
    keys = [feature, "label", "turn_index", *extra]
    for ex in read_store(store, split, features=keys + ["dialogue_id"]).as_numpy_iterator():
        d = ex["dialogue_id"]
        if not d:
            raise SchemaError(f"store {store}: an example has no dialogue_id; dialogue batches need one")
        dialogues.setdefault(d, []).append(ex)
    convs = []
    for d in sorted(dialogues):
        turns = sorted(dialogues[d], key=lambda e: int(e["turn_index"]))
        if max_turns:
            turns = turns[:max_turns]
        convs.append({k: np.stack([t[k] for t in turns]) for k in keys if k != "turn_index"})
    fspec = spec[feature]
    out_sig = {feature: tf.TensorSpec((None, *fspec.shape), fspec.tf_dtype),
               "label": tf.TensorSpec((None,), tf.int64)}
    for n in extra:
        out_sig[n] = tf.TensorSpec((None, *spec[n].shape), spec[n].tf_dtype)

    def gen():
        order = np.arange(len(convs))
        if shuffle:
            np.random.default_rng(seed).shuffle(order)
        for i in order:
            yield convs[i]

    ds = tf.data.Dataset.from_generator(gen, output_signature=out_sig)

    def split_xy(c):
        x = {k: v for k, v in c.items() if k != "label"}
        x["mask"] = tf.ones_like(c["label"], dtype=tf.float32)
        return x, c["label"]

    ds = ds.map(split_xy)
    pad_x = {k: tf.constant(0, v.dtype) if v.dtype != tf.string else tf.constant(b"")
             for k, v in ds.element_spec[0].items()}
    ds = ds.padded_batch(batch_size, padding_values=(pad_x, tf.constant(-1, tf.int64)))
    return ds.prefetch(AUTOTUNE).with_options(_options(True))   # autotuning off (issue 21)
