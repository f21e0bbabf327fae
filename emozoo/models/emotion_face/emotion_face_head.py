"""The trainable part of ``emotion_face``: the face MobileNet's last block, pooling, normalisation, head.

The network is the HSE VGGFace2 MobileNet-v1 (Savchenko 2019; :mod:`emozoo.backbones.face.mobilenet`).
Blocks 1-12 stay frozen and come from the weights manager at run time (their output is cached for
training: :mod:`emozoo.backbones.face.finetune`, ``tfrecords/cache/<corpus>_face_mobilenet_top1``,
``[7, 7, 1024]`` float16 per face); this module holds what is trained on top of them:

* :class:`TopBlock`: block 13 (depthwise 3x3 + ReLU6, pointwise 1x1 1024 -> 1024 + ReLU6, BN folded
  as in the graph) and global average pooling -> the 1024-d embedding (the ``face_mobilenet`` store
  feature when the block holds the pretrained weights, :func:`pretrained_top_block`);
* :func:`fine_tune_block` (stage 1): block 13 fine-tuned with a throw-away linear classifier, the
  recipe of :func:`emozoo.backbones.face.finetune.fine_tune` (classifier alone on the pooled frozen
  features, then block + classifier at a lower learning rate; class-balanced cross-entropy, AdamW);
* :func:`statistics` / :func:`normalise`: z-normalisation of the embedding, per corpus in training
  (seed 000's culture-specific normalisation) and with the statistics of a new corpus's unlabelled
  faces at deployment (``adapt``);
* :func:`train_linear` (stage 2): a linear softmax classifier on the normalised embeddings
  (class-balanced cross-entropy, Adam 3e-3, 400 steps of 256, L2 1e-4: the backbone probe's
  ``wsum_linear`` recipe, as ``emotion_speech``'s head);
* :func:`export_head`: the SavedModel of block 13 + the shipped statistics + the linear head
  (about 4.3 MB: no frozen backbone weight in it).

Example:

>>> block = pretrained_top_block()                                        # doctest: +SKIP
>>> emb = embed(block, trunk)                                             # [N, 1024]  # doctest: +SKIP
>>> head = train_linear(per_group_normalise(emb, corpus), y, 6, seed=0)    # doctest: +SKIP
>>> linear_probabilities(head, normalise(emb, *statistics(emb))).shape      # doctest: +SKIP
(N, 6)
"""
from __future__ import annotations

import sys
import time

import numpy as np

from emozoo.errors import SchemaError
from emozoo.zoo import normalisation as _normalisation

#: z-normalisation (shared with the other flagship heads: :mod:`emozoo.zoo.normalisation`)
EPS = _normalisation.EPS
normalise = _normalisation.normalise

BLOCK = 13
TRUNK_SHAPE = (7, 7, 1024)
EMBED_DIM = 1024
#: stage 1 schedules of :func:`emozoo.backbones.face.finetune.fine_tune` (``pipelines/face_finetune.py``
#: SMALL / LARGE), fixed before any run: LARGE when the training set has more than 5000 faces.
SCHEDULES = {"small": dict(frozen_epochs=30, epochs=15, batch_size=32),
             "large": dict(frozen_epochs=30, epochs=4, batch_size=64)}
LARGE_ABOVE = 5000
#: stage 2 (the shipped head): the backbone probe's ``wsum_linear`` recipe.
LINEAR = dict(steps=400, learning_rate=3e-3, l2=1e-4, batch_size=256)


def schedule_for(n_train: int) -> dict:
    """The stage-1 schedule of a training set of ``n_train`` faces (:data:`SCHEDULES`)."""
    return dict(SCHEDULES["large" if n_train > LARGE_ABOVE else "small"])


def statistics(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation ``[D]`` of embeddings ``x[N, D]`` (:func:`emozoo.zoo.normalisation.statistics`)."""
    return _normalisation.statistics(x, ndim=2)


def per_group_normalise(x: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Each group (corpus) of embeddings ``[N, D]`` z-normalised with its own statistics."""
    return _normalisation.per_group_normalise(x, groups, ndim=2)


def _tf():
    import tensorflow as tf
    return tf


def make_top_block(dw_kernel, dw_bias, pw_kernel, pw_bias):
    """A ``tf.Module`` computing block 13 + global average pooling: trunk ``[N, 7, 7, 1024]`` -> ``[N, 1024]``.

    Args:
        dw_kernel: depthwise kernel ``[3, 3, 1024, 1]`` (BN scale folded); dw_bias: ``[1024]``.
        pw_kernel: pointwise kernel ``[1, 1, 1024, 1024]`` or ``[1024, 1024]``; pw_bias: ``[1024]``.
    """
    tf = _tf()
    pw_kernel = np.asarray(pw_kernel, np.float32)
    if pw_kernel.ndim == 4:
        pw_kernel = pw_kernel[0, 0]
    shapes = (np.shape(dw_kernel), np.shape(dw_bias), pw_kernel.shape, np.shape(pw_bias))
    if shapes != ((3, 3, 1024, 1), (1024,), (1024, 1024), (1024,)):
        raise SchemaError(f"block {BLOCK} weights must be dw [3, 3, 1024, 1], [1024], pw [1024, 1024], [1024]; "
                          f"got {shapes}")

    class TopBlock(tf.Module):
        def __init__(self):
            super().__init__(name="face_mobilenet_block13")
            self.dw_kernel = tf.Variable(np.asarray(dw_kernel, np.float32), name="conv_dw_13_kernel")
            self.dw_bias = tf.Variable(np.asarray(dw_bias, np.float32), name="conv_dw_13_bias")
            self.pw_kernel = tf.Variable(pw_kernel, name="conv_pw_13_kernel")
            self.pw_bias = tf.Variable(np.asarray(pw_bias, np.float32), name="conv_pw_13_bias")

        def __call__(self, trunk):
            x = tf.cast(trunk, tf.float32)
            x = tf.nn.depthwise_conv2d(x, self.dw_kernel, strides=[1, 1, 1, 1], padding="SAME") + self.dw_bias
            x = tf.clip_by_value(x, 0.0, 6.0)
            x = tf.einsum("nhwc,cf->nhwf", x, self.pw_kernel) + self.pw_bias
            x = tf.clip_by_value(x, 0.0, 6.0)
            return tf.reduce_mean(x, axis=[1, 2])

        def weights(self) -> dict:
            return {v.name.split(":")[0]: v.numpy() for v in (self.dw_kernel, self.dw_bias, self.pw_kernel,
                                                               self.pw_bias)}

    return TopBlock()


def pretrained_top_block(weights_dir=None):
    """Block 13 with the pretrained weights (``emozoo.weights.path("face_mobilenet")``; raises
    :class:`~emozoo.errors.WeightsError` naming the install command when they are missing)."""
    from emozoo.backbones.face.mobilenet import load_face_mobilenet

    net = load_face_mobilenet(weights_dir, heads=False)
    dw, pw = net.get_layer(f"conv_dw_{BLOCK}").get_weights(), net.get_layer(f"conv_pw_{BLOCK}").get_weights()
    return make_top_block(dw[0], dw[1], pw[0], pw[1])


def embed(block, gather, n: int, batch: int = 256) -> np.ndarray:
    """Embeddings ``[n, 1024]`` of rows ``0..n-1``; ``gather(idx)`` returns their trunk ``[len(idx), 7, 7, 1024]``."""
    tf = _tf()
    fwd = tf.function(lambda t: block(t), input_signature=[tf.TensorSpec([None, *TRUNK_SHAPE], tf.float16)],
                      reduce_retracing=True)
    out = np.zeros((n, EMBED_DIM), np.float32)
    for s in range(0, n, batch):
        idx = np.arange(s, min(n, s + batch))
        out[idx] = fwd(tf.constant(np.asarray(gather(idx), np.float16))).numpy()
    return out


def _balanced(y: np.ndarray, k: int) -> np.ndarray:
    """Per-class weights ``n / (K * count)`` indexed by class (0 for an absent class)."""
    from emozoo.utils import balanced_sample_weights
    w = np.zeros(k, np.float32)
    w[y] = balanced_sample_weights(y, k)
    return w


def fine_tune_block(gather, y, train_idx, pooled, k: int, *, valid_idx=None, frozen_epochs: int = 30,
                    epochs: int = 4, batch_size: int = 64, frozen_lr: float = 1e-3, lr: float = 1e-4,
                    weight_decay: float = 1e-4, dropout: float = 0.5, seed: int = 0, log=None):
    """Stage 1: block 13 fine-tuned for the classes ``y`` (the recipe of ``finetune.fine_tune``).

    Phase 1 trains a linear classifier (dropout ``dropout``) on the pooled pretrained embeddings
    ``pooled[train_idx]`` (``frozen_epochs`` at ``frozen_lr``); phase 2 trains block 13 and that
    classifier on the trunk rows (``epochs`` at ``lr``), AdamW with ``weight_decay``,
    class-balanced cross-entropy, mini-batches of ``batch_size`` in a seeded random order. With
    ``valid_idx`` the epoch of each phase with the best accuracy on it is kept, otherwise the last.

    Args:
        gather: ``gather(sorted row indices) -> trunk [M, 7, 7, 1024]`` (float16; streamed from the caches).
        y: labels of every row (``-1`` rows are never drawn when not in ``train_idx``).
        train_idx: training rows; pooled: pretrained embeddings ``[N, 1024]`` of (at least) the
            training and validation rows.
        k: number of classes.

    Returns:
        ``(block, info)``: the fine-tuned :func:`make_top_block` module and
        ``{"epochs": (phase 1, phase 2), "seconds", "valid_acc"}``.
    """
    tf = _tf()
    import keras

    t0 = time.time()
    log = log or (lambda m: print(m, file=sys.stderr, flush=True))
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    y = np.asarray(y, np.int64)
    train_idx = np.asarray(train_idx)
    class_w = _balanced(y[train_idx], k)
    block = pretrained_top_block()
    init = keras.initializers.GlorotUniform(seed=seed)
    w = tf.Variable(init([EMBED_DIM, k]), name="classifier_kernel")
    b = tf.Variable(tf.zeros([k]), name="classifier_bias")
    block_vars = [block.dw_kernel, block.dw_bias, block.pw_kernel, block.pw_bias]

    def head(e, training):
        if training:
            e = tf.nn.dropout(e, dropout)
        return e @ w + b

    def run_phase(n_epochs, learning_rate, variables, batches, forward, valid):
        opt = keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay)
        opt.build(variables)

        @tf.function(reduce_retracing=True)
        def step(xb, yb, sb):
            with tf.GradientTape() as tape:
                ce = tf.nn.sparse_softmax_cross_entropy_with_logits(yb, forward(xb, True))
                loss = tf.reduce_sum(ce * sb) / tf.reduce_sum(sb)
            opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return loss

        best = (-1.0, n_epochs, None)
        for ep in range(1, n_epochs + 1):
            losses = [float(step(xb, yb, sb)) for xb, yb, sb in batches()]
            msg = f"    epoch {ep}/{n_epochs} loss {np.mean(losses):.4f}"
            if valid is not None:
                acc = valid()
                msg += f" valid acc {acc:.2f}"
                if acc > best[0]:
                    best = (acc, ep, [v.numpy() for v in variables])
            if n_epochs <= 6 or ep == n_epochs or valid is not None:
                log(msg + f" ({time.time() - t0:.0f} s)")
        if valid is not None:
            for v, val in zip(variables, best[2]):
                v.assign(val)
        return best[1], (best[0] if valid is not None else None)

    def order():
        return rng.permutation(train_idx)

    pooled = np.asarray(pooled, np.float32)

    def pooled_batches():
        idx = order()
        for s in range(0, len(idx), batch_size):
            bi = idx[s:s + batch_size]
            yield tf.constant(pooled[bi]), tf.constant(y[bi], tf.int32), tf.constant(class_w[y[bi]])

    def trunk_batches():
        idx = order()
        for s in range(0, len(idx), batch_size):
            bi = np.sort(idx[s:s + batch_size])
            yield tf.constant(np.asarray(gather(bi), np.float16)), tf.constant(y[bi], tf.int32), \
                tf.constant(class_w[y[bi]])

    full = tf.function(lambda t, training: head(block(t), training), reduce_retracing=True)

    def valid_acc(use_trunk):
        if valid_idx is None:
            return None

        def f():
            vi = np.asarray(valid_idx)
            pred = []
            for s in range(0, len(vi), 256):
                bi = vi[s:s + 256]
                if use_trunk:
                    pred.append(tf.argmax(full(tf.constant(np.asarray(gather(bi), np.float16)), False), 1).numpy())
                else:
                    pred.append(tf.argmax(head(tf.constant(pooled[bi]), False), 1).numpy())
            return float(np.mean(np.concatenate(pred) == y[vi])) * 100
        return f

    ep1, acc1 = run_phase(frozen_epochs, frozen_lr, [w, b], pooled_batches, head, valid_acc(False))
    ep2, acc2 = run_phase(epochs, lr, block_vars + [w, b], trunk_batches, full, valid_acc(True))
    return block, {"epochs": [ep1, ep2], "valid_acc": [acc1, acc2], "seconds": round(time.time() - t0, 1)}


def make_linear(dim: int, num_classes: int, seed: int = 0):
    """A ``tf.Module`` with ``w [dim, K]``, ``b [K]`` and ``logits(z)``."""
    tf = _tf()

    class LinearHead(tf.Module):
        def __init__(self):
            super().__init__(name="emotion_face_linear")
            self.w = tf.Variable(tf.keras.initializers.GlorotUniform(seed=seed)([dim, num_classes]), name="w")
            self.b = tf.Variable(tf.zeros([num_classes]), name="b")

        def logits(self, z):
            return z @ self.w + self.b

    return LinearHead()


def train_linear(z: np.ndarray, y: np.ndarray, num_classes: int, seed: int = 0):
    """Stage 2: a linear softmax classifier on normalised embeddings ``z[N, D]`` (:data:`LINEAR`).

    Args:
        z: normalised embeddings (float32 ``[N, D]``).
        y: integer labels ``[N]`` in ``0..num_classes-1``.
        num_classes: K.
        seed: seeds the initialisation and the mini-batches.
    """
    tf = _tf()
    z = np.asarray(z, np.float32)
    y = np.asarray(y, np.int64)
    if z.ndim != 2 or len(z) != len(y) or len(z) == 0:
        raise SchemaError(f"train_linear needs z [N, dim] and y [N], got {z.shape} and {y.shape}")
    tf.keras.utils.set_random_seed(seed)
    p = LINEAR
    module = make_linear(z.shape[1], num_classes, seed)
    variables = [module.w, module.b]
    opt = tf.keras.optimizers.Adam(p["learning_rate"])
    cw = _balanced(y, num_classes)

    @tf.function
    def step(xb, yb, sb):
        with tf.GradientTape() as tape:
            ce = tf.nn.sparse_softmax_cross_entropy_with_logits(yb, module.logits(xb))
            loss = tf.reduce_sum(ce * sb) / tf.reduce_sum(sb) + p["l2"] * tf.reduce_sum(module.w * module.w)
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    rng = np.random.default_rng(seed)
    zt, yt, st = tf.constant(z), tf.constant(y.astype(np.int32)), tf.constant(cw[y])
    bs = min(p["batch_size"], len(z))
    for _ in range(p["steps"]):
        bi = tf.constant(rng.choice(len(z), size=bs, replace=False))
        step(tf.gather(zt, bi), tf.gather(yt, bi), tf.gather(st, bi))
    return module


def linear_probabilities(module, z: np.ndarray) -> np.ndarray:
    """Softmax probabilities ``[N, K]`` of a trained linear head on normalised embeddings."""
    tf = _tf()
    return tf.nn.softmax(module.logits(tf.constant(np.asarray(z, np.float32))), -1).numpy()


def export_head(block, head, mean: np.ndarray, std: np.ndarray, out_dir, classes, preprocessing: dict) -> None:
    """SavedModel of block 13 + the shipped statistics + the linear head.

    Signatures:

    * ``serve_trunk(trunk [N, 7, 7, 1024])`` -> ``probabilities``, ``logits``, ``embedding``: block 13,
      pooling, the shipped normalisation, the head (the output of blocks 1-12 comes from the
      backbone the predictor loads from the weights manager);
    * ``serve_embedding(trunk)`` -> ``embedding [N, 1024]`` (what ``adapt`` takes statistics of);
    * ``serve_normalised(normalised [N, 1024])`` -> ``probabilities``, ``logits`` (embeddings
      normalised with adapted statistics by the predictor).

    ``assets/labels.json`` and ``assets/preprocessing.json`` are written beside it.
    """
    import json
    from pathlib import Path

    tf = _tf()
    k = int(head.b.shape[0])
    mean = np.asarray(mean, np.float32)
    std = np.asarray(std, np.float32)
    if mean.shape != (EMBED_DIM,) or std.shape != (EMBED_DIM,):
        raise SchemaError(f"statistics must be [{EMBED_DIM}], got {mean.shape} / {std.shape}")
    if len(classes) != k:
        raise SchemaError(f"{len(classes)} class names for a head of {k} outputs")
    serving = tf.Module(name="emotion_face_serving")
    serving.block, serving.head = block, head
    serving.mean = tf.Variable(mean, trainable=False, name="mean")
    serving.std = tf.Variable(std, trainable=False, name="std")
    trunk_spec = tf.TensorSpec((None, *TRUNK_SHAPE), tf.float32, name="trunk")

    def out(logits):
        return {"probabilities": tf.nn.softmax(logits, -1), "logits": logits}

    def serve_trunk(trunk):
        e = block(trunk)
        return {**out(head.logits((e - serving.mean) / (serving.std + EPS))), "embedding": e}

    serving.serve_trunk = tf.function(serve_trunk, input_signature=[trunk_spec], autograph=False)
    serving.serve_embedding = tf.function(lambda trunk: {"embedding": block(trunk)}, input_signature=[trunk_spec],
                                          autograph=False)
    serving.serve_normalised = tf.function(lambda normalised: out(head.logits(normalised)), input_signature=[
        tf.TensorSpec((None, EMBED_DIM), tf.float32, name="normalised")], autograph=False)
    tf.saved_model.save(serving, str(out_dir), signatures={"serve_trunk": serving.serve_trunk,
                                                           "serve_embedding": serving.serve_embedding,
                                                           "serve_normalised": serving.serve_normalised})
    assets = Path(out_dir) / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    (assets / "labels.json").write_text(json.dumps(list(classes), indent=1))
    (assets / "preprocessing.json").write_text(json.dumps(preprocessing, indent=1))
