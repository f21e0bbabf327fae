"""EMODalModel: audio network + image (or vector) network, common / classify / specific losses."""
from __future__ import annotations

from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from emozoo.errors import ExperimentError, SchemaError
from emozoo.evaluation.keras_metrics import ConfusionMatrixMetric
from emozoo.layers.standardization import FeatureStandardization
from emozoo.losses.soft_hgr import soft_hgr_score
from emozoo.models import register_model
from emozoo.train.strategies import global_sum, num_replicas, step_logs

MODALITIES = ("both", "audio", "visual")
VISUAL_BRANCHES = ("dense", "cnn")
AUGMENTATION_KEYS = ("flip", "rotation", "translation", "contrast", "feature_noise")


def global_soft_hgr_score(f, g) -> tf.Tensor:
    """The H-score of :func:`emozoo.losses.soft_hgr.soft_hgr_score` over the step's *global* batch.

    Under a strategy with R > 1 replicas each replica holds part of the batch; the means,
    ``E[f^T g]`` and the covariances are sums over all replicas' rows (all-reduced), so every
    replica gets the H-score of the whole batch, not of its part (which is a different
    statistic). Outside a strategy, or with one replica, it is ``soft_hgr_score(f, g)``.
    The all-reduce passes gradients back all-reduced, so each replica's gradient of the
    returned value is R times its share: a replica adds ``H / R`` to its loss.
    """
    if num_replicas() == 1:
        return soft_hgr_score(f, g)
    f = tf.cast(f, tf.float32)
    g = tf.cast(g, tf.float32)
    n = global_sum(tf.cast(tf.shape(f)[0], tf.float32))
    f0 = f - global_sum(tf.reduce_sum(f, 0, keepdims=True)) / tf.maximum(n, 1.0)        # zero-mean f(X)
    g0 = g - global_sum(tf.reduce_sum(g, 0, keepdims=True)) / tf.maximum(n, 1.0)        # zero-mean g(Y)
    corr = global_sum(tf.reduce_sum(f0 * g0)) / tf.maximum(n, 1.0)                      # E[f(X)^T g(Y)]
    n1 = tf.maximum(n - 1.0, 1.0)
    cov_f = global_sum(tf.matmul(f0, f0, transpose_a=True)) / n1
    cov_g = global_sum(tf.matmul(g0, g0, transpose_a=True)) / n1
    return corr - 0.5 * tf.linalg.trace(tf.matmul(cov_f, cov_g))


def _dense_stack(units, dropout, activation, feature_dim, feature_activation, name):
    layers = []
    for i, u in enumerate(units):
        layers.append(keras.layers.Dense(u, activation=activation, name=f"{name}_dense_{i}"))
        if dropout:
            layers.append(keras.layers.Dropout(dropout, name=f"{name}_dropout_{i}"))
    layers.append(keras.layers.Dense(feature_dim, activation=feature_activation, name=f"{name}_feature"))
    return keras.Sequential(layers, name=name)


def _cnn(filters, fc_units, dropout, activation, feature_dim, feature_activation, name):
    layers = []
    for i, f in enumerate(filters):                                      # three 3x3 conv + max pooling (sec. 2)
        layers.append(keras.layers.Conv2D(f, 3, padding="same", activation=activation, name=f"{name}_conv_{i}"))
        layers.append(keras.layers.MaxPooling2D(2, name=f"{name}_pool_{i}"))
    layers += [keras.layers.Flatten(name=f"{name}_flatten"),
               keras.layers.Dense(fc_units, activation=activation, name=f"{name}_fc"),      # fully connected
               keras.layers.Dropout(dropout, name=f"{name}_dropout"),                        # then dropout
               keras.layers.Dense(feature_dim, activation=feature_activation, name=f"{name}_feature")]  # 10 units
    return keras.Sequential(layers, name=name)


@keras.saving.register_keras_serializable(package="emozoo")
class EMODalModel(keras.Model):
    """EMODal: common and modality-specific audio-visual learning (Zhang et al., SenSys 2018).

    Implements sec. 2 of the paper (Fig. 1):

    * **audio network**: fully connected 128, 64 and 10 units on the 68-dim pyAudioAnalysis
      short-term features (:mod:`emozoo.features.short_term`), giving the 10-dim audio feature
      ``g(Y)``;
    * **image network** (``visual_branch="cnn"``): three 3x3 convolutions each followed by 2x2
      max pooling, flatten, one fully connected layer, dropout, and a 10-unit layer giving the
      10-dim image feature ``f(X)``; input the clip's middle-frame largest face, 128x128 grey
      (:mod:`emozoo.models.emodal.emodal_video`). ``visual_branch="dense"`` replaces the CNN by
      fully connected layers (``visual_units`` then 10) for pre-extracted visual vectors (the
      35 OpenFace action units of ``ravdess_av_features``): not in the paper, asked by the issue;
    * **losses** (one training step, one Adam update of all weights on their weighted sum):

      - common loss ``L_common = -H(f, g)``, ``H = E[f^T g] - 1/2 tr(cov f cov g)`` on zero-mean
        features, estimated per batch (:func:`emozoo.losses.soft_hgr.soft_hgr_score`; paper refs
        [6], [7]);
      - classify loss ``L_classify``: cross-entropy of a softmax layer on ``[f, g]`` (concatenated);
      - specific losses ``L_audio``, ``L_visual``: cross-entropy of softmax layers on ``g`` and on
        ``f`` alone;
      - ``L = common_weight * L_common + classify_weight * L_classify
        + specific_weight * (L_audio + L_visual)`` (the paper "combine[s] all the losses together"
        and gives no weights: all 1 by default). ``use_common=False`` is the ablation without the
        common loss (not in the paper).

    ``modalities="audio"`` / ``"visual"`` are Table 1's unimodal models: that network and a
    softmax layer on its 10-dim feature, trained by cross-entropy only.

    Prediction (``call``) returns the logits of the classify head (both modalities) or of the
    single modality's head. Vector inputs are z-normalised by :class:`FeatureStandardization`
    layers whose statistics :meth:`fit_normalization` / :meth:`prepare_fold` fit on the training
    fold; images are scaled to [0, 1].

    Inputs: a dict ``{"audio": [B, audio_dim], "visual": [B, visual_dim]}`` (dense branch) or
    ``{"audio": [B, audio_dim], "image": [B, S, S, 1]}`` (CNN branch, 0..255); a list/tuple in the
    order (audio, visual); or (dense branch only) one flat ``[B, audio_dim + visual_dim]`` tensor,
    audio first (what the feature stores and ``python -m emozoo.train`` give). A model of one
    modality ignores the other's part.

    Logged metrics (per epoch in TensorBoard through Keras's callback): ``loss`` (the weighted
    sum), ``common_loss``, ``hgr_score`` (= -common_loss), ``classify_loss``,
    ``audio_specific_loss``, ``visual_specific_loss``, and ``accuracy``/``uar``/``macro_f1`` of the
    prediction head. ``test_step`` gives ``loss`` (cross-entropy of the prediction head) and the same
    metrics, so validation UAR drives model selection.

    Args:
        num_classes: number of emotion classes K.
        input_dim: flat input width (``audio_dim + visual_dim`` for the dense branch; ignored by
            the CNN branch); checked against the dimensions when given.
        modalities: ``"both"``, ``"audio"`` or ``"visual"`` (Table 1's three models).
        audio_dim: audio feature dimension (68 short-term features; 259 for the RAVDESS MFCC vector).
        visual_dim: visual vector dimension of the dense branch (35 action units).
        visual_branch: ``"cnn"`` (paper) or ``"dense"``.
        image_size: side of the grey face of the CNN branch (paper: 128).
        audio_units: hidden units of the audio network before the feature layer (paper: 128, 64).
        visual_units: hidden units of the dense visual branch (default the audio network's).
        conv_filters: filters of the three convolutions (the paper gives none: 16, 32, 64).
        fc_units: units of the CNN's fully connected layer (the paper gives none: 128).
        dropout: dropout after the CNN's fully connected layer (and after the hidden layers of the
            dense visual branch); the paper gives no rate: 0.5.
        audio_dropout: dropout after the audio network's hidden layers (the paper has none: 0).
        feature_dim: dimension of both modality features (paper: 10).
        feature_activation: activation of the feature layers (``None``: linear, as the Soft-HGR code).
        common_weight, classify_weight, specific_weight: loss weights (paper: not given, 1).
        use_common: ``False`` drops the common loss (ablation).
        learning_rate: Adam learning rate used by ``compile()`` without an optimizer.
        augmentation: dict of on-the-fly training augmentations (sec. 3 "We apply data augmentation
            techniques", not specified): ``flip`` (horizontal flip of faces), ``rotation`` (fraction of
            a full turn), ``translation`` (fraction of the side), ``contrast`` (factor) for images, and
            ``feature_noise`` (std of Gaussian noise on z-normalised vectors); ``None``: none.
        activation: hidden activation.

    Example::

        import numpy as np
        m = EMODalModel(num_classes=4, input_dim=12, audio_dim=8, visual_dim=4, visual_branch="dense",
                        audio_units=(8, 8))
        x = np.random.rand(16, 12).astype("float32"); y = np.random.randint(0, 4, 16)
        m.fit_normalization(x)
        m.compile()
        m.fit(x, y, epochs=1, verbose=0)
        probs = m.predict_proba(x)
    """

    def __init__(self, num_classes: int, input_dim: int | None = None, modalities: str = "both",
                 audio_dim: int = 68, visual_dim: int | None = None, visual_branch: str = "cnn",
                 image_size: int = 128, audio_units: Sequence[int] = (128, 64),
                 visual_units: Sequence[int] | None = None, conv_filters: Sequence[int] = (16, 32, 64),
                 fc_units: int = 128, dropout: float = 0.5, audio_dropout: float = 0.0, feature_dim: int = 10,
                 feature_activation: str | None = None, common_weight: float = 1.0, classify_weight: float = 1.0,
                 specific_weight: float = 1.0, use_common: bool = True, learning_rate: float = 1e-3,
                 augmentation: dict | None = None, activation: str = "relu", **kwargs):
        super().__init__(**kwargs)
        self.num_classes = int(num_classes)
        self.modalities = str(modalities).lower()
        self.audio_dim = int(audio_dim)
        self.visual_branch = str(visual_branch).lower()
        self.visual_dim = None if visual_dim is None else int(visual_dim)
        self.image_size = int(image_size)
        self.audio_units = tuple(int(u) for u in audio_units)
        self.visual_units = self.audio_units if visual_units is None else tuple(int(u) for u in visual_units)
        self.conv_filters = tuple(int(f) for f in conv_filters)
        self.fc_units = int(fc_units)
        self.dropout = float(dropout)
        self.audio_dropout = float(audio_dropout)
        self.feature_dim = int(feature_dim)
        self.feature_activation = feature_activation
        self.common_weight = float(common_weight)
        self.classify_weight = float(classify_weight)
        self.specific_weight = float(specific_weight)
        self.use_common = bool(use_common)
        self.learning_rate = float(learning_rate)
        self.augmentation = dict(augmentation or {})
        self.activation = activation
        self.input_dim = None if input_dim is None else int(input_dim)
        self._validate()

        self.uses_audio = self.modalities in ("both", "audio")
        self.uses_visual = self.modalities in ("both", "visual")
        self.audio_standardization = FeatureStandardization(name="audio_standardization")
        self.audio_network = _dense_stack(self.audio_units, self.audio_dropout, activation, self.feature_dim,
                                          feature_activation, "audio_network") if self.uses_audio else None
        if self.visual_branch == "dense":
            self.visual_standardization = FeatureStandardization(name="visual_standardization")
            net = _dense_stack(self.visual_units, self.dropout, activation, self.feature_dim, feature_activation,
                               "visual_network")
        else:
            self.visual_standardization = None
            net = _cnn(self.conv_filters, self.fc_units, self.dropout, activation, self.feature_dim,
                       feature_activation, "image_network")
        self.visual_network = net if self.uses_visual else None
        k = self.num_classes
        self.classify_head = keras.layers.Dense(k, name="classify_softmax") if self.modalities == "both" else None
        self.audio_head = keras.layers.Dense(k, name="audio_specific_softmax") if self.uses_audio else None
        self.visual_head = keras.layers.Dense(k, name="visual_specific_softmax") if self.uses_visual else None
        self.image_augmentation = self._image_augmentation()

        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.common_tracker = keras.metrics.Mean(name="common_loss")
        self.classify_tracker = keras.metrics.Mean(name="classify_loss")
        self.audio_tracker = keras.metrics.Mean(name="audio_specific_loss")
        self.visual_tracker = keras.metrics.Mean(name="visual_specific_loss")
        self.confusion = ConfusionMatrixMetric(self.num_classes, name="confusion")
        if self.visual_branch == "dense":   # the recorded build shape is the serving signature of export()
            self.build((None, self.audio_dim + self.visual_dim))
        else:
            self.build({"audio": (None, self.audio_dim), "image": (None, self.image_size, self.image_size, 1)})

    # -- construction ---------------------------------------------------------------------
    def _validate(self):
        if self.modalities not in MODALITIES:
            raise ExperimentError(f"modalities must be one of {MODALITIES}, got {self.modalities!r}")
        if self.visual_branch not in VISUAL_BRANCHES:
            raise ExperimentError(f"visual_branch must be one of {VISUAL_BRANCHES}, got {self.visual_branch!r}")
        if self.num_classes < 2:
            raise ExperimentError(f"need num_classes >= 2, got {self.num_classes}")
        if self.audio_dim < 1 or self.feature_dim < 1:
            raise ExperimentError(f"need audio_dim >= 1 and feature_dim >= 1, got {self.audio_dim}, {self.feature_dim}")
        if self.visual_branch == "dense":
            if self.visual_dim is None or self.visual_dim < 1:
                raise ExperimentError("visual_branch='dense' needs visual_dim (the visual vector's width, e.g. 35 AUs)")
            if self.input_dim is not None and self.input_dim != self.audio_dim + self.visual_dim:
                raise ExperimentError(f"input_dim {self.input_dim} != audio_dim {self.audio_dim} + visual_dim "
                                      f"{self.visual_dim}: the flat input is the audio vector then the visual one")
        elif self.image_size < 8 or len(self.conv_filters) != 3:
            raise ExperimentError(f"the CNN branch needs image_size >= 8 and three conv_filters (paper: three 3x3 "
                                  f"convolutions), got {self.image_size}, {self.conv_filters}")
        if not 0 <= self.dropout < 1 or not 0 <= self.audio_dropout < 1:
            raise ExperimentError(f"dropout rates must be in [0, 1), got {self.dropout}, {self.audio_dropout}")
        if min(self.common_weight, self.classify_weight, self.specific_weight) < 0:
            raise ExperimentError("loss weights must be >= 0")
        unknown = sorted(set(self.augmentation) - set(AUGMENTATION_KEYS))
        if unknown:
            raise ExperimentError(f"unknown augmentation {unknown}; known: {list(AUGMENTATION_KEYS)}")

    def _image_augmentation(self):
        a = self.augmentation
        if self.visual_branch != "cnn" or not self.uses_visual:
            return None
        layers = []
        if a.get("flip"):
            layers.append(keras.layers.RandomFlip("horizontal", name="aug_flip"))
        if a.get("rotation"):
            layers.append(keras.layers.RandomRotation(float(a["rotation"]), fill_mode="nearest", name="aug_rotation"))
        if a.get("translation"):
            t = float(a["translation"])
            layers.append(keras.layers.RandomTranslation(t, t, fill_mode="nearest", name="aug_translation"))
        if a.get("contrast"):
            layers.append(keras.layers.RandomContrast(float(a["contrast"]), value_range=(0, 1), name="aug_contrast"))
        return keras.Sequential(layers, name="image_augmentation") if layers else None

    def build(self, input_shape):
        """Build every sub-network from the configured dimensions (``input_shape`` is only recorded)."""
        f = (None, self.feature_dim)
        self.audio_standardization.build((None, self.audio_dim))
        if self.audio_network is not None:
            self.audio_network.build((None, self.audio_dim))
            self.audio_head.build(f)
        if self.visual_branch == "dense":
            self.visual_standardization.build((None, self.visual_dim))
            vshape = (None, self.visual_dim)
        else:
            vshape = (None, self.image_size, self.image_size, 1)
        if self.visual_network is not None:
            self.visual_network.build(vshape)
            self.visual_head.build(f)
            if self.image_augmentation is not None:
                self.image_augmentation.build(vshape)
        if self.classify_head is not None:
            self.classify_head.build((None, 2 * self.feature_dim))
        self.built = True

    # -- inputs ---------------------------------------------------------------------------
    def split_inputs(self, inputs):
        """``(audio [B, audio_dim] float32, visual [B, visual_dim] or [B, S, S, 1] float32)`` from any accepted form."""
        if isinstance(inputs, dict):
            vkey = "image" if self.visual_branch == "cnn" else "visual"
            audio = inputs.get("audio")
            visual = inputs.get(vkey, inputs.get("visual"))
            if (self.uses_audio and audio is None) or (self.uses_visual and visual is None):
                raise SchemaError(f"input dict has keys {sorted(inputs)}; the model ({self.modalities}) needs "
                                  + " and ".join(k for k, u in (("'audio'", self.uses_audio),
                                                                (f"'{vkey}'", self.uses_visual)) if u))
        elif isinstance(inputs, (list, tuple)):
            if len(inputs) != 2:
                raise SchemaError(f"a list input must be [audio, visual], got {len(inputs)} tensors")
            audio, visual = inputs
        else:
            if self.visual_branch == "cnn":
                raise SchemaError("the CNN branch takes {'audio': [B, 68], 'image': [B, S, S, 1]}, not one flat "
                                  "tensor")
            x = tf.convert_to_tensor(inputs, tf.float32)
            want = self.audio_dim + self.visual_dim
            if x.shape.rank != 2 or (x.shape[-1] is not None and int(x.shape[-1]) != want):
                raise SchemaError(f"flat input must be [B, {want}] (audio {self.audio_dim} then visual "
                                  f"{self.visual_dim}), got {x.shape}")
            audio, visual = x[:, :self.audio_dim], x[:, self.audio_dim:]
        if audio is not None:
            audio = tf.cast(audio, tf.float32)
            if audio.shape[-1] is not None and int(audio.shape[-1]) != self.audio_dim:
                raise SchemaError(f"audio features have dimension {audio.shape[-1]}, the model expects {self.audio_dim}")
        if visual is not None:
            visual = tf.cast(visual, tf.float32)
            if self.visual_branch == "cnn":
                if visual.shape.rank == 3:
                    visual = visual[..., None]
                s = self.image_size
                if visual.shape.rank != 4 or tuple(visual.shape[1:]) != (s, s, 1):
                    raise SchemaError(f"faces must be grey [B, {s}, {s}, 1] (0..255), got {visual.shape}")
            elif visual.shape[-1] is not None and int(visual.shape[-1]) != self.visual_dim:
                raise SchemaError(f"visual features have dimension {visual.shape[-1]}, the model expects "
                                  f"{self.visual_dim}")
        return audio, visual

    def fit_normalization(self, x) -> None:
        """Fit the z-normalisation of the vector inputs on training inputs (numpy; any accepted form)."""
        audio, visual = self.split_inputs(x)
        self.audio_standardization.fit(np.asarray(audio))
        if self.visual_standardization is not None:
            self.visual_standardization.fit(np.asarray(visual))

    def prepare_fold(self, fold) -> None:
        """Trainer hook: normalisation statistics of the fold's training side only."""
        self.fit_normalization(fold.train.x)

    # -- forward --------------------------------------------------------------------------
    def features(self, inputs, training=False, augment=False):
        """``(g(Y) audio feature or None, f(X) visual feature or None)``, each ``[B, feature_dim]``."""
        audio, visual = self.split_inputs(inputs)
        fa = fv = None
        noise = float(self.augmentation.get("feature_noise", 0.0)) if augment else 0.0
        if self.uses_audio:
            a = self.audio_standardization(audio)
            if noise:
                a = a + tf.random.normal(tf.shape(a), stddev=noise)
            fa = self.audio_network(a, training=training)
        if self.uses_visual:
            if self.visual_branch == "dense":
                v = self.visual_standardization(visual)
                if noise:
                    v = v + tf.random.normal(tf.shape(v), stddev=noise)
            else:
                v = visual / 255.0
                if augment and self.image_augmentation is not None:
                    v = self.image_augmentation(v, training=True)
            fv = self.visual_network(v, training=training)
        return fa, fv

    def heads(self, fa, fv, training=False):
        """Logits ``{"classify", "audio", "visual"}`` of the heads this model has."""
        out = {}
        if self.classify_head is not None:
            out["classify"] = self.classify_head(tf.concat([fv, fa], axis=-1))   # softmax on combined feature
        if fa is not None:
            out["audio"] = self.audio_head(fa)
        if fv is not None:
            out["visual"] = self.visual_head(fv)
        return out

    def _prediction(self, logits):
        return logits["classify"] if self.modalities == "both" else logits[self.modalities]

    def call(self, inputs, training=False):
        fa, fv = self.features(inputs, training=training)
        return self._prediction(self.heads(fa, fv, training))

    def embed(self, inputs):
        """The learnt representation: ``[f, g]`` (both) or the single modality's 10-dim feature."""
        fa, fv = self.features(inputs, training=False)
        return tf.concat([t for t in (fv, fa) if t is not None], axis=-1)

    def predict_proba(self, inputs) -> np.ndarray:
        return tf.nn.softmax(self(inputs, training=False), -1).numpy()

    # -- training ---------------------------------------------------------------------------
    def compile(self, optimizer=None, **kwargs):
        """Adam (sec. 2: "select Adam to train our model") with ``learning_rate`` unless given."""
        optimizer = keras.optimizers.Adam(self.learning_rate) if optimizer is None else keras.optimizers.get(optimizer)
        super().compile(optimizer=optimizer, **kwargs)

    def compile_from_config(self, config):
        opt = (config or {}).get("optimizer")
        self.compile(optimizer=keras.optimizers.deserialize(opt) if opt else None)

    @property
    def metrics(self):
        return [self.loss_tracker, self.common_tracker, self.classify_tracker, self.audio_tracker,
                self.visual_tracker, self.confusion]

    def _unpack(self, data):
        inputs, y, sw = keras.utils.unpack_x_y_sample_weight(data)
        if y is None:
            raise SchemaError("a training batch needs emotion labels y")
        y = tf.reshape(tf.cast(y, tf.int32), (-1,))
        w = tf.ones_like(y, tf.float32) if sw is None else tf.reshape(tf.cast(sw, tf.float32), (-1,))
        return inputs, y, w

    @staticmethod
    def _ce(y, logits, w):
        """This replica's share of the weighted mean cross-entropy of the step's global batch
        (its rows' sum over the global weight; the shares of the replicas sum to the mean)."""
        per = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
        return tf.reduce_sum(per * w) / tf.maximum(global_sum(tf.reduce_sum(w)), 1e-8)

    def compute_losses(self, inputs, y, w=None, training=False, augment=False):
        """All EMODal losses of one batch: dict with ``total``, ``common`` (= -H), ``classify``,
        ``audio_specific``, ``visual_specific`` (zero when a term does not apply), ``logits`` and
        ``replica_total``.

        Under a strategy the losses are those of the step's *global* batch (the H-score from
        all replicas' rows, the cross-entropies over the global weight); ``replica_total`` is the
        replica's share whose gradients, summed over the replicas by the optimiser, are the
        gradients of ``total`` (outside a strategy ``replica_total == total``)."""
        w = tf.ones_like(y, tf.float32) if w is None else w
        fa, fv = self.features(inputs, training=training, augment=augment)
        logits = self.heads(fa, fv, training)
        zero = tf.constant(0.0)
        r = float(num_replicas())
        common = -global_soft_hgr_score(fv, fa) if self.modalities == "both" else zero   # L_common = -H(f, g)
        # replica shares of the cross-entropies (sums over the global weight)
        classify = self._ce(y, logits["classify"], w) if "classify" in logits else zero   # L_classify
        la = self._ce(y, logits["audio"], w) if "audio" in logits else zero           # L_audio (specific)
        lv = self._ce(y, logits["visual"], w) if "visual" in logits else zero         # L_visual (specific)
        if self.modalities == "both":
            share = (self.classify_weight * classify + self.specific_weight * (la + lv)
                     + (self.common_weight * common / r if self.use_common else 0.0))  # combined loss (sec. 2)
        else:
            share = la if self.modalities == "audio" else lv                            # unimodal: its softmax CE
        if r > 1:   # the global values (each replica: the same numbers)
            classify, la, lv, total = (global_sum(v) for v in (classify, la, lv, share))
        else:
            total = share
        return {"total": total, "common": common, "classify": classify, "audio_specific": la,
                "visual_specific": lv, "logits": self._prediction(logits), "replica_total": share}

    def train_step(self, data):
        """One Adam update of every weight on ``L`` (common + classify + the two specific losses)."""
        inputs, y, w = self._unpack(data)
        with tf.GradientTape() as tape:
            losses = self.compute_losses(inputs, y, w, training=True, augment=bool(self.augmentation))
        variables = self.trainable_variables
        grads = tape.gradient(losses["replica_total"], variables)
        self.optimizer.apply_gradients([(g, v) for g, v in zip(grads, variables) if g is not None])
        return self._update_metrics(losses, y, w)

    def test_step(self, data):
        inputs, y, w = self._unpack(data)
        losses = self.compute_losses(inputs, y, w, training=False)
        ce = self._ce(y, losses["logits"], w)
        if num_replicas() > 1:
            ce = global_sum(ce)      # the replicas' shares: the global batch's cross-entropy
        return self._update_metrics({**losses, "total": ce}, y, w)

    def _update_metrics(self, losses, y, w):
        # the losses are the global batch's; weighted by this replica's rows, the trackers (summed
        # over the replicas) weigh every step by its global row count, as on one device
        n = tf.reduce_sum(w)
        self.loss_tracker.update_state(losses["total"], sample_weight=n)
        self.common_tracker.update_state(losses["common"], sample_weight=n)
        self.classify_tracker.update_state(losses["classify"], sample_weight=n)
        self.audio_tracker.update_state(losses["audio_specific"], sample_weight=n)
        self.visual_tracker.update_state(losses["visual_specific"], sample_weight=n)
        k = self.num_classes
        true = tf.one_hot(y, k) * w[:, None]
        pred = tf.one_hot(tf.argmax(losses["logits"], -1), k)
        self.confusion.matrix.assign_add(tf.matmul(true, pred, transpose_a=True))
        return step_logs(self._results())      # reducible under MultiWorkerMirroredStrategy

    def _results(self):
        out = {"loss": self.loss_tracker.result(), "common_loss": self.common_tracker.result(),
               "hgr_score": -self.common_tracker.result(), "classify_loss": self.classify_tracker.result(),
               "audio_specific_loss": self.audio_tracker.result(),
               "visual_specific_loss": self.visual_tracker.result()}
        out.update(self.confusion.result())
        return out

    def get_metrics_result(self):
        """Epoch logs from the metric states summed over the replicas (Keras's epoch-end read).

        Keras takes the epoch logs from the metrics only when their keys equal the step's logs;
        ``hgr_score`` is derived, so without this the epoch logs under a strategy were the last
        step's per-replica results averaged over the replicas, not the epoch's values."""
        return {k: float(keras.ops.convert_to_numpy(v)) for k, v in self._results().items()}

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "input_dim": self.input_dim,
                "modalities": self.modalities, "audio_dim": self.audio_dim, "visual_dim": self.visual_dim,
                "visual_branch": self.visual_branch, "image_size": self.image_size,
                "audio_units": list(self.audio_units), "visual_units": list(self.visual_units),
                "conv_filters": list(self.conv_filters), "fc_units": self.fc_units, "dropout": self.dropout,
                "audio_dropout": self.audio_dropout, "feature_dim": self.feature_dim,
                "feature_activation": self.feature_activation, "common_weight": self.common_weight,
                "classify_weight": self.classify_weight, "specific_weight": self.specific_weight,
                "use_common": self.use_common, "learning_rate": self.learning_rate,
                "augmentation": dict(self.augmentation), "activation": self.activation}


@register_model("emodal")
def build_emodal(num_classes: int, input_dim: int | None = None, **params) -> EMODalModel:
    return EMODalModel(num_classes=num_classes, input_dim=input_dim, **params)
