"""DANN for emotion recognition (Lian, Tao, Liu, Huang: Domain adversarial learning for emotion
recognition, 2019): conversational model (AT-Fusion -> SA-GRU -> emotion classifier, and a domain
classifier behind a gradient reversal layer) and its utterance-level twin for speech corpora."""
from __future__ import annotations

from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from emozoo.errors import ExperimentError, ExportError, SchemaError
from emozoo.layers.attention_fusion import AttentionFusion
from emozoo.layers.gradient_reversal import GradientReversal
from emozoo.layers.sa_gru import SelfAttentionGRU
from emozoo.models import register_model
from emozoo.train.strategies import global_sum, num_replicas, step_logs


def _mlp(units, activation, dropout, reg, name):
    out = []
    for i, u in enumerate(units):
        out.append(keras.layers.Dense(u, activation=activation, kernel_regularizer=reg, name=f"{name}_dense_{i}"))
        if dropout:
            out.append(keras.layers.Dropout(dropout, name=f"{name}_dropout_{i}"))
    return out


def _write_archive(path, layers, endpoint, fn, signature, classes) -> str:
    """Write the inference-only SavedModel (``layers`` tracked, one ``endpoint``) and its
    ``assets/labels.json``; refuses an existing folder."""
    import json
    import os
    if os.path.exists(path):
        raise ExportError(f"{path} already exists; export into a fresh folder")
    archive = keras.export.ExportArchive()
    for layer in layers:
        archive.track(layer)
    archive.add_endpoint(endpoint, fn, input_signature=signature)
    archive.write_out(str(path), verbose=False)
    os.makedirs(os.path.join(path, "assets"), exist_ok=True)
    if classes is not None:
        with open(os.path.join(path, "assets", "labels.json"), "w") as f:
            json.dump(list(classes), f)
    return str(path)


class _DANNBase(keras.Model):
    """Shared loss (eq. 5), train/test steps and metrics of the two DANN models.

    Subclasses implement ``_encode(inputs, training) -> (r [..., d], mask [...] bool)``.
    Losses of one step (sums over the replica's rows divided by *global* counts):

    * ``L_y`` = cross-entropy of the emotion classifier over the ``n`` labelled rows
      (``label >= 0`` and not padding) / n;
    * ``L_d`` = cross-entropy of the domain classifier over the ``n + m`` rows with a domain
      (``domain >= 0``, not padding: labelled training rows AND unlabelled target rows) / (n+m);
    * the optimiser minimises ``L_y + L_d + l2 * sum ||W||^2`` over all weights; the domain
      classifier sits behind :class:`GradientReversal`, so the encoder receives
      ``dL_y - lambda * dL_d``: eq. (5) ``L = L_y - lambda L_d`` for the encoder, while the domain
      classifier minimises ``L_d`` (Ganin et al.'s saddle point). ``lambda = 0`` is the CI
      baseline: the domain classifier still trains (a probe of what ``r`` says about speakers)
      but sends nothing to the encoder.
    """

    def _init_common(self, num_classes, num_domains, grl_lambda, domain_units, emotion_units, l2, dropout,
                     activation):
        self.num_classes = int(num_classes)
        self.num_domains = int(num_domains)
        self.grl_lambda = float(grl_lambda)
        self.domain_units = tuple(int(u) for u in domain_units)
        self.emotion_units = tuple(int(u) for u in emotion_units)
        self.l2 = float(l2)
        self.dropout = float(dropout)
        self.activation = activation
        if self.num_classes < 2:
            raise ExperimentError(f"DANN needs num_classes >= 2, got {self.num_classes}")
        if self.num_domains < 2:
            raise ExperimentError(f"DANN needs >= 2 domains (speakers or train/test) for the domain classifier, "
                                  f"got {self.num_domains}")
        if self.grl_lambda < 0 or self.l2 < 0 or not 0 <= self.dropout < 1:
            raise ExperimentError(f"need grl_lambda >= 0, l2 >= 0, 0 <= dropout < 1; got {self.grl_lambda}, "
                                  f"{self.l2}, {self.dropout}")
        self.reg = keras.regularizers.L2(self.l2) if self.l2 else None
        self.emotion_classifier = keras.Sequential(
            _mlp(self.emotion_units, activation, self.dropout, self.reg, "emotion")
            + [keras.layers.Dense(self.num_classes, kernel_regularizer=self.reg, name="emotion_logits")],
            name="emotion_classifier")
        self.grl = GradientReversal(self.grl_lambda, name="gradient_reversal")
        self.domain_classifier = keras.Sequential(
            _mlp(self.domain_units, activation, self.dropout, self.reg, "domain")
            + [keras.layers.Dense(self.num_domains, kernel_regularizer=self.reg, name="domain_logits")],
            name="domain_classifier")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.emotion_loss_tracker = keras.metrics.Mean(name="emotion_loss")
        self.domain_loss_tracker = keras.metrics.Mean(name="domain_loss")
        self.domain_acc_tracker = keras.metrics.Mean(name="domain_accuracy")
        self.acc_tracker = keras.metrics.Mean(name="accuracy")

    @property
    def metrics(self):
        return [self.loss_tracker, self.emotion_loss_tracker, self.domain_loss_tracker, self.domain_acc_tracker,
                self.acc_tracker]

    # -- forward --------------------------------------------------------------------------
    def call(self, inputs, training=False):
        """Emotion logits (the inference path: encoder + emotion classifier, no GRL)."""
        r, _ = self._encode(inputs, training)
        return self.emotion_classifier(r, training=training)

    def embed(self, inputs, training=False):
        """The representation ``r`` the two classifiers share (``r_i`` of the paper)."""
        return self._encode(inputs, training)[0]

    def domain_logits(self, inputs, training=False):
        r, _ = self._encode(inputs, training)
        return self.domain_classifier(self.grl(r), training=training)

    # -- training --------------------------------------------------------------------------
    def _unpack(self, data):
        if isinstance(data, dict):
            data = dict(data)
            y = data.pop("label", None)
            inputs = data
        else:
            inputs, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        if y is None:
            raise SchemaError("a DANN training batch needs emotion labels (-1 for unlabelled rows)")
        if not isinstance(inputs, dict) or "domain" not in inputs:
            raise SchemaError("a DANN training batch needs inputs['domain'] (domain index per row, -1 = none)")
        return inputs, tf.cast(y, tf.int32)

    def _dann_losses(self, inputs, y, training):
        r, mask = self._encode(inputs, training)
        logits = self.emotion_classifier(r, training=training)
        dlogits = self.domain_classifier(self.grl(r), training=training)
        dom = tf.cast(inputs["domain"], tf.int32)
        lab = (y >= 0) & mask
        dmask = (dom >= 0) & mask
        labf, dmf = tf.cast(lab, tf.float32), tf.cast(dmask, tf.float32)
        ce_y = tf.nn.sparse_softmax_cross_entropy_with_logits(tf.maximum(y, 0), tf.cast(logits, tf.float32))
        ce_d = tf.nn.sparse_softmax_cross_entropy_with_logits(tf.maximum(dom, 0), tf.cast(dlogits, tf.float32))
        n = tf.maximum(global_sum(tf.reduce_sum(labf)), 1.0)
        nm = tf.maximum(global_sum(tf.reduce_sum(dmf)), 1.0)
        l_y = tf.reduce_sum(ce_y * labf) / n
        l_d = tf.reduce_sum(ce_d * dmf) / nm
        pred = tf.argmax(logits, -1, output_type=tf.int32)
        dpred = tf.argmax(dlogits, -1, output_type=tf.int32)
        stats = {"n": tf.reduce_sum(labf), "nm": tf.reduce_sum(dmf),
                 "acc": tf.reduce_sum(tf.cast(pred == y, tf.float32) * labf),
                 "dacc": tf.reduce_sum(tf.cast(dpred == dom, tf.float32) * dmf),
                 "ce_y": tf.reduce_sum(ce_y * labf), "ce_d": tf.reduce_sum(ce_d * dmf)}
        return l_y, l_d, stats

    def _track(self, stats):
        n, nm = stats["n"], stats["nm"]
        self.emotion_loss_tracker.update_state(stats["ce_y"] / tf.maximum(n, 1.0), sample_weight=n)
        self.loss_tracker.update_state(stats["ce_y"] / tf.maximum(n, 1.0), sample_weight=n)
        self.acc_tracker.update_state(stats["acc"] / tf.maximum(n, 1.0), sample_weight=n)
        self.domain_loss_tracker.update_state(stats["ce_d"] / tf.maximum(nm, 1.0), sample_weight=nm)
        self.domain_acc_tracker.update_state(stats["dacc"] / tf.maximum(nm, 1.0), sample_weight=nm)

    def train_step(self, data):
        """One Adam step on eq. (5) (see the class docstring); returns the metrics."""
        inputs, y = self._unpack(data)
        with tf.GradientTape() as tape:
            l_y, l_d, stats = self._dann_losses(inputs, y, True)
            reg = tf.add_n([tf.cast(l, tf.float32) for l in self.losses]) if self.losses else 0.0
            # every replica adds the L2 term and the optimiser sums the replicas' gradients: 1/R each
            total = l_y + l_d + reg / num_replicas()
        grads = tape.gradient(total, self.trainable_variables)
        self.optimizer.apply_gradients([(g, v) for g, v in zip(grads, self.trainable_variables) if g is not None])
        self._track(stats)
        return step_logs({m.name: m.result() for m in self.metrics})   # reducible under MultiWorkerMirroredStrategy

    def test_step(self, data):
        inputs, y = self._unpack(data)
        _, _, stats = self._dann_losses(inputs, y, False)
        self._track(stats)
        return step_logs({m.name: m.result() for m in self.metrics})

    #: ``jit_compile`` of :meth:`compile` when the caller gives none (Keras's "auto": XLA on GPU only)
    default_jit_compile = "auto"

    def compile(self, optimizer=None, **kwargs):
        """Keras ``compile``; ``optimizer`` defaults to Adam(``learning_rate``) and ``jit_compile``
        to :attr:`default_jit_compile`."""
        if optimizer is None:
            optimizer = keras.optimizers.Adam(getattr(self, "learning_rate", 1e-4))
        kwargs.setdefault("jit_compile", self.default_jit_compile)
        super().compile(optimizer=optimizer, **kwargs)

    def compile_from_config(self, config):
        """Re-create the optimiser (and its state's slots) when a ``.keras`` file is loaded, so a
        loaded model can go on training."""
        opt = (config or {}).get("optimizer")
        self.compile(optimizer=keras.optimizers.deserialize(opt) if opt else None)
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def set_lambda(self, value: float):
        self.grl.set_lambda(value)

    def _common_config(self):
        return {"num_classes": self.num_classes, "num_domains": self.num_domains, "grl_lambda": self.grl_lambda,
                "domain_units": list(self.domain_units), "emotion_units": list(self.emotion_units), "l2": self.l2,
                "dropout": self.dropout, "activation": self.activation}


@keras.saving.register_keras_serializable(package="emozoo")
class DANNConversationModel(_DANNBase):
    """The paper's framework (Fig. 1) over conversations.

    Feature encoder: :class:`AttentionFusion` (eq. 1-3; per-modality projection to ``d``, then
    attention over modalities) on every utterance, then :class:`SelfAttentionGRU` (bi-GRU
    ``gru_units`` per direction, eq. 4 self-attention with ``num_heads`` heads) over the
    utterances: ``R = [r_1 .. r_L]``. Emotion classifier on ``r_i``; domain classifier (speakers,
    or train-vs-test sets) on ``GRL(r_i)``.

    Inputs (dict): one ``[B, L, D_m]`` float tensor per modality name in ``modalities``
    (e.g. ``"text"``: MiniLM sentence embeddings, ``"audio"``: ComParE functionals), ``"mask"``
    ``[B, L]`` (1 = a real utterance, 0 = padding) and, for training, ``"domain"`` ``[B, L]``
    (domain index, -1 = none). Labels ``[B, L]`` int, ``-1`` for unlabelled utterances
    (frustrated/other turns kept as context, target-session turns, padding).

    Args (paper values in brackets):
        num_classes: emotion classes [4].
        input_dims: ``D_m`` per modality, in the order of ``modalities``.
        modalities: names of the modalities (keys of the input dict).
        num_domains: speakers (or 2 for train/test domains).
        fusion_units: ``d`` of AT-Fusion [100].
        gru_units: per direction [50] (``2 * gru_units`` is the attention state size [100]).
        num_heads: self-attention heads [4].
        grl_lambda: ``lambda`` of eq. (5) [1]; 0 = CI.
        l2: L2 weight on all kernels [1e-5].
        emotion_units / domain_units: hidden layers of the classifiers (not given in the paper:
            none for emotion, one of 100 for the domain classifier).
        learning_rate: Adam learning rate of ``compile()`` with no optimizer [1e-4].
        attention_scale: divide eq. (4) scores by ``sqrt(d/h)`` (not in the paper).
    """

    def __init__(self, num_classes: int, input_dims: Sequence[int], modalities: Sequence[str] = ("text",),
                 num_domains: int = 2, fusion_units: int = 100, gru_units: int = 50, num_heads: int = 4,
                 grl_lambda: float = 1.0, l2: float = 1e-5, emotion_units: Sequence[int] = (),
                 domain_units: Sequence[int] = (100,), dropout: float = 0.0, learning_rate: float = 1e-4,
                 attention_scale: bool = False, projection_activation=None, activation: str = "relu", **kwargs):
        super().__init__(**kwargs)
        self.modalities = tuple(str(m) for m in modalities)
        self.input_dims = tuple(int(d) for d in input_dims)
        if len(self.modalities) != len(self.input_dims) or not self.modalities:
            raise ExperimentError(f"modalities {self.modalities} and input_dims {self.input_dims} must match, one "
                                  "dimension per modality")
        self.fusion_units = int(fusion_units)
        self.gru_units = int(gru_units)
        self.num_heads = int(num_heads)
        self.learning_rate = float(learning_rate)
        self.attention_scale = bool(attention_scale)
        self.projection_activation = projection_activation
        self._init_common(num_classes, num_domains, grl_lambda, domain_units, emotion_units, l2, dropout, activation)
        self.fusion = AttentionFusion(self.fusion_units, self.input_dims, projection_activation,
                                      kernel_regularizer=self.reg, name="at_fusion")
        self.sa_gru = SelfAttentionGRU(self.gru_units, self.num_heads, scale=self.attention_scale,
                                       kernel_regularizer=self.reg, name="sa_gru")
        self.fusion.build()
        self.sa_gru.build((None, None, self.fusion_units))
        d = 2 * self.gru_units
        self.emotion_classifier.build((None, None, d))
        self.domain_classifier.build((None, None, d))
        self.built = True

    def _encode(self, inputs, training):
        if not isinstance(inputs, dict):
            if len(self.modalities) == 1:
                inputs = {self.modalities[0]: inputs}
            else:
                raise SchemaError(f"give a dict with the modalities {list(self.modalities)} and 'mask'")
        missing = [m for m in self.modalities if m not in inputs]
        if missing:
            raise SchemaError(f"conversation input lacks modalities {missing}; it has {sorted(inputs)}")
        parts = []
        for m, d in zip(self.modalities, self.input_dims):
            x = tf.cast(inputs[m], tf.float32)
            if x.shape.rank != 3:
                raise SchemaError(f"modality {m!r} must be [conversations, utterances, {d}], got shape {x.shape}")
            parts.append(x)
        if "mask" in inputs:
            mask = tf.cast(inputs["mask"], tf.bool)
        else:
            mask = tf.ones(tf.shape(parts[0])[:2], tf.bool)
        f = self.fusion(parts)                               # eq. (1)-(3): F = [f_1 .. f_L]
        r = self.sa_gru(f, mask=mask, training=training)     # bi-GRU + eq. (4): R = [r_1 .. r_L]
        return r, mask

    def export_inference(self, path, *, classes: Sequence[str] | None = None) -> str:
        """SavedModel of the inference path only (AT-Fusion, SA-GRU, emotion classifier; no GRL,
        no domain classifier). Signature ``serve_conversation(<modality> [B, L, D_m]..., mask [B, L])``
        -> ``logits``, ``probabilities`` ``[B, L, K]`` and ``embedding`` (``r_i``) ``[B, L, d]``;
        ``serve_conversation_attention`` also returns the AT-Fusion weights ``[B, L, M]``."""
        specs = [tf.TensorSpec((None, None, d), tf.float32, name=m) for m, d in zip(self.modalities, self.input_dims)]
        specs.append(tf.TensorSpec((None, None), tf.float32, name="mask"))
        fusion, sa, emo = self.fusion, self.sa_gru, self.emotion_classifier

        def heads(*args):
            mask = tf.cast(args[-1], tf.bool)
            f, alpha = fusion(list(args[:-1]), return_attention=True)
            r = sa(f, mask=mask, training=False)
            logits = emo(r, training=False)
            return {"logits": logits, "probabilities": tf.nn.softmax(logits, -1), "embedding": r,
                    "modality_attention": alpha}

        return _write_archive(path, (fusion, sa, emo), "serve_conversation", heads, specs, classes)

    def get_config(self):
        return {**super().get_config(), **self._common_config(), "input_dims": list(self.input_dims),
                "modalities": list(self.modalities), "fusion_units": self.fusion_units,
                "gru_units": self.gru_units, "num_heads": self.num_heads, "learning_rate": self.learning_rate,
                "attention_scale": self.attention_scale, "projection_activation": self.projection_activation}


@keras.saving.register_keras_serializable(package="emozoo")
class DANNUtteranceModel(_DANNBase):
    """Utterance-level DANN (Ganin et al. 2016 as used by Lian et al. for speakers): for corpora
    without conversations (EmoDB, RAVDESS, CASIA). Encoder: a dense stack ``encoder_units``
    on one feature vector per utterance (IS10 / ComParE functionals, z-normalised with
    statistics fitted on the training side); emotion classifier on ``r``; speaker (domain)
    classifier on ``GRL(r)``. Same losses and train step as the conversation model.

    Inputs: ``{"features": [B, D], "domain": [B]}`` (or a ``[B, D]`` tensor for inference).

    Speed (issue 21, docs/performance.md): the trainer runs a whole epoch per call into the graph
    (``steps_per_execution`` = steps per epoch, see :attr:`trainer_steps_per_execution`): bit for
    bit the batches, dropout masks and updates of a call per step, without Python per step.
    ``compile`` keeps Keras's ``jit_compile="auto"`` (XLA on GPU, not on CPU): on CPU XLA makes the
    steady-state step ~15 % cheaper but compiling it for every fold costs more CPU than a
    leave-one-speaker-out fold saves (a CASIA fold of 40 epochs: 16 s of CPU with XLA, 8.5 s
    without). ``compile(jit_compile=True)`` turns it on for long runs; XLA's float32 rounding
    differs in the last bits (weights within ~1e-6 after 15 steps without dropout) and with
    dropout it draws other masks from the same seeds (the stateless generator's algorithm
    differs under XLA): an equally random, reproducible draw, not the masks of a run without XLA.
    """

    #: ``python -m emozoo.train`` may run one epoch per graph call (when no callback needs each step)
    trainer_steps_per_execution = "epoch"

    def __init__(self, num_classes: int, input_dim: int, num_domains: int = 2, encoder_units: Sequence[int] = (256, 100),
                 grl_lambda: float = 1.0, l2: float = 1e-5, emotion_units: Sequence[int] = (),
                 domain_units: Sequence[int] = (100,), dropout: float = 0.0, learning_rate: float = 1e-4,
                 activation: str = "relu", **kwargs):
        super().__init__(**kwargs)
        self.input_dim = int(input_dim)
        self.encoder_units = tuple(int(u) for u in encoder_units)
        self.learning_rate = float(learning_rate)
        if self.input_dim < 1 or not self.encoder_units:
            raise ExperimentError(f"need input_dim >= 1 and at least one encoder layer, got {self.input_dim}, "
                                  f"{self.encoder_units}")
        self._init_common(num_classes, num_domains, grl_lambda, domain_units, emotion_units, l2, dropout, activation)
        from emozoo.layers.standardization import FeatureStandardization
        self.standardization = FeatureStandardization(name="standardization")
        self.encoder = keras.Sequential(_mlp(self.encoder_units, activation, self.dropout, self.reg, "encoder"),
                                        name="encoder")
        self.standardization.build((None, self.input_dim))
        self.encoder.build((None, self.input_dim))
        self.emotion_classifier.build((None, self.encoder_units[-1]))
        self.domain_classifier.build((None, self.encoder_units[-1]))
        self.built = True

    def fit_normalization(self, x):
        self.standardization.fit(np.asarray(x, np.float32))

    # -- trainer hooks (python -m emozoo.train --experiment dann/speech/...) ------------------
    transductive = True   # the held-out (test) speaker's clips are unlabelled target data of the domain loss

    def _parts(self, fold, part):
        tables = [getattr(fold, part, None)]
        if part == "train":
            tables.append(getattr(fold, "unlabelled", None))
            if self.transductive:
                tables.append(getattr(fold, "test", None))
        return [t for t in tables if t is not None and len(t)]

    def prepare_fold(self, fold) -> None:
        """Speaker -> domain index over the fold's training side (labelled speakers and the
        unlabelled target speakers), and the z-normalisation fitted on the same features."""
        tables = self._parts(fold, "train")
        speakers = sorted({f"{c}/{s}" for t in tables for c, s in zip(t.meta["corpus"], t.meta["speaker"])})
        if len(speakers) > self.num_domains:
            raise ExperimentError(f"fold {getattr(fold, 'name', '?')} has {len(speakers)} speakers, the domain "
                                  f"classifier was built for num_domains={self.num_domains}; raise num_domains")
        self.speaker_index = {s: i for i, s in enumerate(speakers)}
        self.fit_normalization(np.concatenate([t.x for t in tables]))

    def fold_arrays(self, fold, part: str = "train", *, seed: int = 0, **_):
        """``({"features", "domain"}, y)`` of a trainer fold. ``train``: labelled training clips, then
        the unlabelled ones (``fold.unlabelled`` and, transductively, the test speaker's clips) with
        ``y = -1``; every clip's domain is its speaker. Other parts: that table, no domain."""
        tables = self._parts(fold, part)
        if not tables:
            raise SchemaError(f"fold {getattr(fold, 'name', '?')} has no {part} examples")
        x = np.concatenate([t.x for t in tables]).astype(np.float32)
        y = np.concatenate([t.y if i == 0 else np.full(len(t), -1) for i, t in enumerate(tables)]).astype(np.int32)
        if part == "train":
            index = getattr(self, "speaker_index", None)
            if index is None:
                raise ExperimentError("call prepare_fold(fold) before fold_arrays(fold, 'train')")
            dom = np.asarray([index[f"{c}/{s}"] for t in tables for c, s in zip(t.meta["corpus"], t.meta["speaker"])],
                             np.int32)
        else:
            dom = np.full(len(y), -1, np.int32)
        return {"features": x, "domain": dom}, y

    def _encode(self, inputs, training):
        x = inputs["features"] if isinstance(inputs, dict) else inputs
        x = tf.cast(x, tf.float32)
        if x.shape[-1] is not None and int(x.shape[-1]) != self.input_dim:
            raise SchemaError(f"features have dimension {x.shape[-1]}, the model was built for {self.input_dim}")
        r = self.encoder(self.standardization(x), training=training)
        return r, tf.ones(tf.shape(r)[:1], tf.bool)

    def export_inference(self, path, *, classes: Sequence[str] | None = None) -> str:
        """SavedModel of normalisation + encoder + emotion classifier: ``serve_features(features [N, D])``."""
        std, enc, emo = self.standardization, self.encoder, self.emotion_classifier

        def heads(features):
            r = enc(std(features), training=False)
            logits = emo(r, training=False)
            return {"logits": logits, "probabilities": tf.nn.softmax(logits, -1), "embedding": r}

        return _write_archive(path, (std, enc, emo), "serve_features", heads,
                              [tf.TensorSpec((None, self.input_dim), tf.float32, name="features")], classes)

    def get_config(self):
        return {**super().get_config(), **self._common_config(), "input_dim": self.input_dim,
                "encoder_units": list(self.encoder_units), "learning_rate": self.learning_rate}


@register_model("dann")
def build_dann(num_classes: int, input_dim: int, **params):
    """``dann``: the utterance-level model (``input_dim`` = feature dimension)."""
    return DANNUtteranceModel(num_classes=num_classes, input_dim=input_dim, **params)


@register_model("dann_conversation")
def build_dann_conversation(num_classes: int, input_dim: int = 0, **params):
    if "input_dims" not in params:
        params["input_dims"] = (input_dim,)
    return DANNConversationModel(num_classes=num_classes, **params)
