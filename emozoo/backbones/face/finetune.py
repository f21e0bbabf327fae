"""Fine-tuning the last blocks of the face MobileNet, on CPU, from cached trunk activations.

Issue 18 section 5 asks for the face backbone "frozen and fine-tuned last blocks" on FER2013,
CK+ and JAFFE. Back-propagating through the whole 224-px MobileNet-v1 for every step is out of
reach of two CPU cores (FER2013 has 28 709 training images), but the blocks below the fine-tuned
ones do not change, so their output is computed once and cached:

1. :func:`build_trunk_cache`: every manifest row -> the same crop as the ``face_mobilenet`` store
   (:class:`~emozoo.backbones.face.extractor.FaceBackboneEmbedder`: largest MTCNN face, 224 RGB,
   whole image when none is found) -> HSE preprocessing -> the pretrained network up to the
   output of block ``13 - blocks`` (``conv_pw_{13-blocks}_relu``; ``blocks=1``: 7x7x1024 per image,
   ``blocks=2``: 14x14x512) -> float16 chunks in a cache folder (``<name>/chunk-NNNNN.npy`` +
   ``cache.json`` with the crop and weights settings, the rows' labels, subjects and splits).
   Resumable chunk by chunk; a cache built with other settings is refused, not mixed.
2. :class:`TopBlocks`: the last ``blocks`` depthwise-separable blocks (initialised from the
   pretrained weights, BN folded as in the graph), global average pooling, dropout, a linear
   classifier. :func:`fine_tune` trains it in two phases: the classifier alone on the frozen blocks
   (``frozen_epochs``: this is the *frozen* result), then everything (``epochs`` at a lower learning
   rate: the *fine-tuned* result); class-balanced cross-entropy; the epoch of each phase is chosen
   on a validation set when one is given (FER2013 PublicTest), otherwise the schedule is fixed.

Deviations from end-to-end fine-tuning, by construction: no image augmentation (the cache holds
one view of each crop), and the blocks below the fine-tuned ones stay frozen.

Example:

>>> cache = build_trunk_cache(manifest, "tfrecords/cache/jaffe_face_mobilenet_top1", blocks=1)  # doctest: +SKIP
>>> res = fine_tune(cache, train_idx, test_idx, epochs=8, seed=0)                               # doctest: +SKIP
>>> res["frozen"]["uar"], res["fine_tuned"]["uar"]                                              # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emozoo.errors import FeatureError, SchemaError
from emozoo.utils import balanced_sample_weights, write_json_atomic

CACHE_VERSION = 1
CHUNK = 512


def _trunk_layer(blocks: int) -> str:
    if blocks not in (1, 2, 3):
        raise FeatureError(f"blocks must be 1, 2 or 3 (the last MobileNet blocks fine-tuned), got {blocks}")
    return f"conv_pw_{13 - blocks}_relu"


@dataclass
class TrunkCache:
    """A built cache: ``x(i)`` loads activations; labels, subjects and splits per row."""

    folder: Path
    meta: dict
    y: np.ndarray
    speaker: np.ndarray
    split: np.ndarray
    corpus: np.ndarray

    @property
    def classes(self) -> tuple:
        return tuple(self.meta["classes"])

    def __len__(self) -> int:
        return len(self.y)

    def load(self) -> np.ndarray:
        """All activations ``[N, H, W, C]`` float16 (one array; FER2013 1 block: 3.6 GB)."""
        parts = []
        for f, n, digest in self.meta["chunks"]:
            path = self.folder / f
            if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest()[:16] != digest:
                raise SchemaError(f"{path}: missing or changed since the cache was built (sha256 differs); remove "
                                  f"{self.folder} and rebuild it")
            part = np.load(path, allow_pickle=False, mmap_mode="r")
            if len(part) != n:
                raise SchemaError(f"{path}: {len(part)} rows, cache.json says {n}; remove {self.folder} and rebuild it")
            parts.append(part)
        return np.concatenate(parts) if parts else np.zeros((0,), np.float16)


def _settings(embedder, blocks: int, label_set: str, crop: str) -> dict:
    import tensorflow as tf
    return {"version": CACHE_VERSION, "blocks": blocks, "trunk_output": _trunk_layer(blocks),
            "weights_sha256": embedder.weights_digest,
            "crop": embedder.image_cropper.config() if crop == "mtcnn" else "none:whole image, rgb, 224 bilinear",
            "preprocess": "hse", "tf": tf.__version__, "label_set": label_set, "dtype": "float16"}


def open_cache(folder) -> TrunkCache:
    """Read a complete cache, or raise :class:`SchemaError` naming what is wrong."""
    folder = Path(folder)
    meta_path = folder / "cache.json"
    if not meta_path.exists():
        raise SchemaError(f"{folder}: no cache.json (build it with python pipelines/face_finetune.py --build ...)")
    meta = json.loads(meta_path.read_text())
    if not meta.get("complete"):
        raise SchemaError(f"{folder}: the cache is incomplete ({sum(n for _f, n, _h in meta['chunks'])} of "
                          f"{len(meta['rows']['y'])} rows); rerun the build to resume it")
    rows = meta["rows"]
    return TrunkCache(folder, meta, np.asarray(rows["y"], np.int64), np.asarray(rows["speaker"]),
                      np.asarray(rows["split"]), np.asarray(rows["corpus"]))


def build_trunk_cache(manifest, folder, *, blocks: int = 1, label_set: str = "", classes=None, crop: str = "mtcnn",
                      batch_size: int = 32, progress: bool = True) -> TrunkCache:
    """Crops of every labelled row -> trunk activations, cached in ``folder`` (resumable).

    Args:
        manifest: :class:`~emozoo.data.manifest.Manifest` of image rows (already mapped to the label
            set; unlabelled rows are skipped).
        folder: the cache folder (created; only files inside it are written).
        blocks: how many of the last MobileNet blocks will be fine-tuned (1-3).
        label_set: recorded in the settings (a cache is only resumed with identical settings).
        classes: class names in label order (default: the sorted emotions of the manifest).
        crop: ``"mtcnn"`` (the ``face_mobilenet`` store's crop: largest face, whole image when none)
            or ``"none"`` (the whole image resized to 224: for corpora that are aligned face crops
            already, e.g. FER2013's 48x48 faces; it skips MTCNN, the slowest step).
        batch_size: crops per trunk call.

    Returns:
        the :class:`TrunkCache`.
    """
    import tensorflow as tf

    from emozoo.backbones.face.extractor import FaceBackboneEmbedder
    from emozoo.backbones.face.mobilenet import preprocess_faces

    folder = Path(folder)
    rows = sorted((r for r in manifest if r.emotion), key=lambda r: r.clip_id)
    if not rows:
        raise SchemaError("the manifest has no labelled row to cache")
    classes = tuple(classes) if classes is not None else tuple(sorted({r.emotion for r in rows}))
    unknown = sorted({r.emotion for r in rows} - set(classes))
    if unknown:
        raise SchemaError(f"labels {unknown} are not among the classes {classes}")
    emb = FaceBackboneEmbedder("face_mobilenet")
    if crop not in ("mtcnn", "none"):
        raise FeatureError(f"crop must be 'mtcnn' or 'none', got {crop!r}")
    settings = _settings(emb, blocks, label_set, crop)
    row_table = {"clip_id": [r.clip_id for r in rows], "y": [classes.index(r.emotion) for r in rows],
                 "speaker": [f"{r.corpus}/{r.speaker}" for r in rows], "split": [r.split for r in rows],
                 "corpus": [r.corpus for r in rows]}
    folder.mkdir(parents=True, exist_ok=True)
    meta_path = folder / "cache.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("settings") != settings or meta.get("rows") != row_table or meta.get("classes") != list(classes):
            raise SchemaError(f"{folder} holds a cache with other settings or rows; remove the folder or choose "
                              "another one")
    else:
        meta = {"settings": settings, "classes": list(classes), "rows": row_table, "chunks": [], "complete": False}
    import keras
    model = emb.model
    sub = keras.Model(model.inputs, model.get_layer(_trunk_layer(blocks)).output)

    @tf.function(input_signature=[tf.TensorSpec([None, 224, 224, 3], tf.uint8)], reduce_retracing=True)
    def forward(crops):
        return tf.cast(sub(preprocess_faces(crops, "hse"), training=False), tf.float16)

    done = sum(n for _f, n, _h in meta["chunks"])
    n_all = len(rows)
    t0, start = time.time(), done
    for c0 in range(done, n_all, CHUNK):
        chunk_rows = rows[c0:c0 + CHUNK]
        crops = []
        for r in chunk_rows:
            if crop == "mtcnn":
                crops.append(emb.crops_of(r.path)[0])   # policy "full": never FaceNotFound for an image
            else:
                from emozoo.data.image import load_image
                crops.append(load_image(r.path, grey=False, size=224))
        crops = np.stack(crops)
        acts = np.concatenate([forward(tf.constant(crops[s:s + batch_size])).numpy()
                               for s in range(0, len(crops), batch_size)])
        name = f"chunk-{c0 // CHUNK:05d}.npy"
        tmp = folder / (name + ".tmp")
        with open(tmp, "wb") as fh:
            np.save(fh, acts, allow_pickle=False)
        os.replace(tmp, folder / name)
        meta["chunks"].append([name, len(chunk_rows), hashlib.sha256((folder / name).read_bytes()).hexdigest()[:16]])
        meta["complete"] = c0 + len(chunk_rows) >= n_all
        write_json_atomic(meta_path, meta, indent=None)
        if progress:
            d = c0 + len(chunk_rows)
            rate = (d - start) / max(time.time() - t0, 1e-6)
            eta = (n_all - d) / max(rate, 1e-6)
            print(f"trunk cache {folder.name}: {d}/{n_all} images, {rate:.1f} images/s, ETA {eta / 60:.1f} min",
                  file=sys.stderr, flush=True)
    if not meta["complete"]:  # nothing left to do but the flag
        meta["complete"] = True
        write_json_atomic(meta_path, meta, indent=None)
    return open_cache(folder)


def _copy_block_weights(top, blocks: int) -> None:
    """Pretrained weights of blocks ``14 - blocks .. 13`` into the fine-tuning model."""
    from emozoo.backbones.face.mobilenet import load_face_mobilenet

    pre = load_face_mobilenet(heads=False)
    for i in range(14 - blocks, 14):
        for kind in ("dw", "pw"):
            top.get_layer(f"conv_{kind}_{i}").set_weights(pre.get_layer(f"conv_{kind}_{i}").get_weights())


def build_top_blocks(blocks: int, num_classes: int, input_shape, dropout: float = 0.5, seed: int = 0):
    """The last ``blocks`` MobileNet blocks (pretrained) + GAP + dropout + linear classifier."""
    import keras
    from keras import layers

    from emozoo.backbones.face.mobilenet import BLOCKS

    inputs = keras.Input(tuple(input_shape), name="trunk")
    x = inputs
    for i in range(14 - blocks, 14):
        filters, stride = BLOCKS[i - 1]
        x = layers.DepthwiseConv2D(3, strides=stride, padding="same", name=f"conv_dw_{i}")(x)
        x = layers.ReLU(6.0, name=f"conv_dw_{i}_relu")(x)
        x = layers.Conv2D(filters, 1, padding="same", name=f"conv_pw_{i}")(x)
        x = layers.ReLU(6.0, name=f"conv_pw_{i}_relu")(x)
    x = layers.GlobalAveragePooling2D(name="global_pooling")(x)
    x = layers.Dropout(dropout, seed=seed, name="dropout")(x)
    out = layers.Dense(num_classes, name="classifier",
                       kernel_initializer=keras.initializers.GlorotUniform(seed=seed))(x)
    model = keras.Model(inputs, out, name=f"face_mobilenet_top{blocks}")
    _copy_block_weights(model, blocks)
    return model


def _scores(y, pred, k) -> dict:
    recalls = [float(np.mean(pred[y == c] == c)) for c in range(k) if np.any(y == c)]
    return {"acc": float(np.mean(pred == y)) * 100, "uar": float(np.mean(recalls)) * 100}


def fine_tune(cache: TrunkCache, train_idx, test_idx, *, valid_idx=None, x=None, frozen_epochs: int = 10,
              epochs: int = 6, batch_size: int = 64, frozen_lr: float = 1e-3, lr: float = 1e-4,
              weight_decay: float = 1e-4, dropout: float = 0.5, seed: int = 0, verbose: bool = True) -> dict:
    """Frozen (classifier only) then fine-tuned (last blocks + classifier) scores on ``test_idx``.

    Args:
        cache: a complete :class:`TrunkCache`.
        train_idx / test_idx / valid_idx: row indices; with ``valid_idx`` the best epoch of each
            phase on it (accuracy) is restored before testing, otherwise the last epoch is used.
        x: the activations (``cache.load()``), to share one load across folds.
        frozen_epochs / epochs: epochs of the two phases; frozen_lr / lr: their Adam learning rates.

    Returns:
        ``{"frozen": {"acc", "uar", "epoch"}, "fine_tuned": {...}, "seconds"}``; UAR and accuracy in %.
    """
    import keras
    import tensorflow as tf

    t0 = time.time()
    if valid_idx is not None and len(valid_idx) == 0:
        raise SchemaError("valid_idx is empty: no validation rows to choose the epochs on (pass None for a fixed "
                          "schedule)")
    keras.utils.set_random_seed(seed)
    x = cache.load() if x is None else x
    k = len(cache.classes)
    y = cache.y
    train_idx = np.asarray(train_idx)
    # class-balanced loss: n / (K * count) per training row, looked up by class
    class_w = np.zeros(k, np.float32)
    class_w[y[train_idx]] = balanced_sample_weights(y[train_idx], k)
    model = build_top_blocks(cache.meta["settings"]["blocks"], k, x.shape[1:], dropout=dropout, seed=seed)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    rng = np.random.default_rng(seed)

    drop, classifier = model.get_layer("dropout"), model.get_layer("classifier")
    pool = keras.Model(model.inputs, model.get_layer("global_pooling").output)

    def batches(src, idx, shuffle):
        idx = rng.permutation(idx) if shuffle else idx
        for s in range(0, len(idx), batch_size):
            b = np.sort(idx[s:s + batch_size])
            yield tf.constant(np.asarray(src[b], np.float32)), tf.constant(y[b], tf.int32), \
                tf.constant(class_w[y[b]], tf.float32)

    @tf.function(reduce_retracing=True)
    def full_forward(xb, training):
        return model(xb, training=training)

    @tf.function(reduce_retracing=True)
    def head_forward(pb, training):
        return classifier(drop(pb, training=training))

    @tf.function(reduce_retracing=True)
    def pool_forward(xb):
        return pool(xb, training=False)

    def predict(src, fwd, idx):
        out = [tf.argmax(fwd(xb, False), axis=1).numpy() for xb, _y, _w in batches(src, np.asarray(idx), False)]
        return np.concatenate(out) if out else np.zeros((0,), np.int64)

    def run_phase(n_epochs, learning_rate, trainable_blocks, src, fwd):
        for layer in model.layers:
            if layer.name.startswith("conv_"):
                layer.trainable = trainable_blocks
        opt = keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay)
        variables = model.trainable_variables
        opt.build(variables)

        @tf.function(reduce_retracing=True)
        def step(xb, yb, wb):
            with tf.GradientTape() as tape:
                loss = loss_fn(yb, fwd(xb, True), sample_weight=wb)
            opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return loss

        best = (-1.0, 0, [v.numpy() for v in model.weights])
        for ep in range(1, n_epochs + 1):
            losses = [float(step(xb, yb, wb)) for xb, yb, wb in batches(src, train_idx, True)]
            msg = f"  epoch {ep}/{n_epochs} ({'blocks+classifier' if trainable_blocks else 'classifier'}) " \
                  f"loss {np.mean(losses):.4f}"
            if valid_idx is not None:
                acc = float(np.mean(predict(src, fwd, valid_idx) == y[np.asarray(valid_idx)])) * 100
                msg += f" valid acc {acc:.2f}"
                if acc > best[0]:
                    best = (acc, ep, [v.numpy() for v in model.weights])
            if verbose:
                print(msg, file=sys.stderr, flush=True)
        if valid_idx is not None:
            for v, val in zip(model.weights, best[2]):
                v.assign(val)
            return best[1]
        return n_epochs

    # phase 1 (frozen): the blocks do not change, so pool every needed row once and train the
    # classifier on the pooled 1024-d features (the same model, far fewer FLOPs)
    needed = np.unique(np.concatenate([train_idx, np.asarray(test_idx)] +
                                      ([np.asarray(valid_idx)] if valid_idx is not None else [])))
    pooled = np.zeros((len(y), int(pool.output.shape[-1])), np.float32)
    for s in range(0, len(needed), 256):
        b = needed[s:s + 256]
        pooled[b] = pool_forward(tf.constant(np.asarray(x[b], np.float32))).numpy()
    out = {}
    ep = run_phase(frozen_epochs, frozen_lr, False, pooled, head_forward)
    out["frozen"] = {**_scores(y[np.asarray(test_idx)], predict(pooled, head_forward, test_idx), k), "epoch": ep}
    del pooled
    ep = run_phase(epochs, lr, True, x, full_forward)
    out["fine_tuned"] = {**_scores(y[np.asarray(test_idx)], predict(x, full_forward, test_idx), k), "epoch": ep}
    out["seconds"] = round(time.time() - t0, 1)
    return out
