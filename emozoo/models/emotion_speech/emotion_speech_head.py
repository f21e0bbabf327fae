"""The head of ``emotion_speech``: normalised layer-wise Whisper states -> 4 emotions.

Input: the ``whisper_base`` extractor's ``[7, 512]`` layer-wise mean-pooled encoder states
(:mod:`emozoo.backbones.whisper.extractor`), z-normalised per row and dimension
(:func:`statistics`, :func:`normalise`). The head is the SUPERB / EmoBox "weighted layer sum"
(a learned softmax over the 7 rows) followed by a linear classifier or a small MLP
(:data:`HEADS`); the hyper-parameters are the backbone probe's (:mod:`emozoo.backbones.probe`),
fixed, never tuned on a test corpus. Trained with class-balanced cross-entropy, mini-batch Adam,
a fixed number of steps.

Training normalisation (seed 000's culture-specific normalisation): every training corpus is
z-normalised with its own statistics (labels unused), so that a deployed model normalises a new
corpus with statistics of its own unlabelled clips (``adapt``) exactly as in training. Without
adaptation the statistics of the training corpora pooled are used.

Example:

>>> head = train_head(z, y, num_classes=4, head="linear", seed=0)   # doctest: +SKIP
>>> head(tf.constant(z[:2]))["probabilities"].shape                   # doctest: +SKIP
TensorShape([2, 4])
"""
from __future__ import annotations

import numpy as np

from emozoo.errors import SchemaError
from emozoo.zoo import normalisation as _normalisation

#: z-normalisation (shared with the other flagship heads: :mod:`emozoo.zoo.normalisation`)
EPS = _normalisation.EPS
normalise = _normalisation.normalise

#: Head recipes (the backbone probe's ``wsum_linear`` and ``wsum_bsl``, plus a one-layer MLP).
HEADS = {
    "linear": dict(hidden=(), dropout=0.0, steps=400, learning_rate=3e-3, l2=1e-4, batch_size=256),
    "mlp256": dict(hidden=(256,), dropout=0.5, steps=600, learning_rate=1e-3, l2=1e-4, batch_size=256),
    "bsl": dict(hidden=(512, 256, 500), dropout=0.5, steps=600, learning_rate=1e-3, l2=1e-4, batch_size=256),
}


def statistics(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation ``[R, D]`` of states ``x[N, R, D]`` (:func:`emozoo.zoo.normalisation.statistics`)."""
    return _normalisation.statistics(x, ndim=3)


def per_group_normalise(x: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Each group (corpus) of states ``[N, R, D]`` z-normalised with its own statistics."""
    return _normalisation.per_group_normalise(x, groups, ndim=3)


def _balanced_weights(y: np.ndarray, k: int) -> np.ndarray:
    from emozoo.utils import balanced_sample_weights
    return balanced_sample_weights(y, k)


def make_head_module(rows: int, dim: int, num_classes: int, hidden=(), dropout: float = 0.0, seed: int = 0):
    """A ``tf.Module`` with ``layer_logits [rows]``, dense ``w{i}``/``b{i}`` and ``logits(z, training)``."""
    import tensorflow as tf

    class EmotionSpeechHead(tf.Module):
        def __init__(self):
            super().__init__(name="emotion_speech_head")
            init = tf.keras.initializers.GlorotUniform(seed=seed)
            dims = [dim, *hidden, num_classes]
            self.layer_logits = tf.Variable(tf.zeros([rows]), name="layer_logits")
            self.ws = [tf.Variable(init([a, b]), name=f"w{i}") for i, (a, b) in enumerate(zip(dims[:-1], dims[1:]))]
            self.bs = [tf.Variable(tf.zeros([b]), name=f"b{i}") for i, b in enumerate(dims[1:])]
            self.dropout, self.seed = float(dropout), int(seed)

        def layer_weights(self):
            return tf.nn.softmax(self.layer_logits)

        def logits(self, z, training=False):
            h = tf.einsum("nrd,r->nd", z, self.layer_weights())
            for i, (w, b) in enumerate(zip(self.ws, self.bs)):
                h = h @ w + b
                if i < len(self.ws) - 1:
                    h = tf.nn.relu(h)
                    if training and self.dropout:
                        h = tf.nn.dropout(h, self.dropout)
            return h

    return EmotionSpeechHead()


def train_head(z: np.ndarray, y: np.ndarray, num_classes: int, head: str = "linear", seed: int = 0):
    """Train head recipe ``head`` (:data:`HEADS`) on normalised states ``z[N, R, D]``; returns the module.

    Args:
        z: normalised states (float32 ``[N, R, D]``).
        y: integer labels ``[N]`` in ``0..num_classes-1``.
        num_classes: K.
        head: a key of :data:`HEADS`.
        seed: seeds the initialisation, the mini-batches and the dropout.
    """
    import tensorflow as tf

    if head not in HEADS:
        raise SchemaError(f"unknown head {head!r}; known: {sorted(HEADS)}")
    z = np.asarray(z, np.float32)
    y = np.asarray(y, np.int64)
    if z.ndim != 3 or len(z) != len(y) or len(z) == 0:
        raise SchemaError(f"train_head needs z [N, rows, dim] and y [N], got {z.shape} and {y.shape}")
    p = HEADS[head]
    tf.keras.utils.set_random_seed(seed)
    n, rows, dim = z.shape
    module = make_head_module(rows, dim, num_classes, p["hidden"], p["dropout"], seed)
    variables = [module.layer_logits, *module.ws, *module.bs]
    opt = tf.keras.optimizers.Adam(p["learning_rate"])
    sw = _balanced_weights(y, num_classes)
    l2 = p["l2"]

    @tf.function
    def step(xb, yb, sb):
        with tf.GradientTape() as tape:
            ce = tf.nn.sparse_softmax_cross_entropy_with_logits(yb, module.logits(xb, True))
            loss = tf.reduce_sum(ce * sb) / tf.reduce_sum(sb) + l2 * tf.add_n([tf.reduce_sum(w * w) for w in module.ws])
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    rng = np.random.default_rng(seed)
    zt, yt, st = tf.constant(z), tf.constant(y.astype(np.int32)), tf.constant(sw)
    bs = min(p["batch_size"], n)
    for _ in range(p["steps"]):
        b = tf.constant(rng.choice(n, size=bs, replace=False))
        step(tf.gather(zt, b), tf.gather(yt, b), tf.gather(st, b))
    return module


def head_probabilities(module, z: np.ndarray, batch: int = 1024) -> np.ndarray:
    """Softmax probabilities ``[N, K]`` of a trained head on normalised states ``z``."""
    import tensorflow as tf

    z = np.asarray(z, np.float32)
    out = [tf.nn.softmax(module.logits(tf.constant(z[i:i + batch]), False), -1).numpy()
           for i in range(0, len(z), batch)]
    return np.concatenate(out) if out else np.zeros((0, len(module.bs[-1].numpy())), np.float32)


def export_head(module, mean: np.ndarray, std: np.ndarray, out_dir, classes, preprocessing: dict) -> None:
    """SavedModel of the head with the shipped statistics (``mean``/``std`` variables ``[R, D]``).

    Signatures:

    * ``serve_states(states [N, R, D])`` -> ``probabilities``, ``logits``: the shipped
      normalisation in the graph, then the head;
    * ``serve_normalised(normalised [N, R, D])`` -> the same for states already normalised
      (with adapted statistics: :class:`~emozoo.models.emotion_speech.emotion_speech_predictor.EmotionSpeechPredictor`).

    ``assets/labels.json`` and ``assets/preprocessing.json`` (``"input": "emotion_speech_waveform"``)
    are written beside it. No backbone weight is saved here.
    """
    import json
    from pathlib import Path

    import tensorflow as tf

    rows, dim = module.layer_logits.shape[0], module.ws[0].shape[0]
    mean = np.asarray(mean, np.float32)
    std = np.asarray(std, np.float32)
    if mean.shape != (rows, dim) or std.shape != (rows, dim):
        raise SchemaError(f"statistics must be [{rows}, {dim}], got {mean.shape} / {std.shape}")
    serving = tf.Module(name="emotion_speech_serving")
    serving.head = module
    serving.mean = tf.Variable(mean, trainable=False, name="mean")
    serving.std = tf.Variable(std, trainable=False, name="std")
    spec = [tf.TensorSpec((None, rows, dim), tf.float32)]

    def out(logits):
        return {"probabilities": tf.nn.softmax(logits, -1), "logits": logits}

    serving.serve_normalised = tf.function(lambda normalised: out(module.logits(normalised, False)),
                                           input_signature=[tf.TensorSpec((None, rows, dim), tf.float32,
                                                                          name="normalised")], autograph=False)
    serving.serve_states = tf.function(
        lambda states: out(module.logits((states - serving.mean) / (serving.std + EPS), False)),
        input_signature=[tf.TensorSpec((None, rows, dim), tf.float32, name="states")], autograph=False)
    serving.layer_weights = tf.function(lambda: module.layer_weights(), input_signature=[], autograph=False)
    del spec
    tf.saved_model.save(serving, str(out_dir), signatures={"serve_states": serving.serve_states,
                                                           "serve_normalised": serving.serve_normalised})
    assets = Path(out_dir) / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    (assets / "labels.json").write_text(json.dumps(list(classes), indent=1))
    (assets / "preprocessing.json").write_text(json.dumps(preprocessing, indent=1))
