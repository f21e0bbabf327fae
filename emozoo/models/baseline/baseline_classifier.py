"""BaselineClassifier: feature generator G (MLP) + emotion classifier E, trained with cross-entropy."""
from __future__ import annotations

import keras
import tensorflow as tf

from emozoo.evaluation.keras_metrics import ConfusionMatrixMetric
from emozoo.layers.standardization import FeatureStandardization
from emozoo.models import register_model
from emozoo.train.strategies import global_sum, num_replicas, step_logs


@keras.saving.register_keras_serializable(package="emozoo")
class BaselineClassifier(keras.Model):
    """Utterance features -> G (fully connected) -> z -> E (one hidden layer) -> emotion logits.

    Implements the baseline "BSL" of Liang et al. 2019 (cross-culture adversarial learning,
    sec. 4.2): G has two hidden layers of 512 and 256 units, E one hidden layer of 500 units,
    dropout after every fully connected layer, Adam with learning rate 1e-4, trained on the
    emotion cross-entropy only (eq. 2, ``L_emo``). It is *not* Lian et al. 2019's "CI": CI is
    their conversational model (context-aware, with the speaker-domain branch at ``lambda = 0``,
    :mod:`emozoo.models.dann`), while this MLP reads one utterance's features. It plays the
    role of Liang et al.'s semi-supervised GAN paper's "FSBase" on functional features. Leaves out: the culture
    classifier C and the adversarial term (that is ``emozoo.models.adv_culture``), and the
    paper's culture-specific z-normalisation (we fit one z-normalisation on the training fold,
    see :class:`emozoo.layers.FeatureStandardization`).

    Training uses a custom ``train_step`` that is correct under ``tf.distribute`` strategies:
    the per-example loss is summed on each replica and divided by the *global* number of
    examples in the step (all-reduced), and the optimizer sums gradients over replicas, so the
    update equals the single-device one. Metrics are a summed confusion matrix (UAR and
    macro-F1 from the global matrix) and loss means over all examples.

    Args:
        num_classes: number of emotion classes K.
        input_dim: feature dimension (1582 for IS10).
        generator_units: hidden units of G, in order (paper: ``(512, 256)``).
        classifier_units: hidden units of E (paper: ``(500,)``).
        dropout: dropout rate after each hidden layer (paper: "dropout", rate not given).
        activation: hidden activation.
        l2: L2 weight penalty on the dense kernels (0 = none, as in the paper).

    Example::

        import numpy as np
        model = BaselineClassifier(num_classes=4, input_dim=10, generator_units=(8,), classifier_units=(8,))
        model.compile(optimizer="adam")
        model.fit(np.random.rand(16, 10).astype("float32"), np.random.randint(0, 4, 16), epochs=1, verbose=0)
    """

    def __init__(self, num_classes: int, input_dim: int, generator_units=(512, 256), classifier_units=(500,),
                 dropout: float = 0.5, activation: str = "relu", l2: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = int(num_classes)
        self.input_dim = int(input_dim)
        self.generator_units = tuple(int(u) for u in generator_units)
        self.classifier_units = tuple(int(u) for u in classifier_units)
        self.dropout = float(dropout)
        self.activation = activation
        self.l2 = float(l2)
        reg = keras.regularizers.L2(self.l2) if self.l2 else None
        self.standardization = FeatureStandardization(name="standardization")

        def mlp(units, name):
            layers = []
            for i, u in enumerate(units):
                layers.append(keras.layers.Dense(u, activation=activation, kernel_regularizer=reg,
                                                 name=f"{name}_dense_{i}"))
                layers.append(keras.layers.Dropout(self.dropout, name=f"{name}_dropout_{i}"))
            return layers

        # no generator units: z = the normalised features (a linear / logistic-regression model
        # when ``classifier_units`` is empty too)
        self.feature_generator = keras.Sequential(mlp(self.generator_units, "feature_generator")
                                                  or [keras.layers.Identity(name="feature_generator_identity")],
                                                  name="feature_generator")
        self.emotion_classifier = keras.Sequential(
            mlp(self.classifier_units, "emotion_classifier")
            + [keras.layers.Dense(self.num_classes, kernel_regularizer=reg, name="emotion_logits")],
            name="emotion_classifier")
        self.confusion = ConfusionMatrixMetric(self.num_classes, name="confusion")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.emotion_loss_tracker = keras.metrics.Mean(name="emotion_loss")
        self.regularization_loss_tracker = keras.metrics.Mean(name="regularization_loss")
        self.build((None, self.input_dim))

    def build(self, input_shape):
        self.standardization.build(input_shape)
        self.feature_generator.build(input_shape)
        z_dim = self.generator_units[-1] if self.generator_units else self.input_dim
        self.emotion_classifier.build((None, z_dim))
        self.built = True

    # -- forward -------------------------------------------------------------------------
    def embed(self, x, training=False):
        """The representation z = G(x) (what the projector shows)."""
        return self.feature_generator(self.standardization(x), training=training)

    def call(self, x, training=False):
        return self.emotion_classifier(self.embed(x, training=training), training=training)

    def fit_normalization(self, x) -> None:
        """Fit the z-normalisation on training-fold features (numpy ``[N, input_dim]``)."""
        self.standardization.fit(x)

    # -- training ------------------------------------------------------------------------
    @property
    def metrics(self):
        # The epoch logs Keras reports are read from these metrics in cross-replica context (the
        # summed confusion matrix) only if their keys equal the keys train_step returns.
        trackers = [self.loss_tracker, self.emotion_loss_tracker]
        if self.l2:
            trackers.append(self.regularization_loss_tracker)
        return trackers + [self.confusion]

    @staticmethod
    def _unpack(data):
        x, y, sw = keras.utils.unpack_x_y_sample_weight(data)
        w = tf.ones_like(tf.cast(y, tf.float32)) if sw is None else tf.cast(sw, tf.float32)
        return x, tf.reshape(tf.cast(y, tf.int64), (-1,)), tf.reshape(w, (-1,))

    def _forward_losses(self, x, y, w, training):
        logits = self(x, training=training)
        per_example = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
        # Divide by the global number of examples of this step (all replicas), not the local one:
        # gradients are summed over replicas, so this gives the single-device mean.
        global_n = global_sum(tf.cast(tf.shape(y)[0], tf.float32))
        emotion_loss = tf.reduce_sum(per_example * w) / tf.maximum(global_n, 1.0)   # L_emo (eq. 2)
        reg = tf.add_n([tf.cast(v, tf.float32) for v in self.losses]) if self.losses else tf.constant(0.0)
        reg = reg / num_replicas()   # added once per replica, summed by the optimizer
        return logits, per_example, emotion_loss, reg, global_n

    def train_step(self, data):
        x, y, w = self._unpack(data)
        with tf.GradientTape() as tape:
            logits, per_example, emotion_loss, reg, _ = self._forward_losses(x, y, w, True)
            loss = emotion_loss + reg
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        return self._update_metrics(y, w, logits, per_example, reg)

    def test_step(self, data):
        x, y, w = self._unpack(data)
        logits, per_example, _, reg, _ = self._forward_losses(x, y, w, False)
        return self._update_metrics(y, w, logits, per_example, reg)

    def _update_metrics(self, y, w, logits, per_example, reg):
        n_replicas = num_replicas()
        # Means over all examples of all replicas: the trackers' totals and counts are summed.
        self.emotion_loss_tracker.update_state(per_example, sample_weight=w)
        self.regularization_loss_tracker.update_state(reg * n_replicas)
        self.loss_tracker.update_state(per_example + reg * n_replicas, sample_weight=w)
        self.confusion.update_state(y, logits, sample_weight=w)
        out = {"loss": self.loss_tracker.result(), "emotion_loss": self.emotion_loss_tracker.result()}
        if self.l2:
            out["regularization_loss"] = self.regularization_loss_tracker.result()
        out.update(self.confusion.result())
        return step_logs(out)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "input_dim": self.input_dim,
                "generator_units": list(self.generator_units), "classifier_units": list(self.classifier_units),
                "dropout": self.dropout, "activation": self.activation, "l2": self.l2}


@register_model("baseline")
def build_baseline(num_classes: int, input_dim: int, **params) -> BaselineClassifier:
    return BaselineClassifier(num_classes=num_classes, input_dim=input_dim, **params)
