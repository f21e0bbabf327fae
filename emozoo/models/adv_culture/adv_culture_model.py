"""AdversarialCultureModel: G -> z -> E (emotion) and C (culture), trained adversarially (Algorithm 1)."""
from __future__ import annotations

from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from emozoo.errors import ExperimentError, ExportError, SchemaError
from emozoo.evaluation.keras_metrics import ConfusionMatrixMetric
from emozoo.layers.gradient_reversal import GaninSchedule
from emozoo.models import register_model
from emozoo.models.adv_culture.culture_standardization import CultureStandardization
from emozoo.train.strategies import global_sum, step_logs

MODES = ("adv", "bsl")
GENERATOR_OBJECTIVES = ("paper", "confusion")
ALPHA_SCHEDULES = ("ganin",)


def _mlp(units, dropout, activation, name):
    layers = []
    for i, u in enumerate(units):
        layers.append(keras.layers.Dense(u, activation=activation, name=f"{name}_dense_{i}"))
        layers.append(keras.layers.Dropout(dropout, name=f"{name}_dropout_{i}"))
    return layers


@keras.saving.register_keras_serializable(package="emozoo")
class AdversarialCultureModel(keras.Model):
    """Cross-culture emotion recognition with adversarial learning (Liang et al., ICASSP 2019).

    Implements the paper's network (Fig. 1, sec. 3.2 and 4.2): a feature generator
    ``G`` (fully connected, 512 then 256 units) maps the (early-fused) utterance features ``x``
    to ``z``; an emotion classifier ``E`` (one hidden layer of 500 units, eq. 1) and a culture
    classifier ``C`` (one hidden layer of 500 units) read ``z``; dropout follows every fully
    connected hidden layer. ``C`` has one sigmoid output for two cultures (eq. 3) and a softmax
    over cultures for more than two (our generalisation of eq. 3/4).

    Losses, per batch (each a sum over the replica's examples divided by the *global* count of
    the step, so gradients summed over replicas equal the single-device ones):

    * ``L_emo`` (eq. 2): emotion cross-entropy over labelled examples only (``y >= 0`` and, when
      ``labelled_cultures`` is set, culture in that set), divided by the global labelled count;
    * ``L_cul`` (eq. 4): culture cross-entropy over every example (the culture label is
      self-supervised), averaged *per culture* and summed over the cultures:
      ``L_cul = -E_{x in culture 1} log t - E_{x in culture 0} log(1 - t)``, one mean per culture
      (each over the global count of that culture in the step); for K > 2 cultures the natural
      generalisation ``sum_k E_{x in culture k}[-log softmax(C(z))_k]``. A culture absent from the
      batch contributes 0. (A single pooled mean would be 1/K of eq. 4 for balanced cultures.)
      A training batch of ``mode="adv"`` must carry the ``culture`` input;
    * ``L_gen = L_emo - alpha * L_cul`` (eq. 5).

    ``train_step`` runs one round of Algorithm 1 on the batch: ``culture_steps`` (S_C) Adam
    updates of ``theta_C`` on ``L_cul`` (G fixed), then ``generator_steps`` (S_G) iterations each
    doing one Adam update of ``theta_E`` on ``L_emo`` and one of ``theta_G`` on ``L_gen`` with C
    fixed; three optimisers. Every iteration reuses the same batch (see docs/methods/adv_culture.md
    for why). ``mode="bsl"`` is the paper's baseline: the same G and E trained on ``L_emo`` only
    (``alpha = 0``), C never built; it keeps ``generator_steps`` E/G updates per batch, so with
    the same batches BSL and ADV differ only by C and the adversarial term (``generator_steps=1``
    gives the plain one-update-per-batch baseline).

    Inputs are z-normalised per culture (sec. 3.1) by :class:`CultureStandardization`, whose
    statistics :meth:`fit_normalization` fits on training data. Test-time prediction
    (``call``/``test_step``/``predict``) computes ``E(G(x))`` and never reads C.

    Inputs (``call``, ``embed``, and the ``x`` part of a training batch) are one of: a float
    tensor ``[B, input_dim]`` (culture unknown: pooled normalisation statistics); a list of
    per-modality tensors (early fusion: concatenated in order); or a dict with the modality
    tensors under ``feature_names`` (or ``"features"``) and an int ``"culture"`` ``[B]``.
    A training batch is ``(inputs, y)``, ``(inputs, y, sample_weight)`` or a dict
    ``{"features", "culture", "label"}``; ``y = -1`` marks an unlabelled example (target culture).

    Logged metrics (Keras TensorBoard callback records them per epoch): ``loss`` (= ``emotion_loss``,
    mean L_emo over labelled examples, comparable between BSL and ADV), ``emotion_loss``,
    ``culture_loss``, ``generator_loss`` (= emotion_loss - alpha * culture_loss),
    ``culture_accuracy`` (both culture-balanced: ``culture_loss`` is eq. 4, the sum of the
    per-culture means; ``culture_accuracy`` the mean of the per-culture accuracies), and
    ``accuracy``/``uar``/``macro_f1`` of emotion on labelled examples.

    Args:
        num_classes: number of emotion classes K.
        input_dim: feature dimension after early fusion (1582 for IS10; the sum of ``input_dims``).
        num_cultures: number of cultures (>= 2 for ``mode="adv"``).
        mode: ``"adv"`` (Algorithm 1) or ``"bsl"`` (G+E on L_emo only).
        generator_units: hidden units of G (paper: ``(512, 256)``).
        emotion_units: hidden units of E (paper: ``(500,)``).
        culture_units: hidden units of C (paper: ``(500,)``).
        dropout: dropout rate after every hidden layer (the paper does not give the rate).
        alpha: weight of ``L_cul`` in ``L_gen`` (eq. 5; paper: 1). The value the traced
            ``train_step`` reads lives in a non-trainable ``tf.Variable`` (``alpha_variable``), so
            :meth:`set_alpha` (e.g. :class:`CultureAlphaSchedule`) changes it between steps without
            re-tracing; ``get_config()`` keeps the configured value.
        culture_steps: S_C (paper: 1).
        generator_steps: S_G (paper: 2): E/G updates per batch (also in BSL mode).
        learning_rate: Adam learning rate of the optimisers ``compile()`` creates (paper: 1e-4).
        generator_objective: ``"paper"``: ``L_gen = L_emo - alpha * L_cul`` (eq. 5); ``"confusion"``
            (not in the paper, an ablation): ``L_gen = L_emo + alpha * L_conf`` with ``L_conf`` the
            cross-entropy between the uniform culture distribution and C's prediction (the domain
            confusion loss of Tzeng et al., the paper's ref. [12]): G is rewarded for making C
            *uncertain*, not confidently wrong (eq. 5 is unbounded: a G that flips the cultures
            maximises it while z still carries culture).
        alpha_schedule: ``None`` (alpha fixed) or ``"ganin"`` (not in the paper): alpha ramped from 0
            to ``alpha`` over the run with Ganin et al. 2016's schedule (:class:`CultureAlphaSchedule`),
            applied by the callback :meth:`training_callbacks` gives the trainer.
        labelled_cultures: culture indices whose emotion labels may be used (``None`` = all);
            labels of other cultures are masked out of L_emo even when present (a second guard,
            beside ``y = -1``, that the target culture's labels never train E or G).
        feature_names: names of the fused modalities in dict inputs (``("is10", "dface")``).
        input_dims: dimension of each modality (must sum to ``input_dim``); ``None`` = one modality.
        culture_names: names of the cultures (documentation, model cards).
        activation: hidden activation.

    Example::

        import numpy as np
        m = AdversarialCultureModel(num_classes=4, input_dim=10, num_cultures=2,
                                    generator_units=(8, 4), emotion_units=(8,), culture_units=(8,))
        x = np.random.rand(16, 10).astype("float32"); c = np.repeat([0, 1], 8)
        y = np.where(c == 0, np.random.randint(0, 4, 16), -1)
        m.fit_normalization(x, c)
        m.compile()
        m.fit({"features": x, "culture": c}, y, epochs=1, verbose=0)
        probs = m.predict({"features": x, "culture": c}, verbose=0)
    """

    def __init__(self, num_classes: int, input_dim: int, num_cultures: int = 2, mode: str = "adv",
                 generator_units: Sequence[int] = (512, 256), emotion_units: Sequence[int] = (500,),
                 culture_units: Sequence[int] = (500,), dropout: float = 0.5, alpha: float = 1.0,
                 culture_steps: int = 1, generator_steps: int = 2, learning_rate: float = 1e-4,
                 generator_objective: str = "paper", alpha_schedule: str | None = None,
                 labelled_cultures: Sequence[int] | None = None, feature_names: Sequence[str] = ("features",),
                 input_dims: Sequence[int] | None = None, culture_names: Sequence[str] | None = None,
                 activation: str = "relu", **kwargs):
        super().__init__(**kwargs)
        self.num_classes = int(num_classes)
        self.input_dim = int(input_dim)
        self.num_cultures = int(num_cultures)
        self.mode = str(mode).lower()
        self.generator_units = tuple(int(u) for u in generator_units)
        self.emotion_units = tuple(int(u) for u in emotion_units)
        self.culture_units = tuple(int(u) for u in culture_units)
        self.dropout = float(dropout)
        self.alpha = float(alpha)
        self.culture_steps = int(culture_steps)
        self.generator_steps = int(generator_steps)
        self.learning_rate = float(learning_rate)
        self.generator_objective = str(generator_objective).lower()
        self.alpha_schedule = None if alpha_schedule in (None, "", "none") else str(alpha_schedule).lower()
        self.labelled_cultures = None if labelled_cultures is None else tuple(int(c) for c in labelled_cultures)
        self.feature_names = tuple(str(n) for n in feature_names)
        self.input_dims = None if input_dims is None else tuple(int(d) for d in input_dims)
        self.culture_names = None if culture_names is None else tuple(str(n) for n in culture_names)
        self.activation = activation
        self._validate()
        # the alpha of eq. 5 as train_step reads it: a variable, so set_alpha() needs no re-tracing
        # (a plain tf.Variable, not a Keras weight: saved weights and get_config() are unchanged)
        self.alpha_variable = tf.Variable(self.alpha, trainable=False, dtype=tf.float32, name="alpha")

        self.standardization = CultureStandardization(self.num_cultures, name="culture_standardization")
        self.feature_generator = keras.Sequential(
            _mlp(self.generator_units, self.dropout, activation, "feature_generator"), name="feature_generator")
        self.emotion_classifier = keras.Sequential(
            _mlp(self.emotion_units, self.dropout, activation, "emotion_classifier")
            + [keras.layers.Dense(self.num_classes, name="emotion_logits")], name="emotion_classifier")
        self.adversarial = self.mode == "adv"
        if self.adversarial:
            out = 1 if self.num_cultures == 2 else self.num_cultures
            self.culture_classifier = keras.Sequential(
                _mlp(self.culture_units, self.dropout, activation, "culture_classifier")
                + [keras.layers.Dense(out, name="culture_logits")], name="culture_classifier")
        else:
            self.culture_classifier = None

        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.emotion_loss_tracker = keras.metrics.Mean(name="emotion_loss")
        self.culture_loss_tracker = keras.metrics.Mean(name="culture_loss")
        self.culture_accuracy_tracker = keras.metrics.Mean(name="culture_accuracy")
        self.confusion_loss_tracker = keras.metrics.Mean(name="confusion_loss")
        self.confusion = ConfusionMatrixMetric(self.num_classes, name="confusion")
        self.emotion_optimizer = None
        self.culture_optimizer = None
        self.build((None, self.input_dim))

    def _validate(self):
        if self.alpha_schedule is not None and self.alpha_schedule not in ALPHA_SCHEDULES:
            raise ExperimentError(f"alpha_schedule must be one of {ALPHA_SCHEDULES} or None, got {self.alpha_schedule!r}")
        if self.generator_objective not in GENERATOR_OBJECTIVES:
            raise ExperimentError(f"generator_objective must be one of {GENERATOR_OBJECTIVES}, "
                                  f"got {self.generator_objective!r}")
        if self.mode not in MODES:
            raise ExperimentError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.num_classes < 2 or self.input_dim < 1:
            raise ExperimentError(f"need num_classes >= 2 and input_dim >= 1, got {self.num_classes}, {self.input_dim}")
        if self.mode == "adv" and self.num_cultures < 2:
            raise ExperimentError(f"mode='adv' needs >= 2 cultures for the culture classifier, got {self.num_cultures}; "
                                  "use mode='bsl' for a single culture")
        if self.culture_steps < 1 or self.generator_steps < 1:
            raise ExperimentError(f"culture_steps (S_C) and generator_steps (S_G) must be >= 1, "
                                  f"got {self.culture_steps}, {self.generator_steps}")
        if not self.generator_units:
            raise ExperimentError("generator_units must name at least one layer of G")
        if self.alpha < 0 or not 0 <= self.dropout < 1:
            raise ExperimentError(f"need alpha >= 0 and 0 <= dropout < 1, got {self.alpha}, {self.dropout}")
        if self.input_dims is not None:
            if len(self.input_dims) != len(self.feature_names) or sum(self.input_dims) != self.input_dim:
                raise ExperimentError(f"input_dims {self.input_dims} must give one dimension per feature name "
                                      f"{self.feature_names} and sum to input_dim {self.input_dim}")
        if self.labelled_cultures is not None and any(not 0 <= c < self.num_cultures for c in self.labelled_cultures):
            raise ExperimentError(f"labelled_cultures {self.labelled_cultures} out of [0, {self.num_cultures})")

    def set_alpha(self, value: float) -> None:
        """Set the alpha of eq. 5 that the next training steps use (no re-tracing); the configured
        ``alpha`` (``get_config``) is unchanged."""
        value = float(value)
        if not value >= 0:
            raise ExperimentError(f"alpha must be >= 0, got {value}")
        self.alpha_variable.assign(value)

    @property
    def current_alpha(self) -> float:
        """The alpha the training step reads now (``alpha_variable``)."""
        return float(self.alpha_variable.numpy())

    def build(self, input_shape):
        self.standardization.build(input_shape)
        self.feature_generator.build(input_shape)
        z_shape = (None, self.generator_units[-1])
        self.emotion_classifier.build(z_shape)
        if self.culture_classifier is not None:
            self.culture_classifier.build(z_shape)
        self.built = True

    # -- inputs --------------------------------------------------------------------------
    def _features_and_culture(self, inputs):
        """``(x [B, input_dim] float32, culture [B] int32 or None)`` from any accepted input form."""
        culture = None
        if isinstance(inputs, dict):
            culture = inputs.get("culture")
            if all(n in inputs for n in self.feature_names):
                parts = [inputs[n] for n in self.feature_names]
            elif "features" in inputs:
                parts = [inputs["features"]]
            else:
                raise SchemaError(f"input dict has keys {sorted(inputs)}; expected the modalities "
                                  f"{list(self.feature_names)} (or 'features') and optionally 'culture'")
        elif isinstance(inputs, (list, tuple)):
            parts = list(inputs)
        else:
            parts = [inputs]
        parts = [tf.cast(p, tf.float32) for p in parts]
        x = parts[0] if len(parts) == 1 else tf.concat(parts, axis=-1)   # early fusion (sec. 4.3)
        if x.shape[-1] is not None and int(x.shape[-1]) != self.input_dim:
            raise SchemaError(f"features have dimension {x.shape[-1]}, the model was built for {self.input_dim}"
                              + (f" ({' + '.join(map(str, self.input_dims))})" if self.input_dims else ""))
        if culture is not None:
            culture = tf.reshape(tf.cast(culture, tf.int32), (-1,))
        return x, culture

    def _unpack(self, data):
        if isinstance(data, dict) and "label" in data:
            inputs, y, sw = {k: v for k, v in data.items() if k != "label"}, data["label"], None
        else:
            inputs, y, sw = keras.utils.unpack_x_y_sample_weight(data)
        x, culture = self._features_and_culture(inputs)
        if y is None:
            raise SchemaError("a training batch needs emotion labels y (-1 for unlabelled examples)")
        y = tf.reshape(tf.cast(y, tf.int32), (-1,))
        w = tf.ones_like(y, tf.float32) if sw is None else tf.reshape(tf.cast(sw, tf.float32), (-1,))
        return x, culture, y, w

    def _labelled_mask(self, y, culture):
        mask = y >= 0
        if self.labelled_cultures is not None:
            c = culture if culture is not None else tf.zeros_like(y)
            allowed = tf.reduce_any(tf.equal(c[:, None], tf.constant(self.labelled_cultures, tf.int32)[None, :]),
                                    axis=1)
            mask = mask & allowed
        return tf.cast(mask, tf.float32)

    # -- forward -------------------------------------------------------------------------
    def normalise(self, inputs):
        x, culture = self._features_and_culture(inputs)
        return self.standardization(x, culture)

    def embed(self, inputs, training=False):
        """The representation ``z = G(x)`` (Fig. 2, the TensorBoard projector)."""
        return self.feature_generator(self.normalise(inputs), training=training)

    def call(self, inputs, training=False):
        """Emotion logits ``E(G(x))`` (eq. 1 before the softmax); C is not used."""
        return self.emotion_classifier(self.embed(inputs, training=training), training=training)

    def culture_logits(self, inputs, training=False):
        """C's logits on ``z`` (diagnostics only: never part of prediction)."""
        if self.culture_classifier is None:
            raise ExperimentError("mode='bsl' has no culture classifier")
        return self.culture_classifier(self.embed(inputs, training=training), training=training)

    def fit_normalization(self, x, culture=None) -> None:
        """Fit the culture-specific z-normalisation on training features (numpy ``[N, input_dim]``
        and culture indices ``[N]``; without ``culture`` one pooled normalisation)."""
        self.standardization.fit(np.asarray(x, np.float32), culture)

    # -- losses --------------------------------------------------------------------------
    def _per_example_culture_loss(self, culture, logits):
        if self.num_cultures == 2:   # eq. 4: -log t_hat for culture 1, -log(1 - t_hat) for culture 0
            t = tf.cast(culture, tf.float32)[:, None]
            loss = tf.nn.sigmoid_cross_entropy_with_logits(labels=t, logits=logits)[:, 0]
            correct = tf.cast(tf.equal(tf.cast(logits[:, 0] > 0, tf.int32), culture), tf.float32)
        else:                        # softmax generalisation to > 2 cultures
            loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=culture, logits=logits)
            correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), culture), tf.float32)
        return loss, correct

    def _per_example_confusion_loss(self, logits):
        """Cross-entropy between the uniform culture distribution and C's prediction."""
        if self.num_cultures == 2:
            l = logits[:, 0]
            return 0.5 * (tf.nn.softplus(-l) + tf.nn.softplus(l))
        return -tf.reduce_mean(tf.nn.log_softmax(logits, axis=-1), axis=-1)

    def _emotion_terms(self, y, mask, logits):
        y_safe = tf.where(mask > 0, y, tf.zeros_like(y))
        per = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y_safe, logits=logits)
        return per * mask   # unlabelled examples contribute exactly 0 (eq. 2 over labelled data only)

    # -- training ------------------------------------------------------------------------
    def compile(self, optimizer=None, *, emotion_optimizer=None, culture_optimizer=None, **kwargs):
        """Create the three Adam optimisers of Algorithm 1 (G's is ``self.optimizer``).

        ``optimizer`` (default ``Adam(learning_rate)``) updates G; E and C get their own
        optimisers, by default fresh copies of ``optimizer``'s configuration. Call inside the
        strategy scope, as for any Keras model.
        """
        optimizer = keras.optimizers.Adam(self.learning_rate) if optimizer is None else keras.optimizers.get(optimizer)

        def clone(name):
            return optimizer.__class__.from_config({**optimizer.get_config(), "name": name})

        super().compile(optimizer=optimizer, **kwargs)
        self.emotion_optimizer = keras.optimizers.get(emotion_optimizer) if emotion_optimizer else clone("emotion_adam")
        self.optimizer.build(self.feature_generator.trainable_variables)
        self.emotion_optimizer.build(self.emotion_classifier.trainable_variables)
        if self.adversarial:
            self.culture_optimizer = (keras.optimizers.get(culture_optimizer) if culture_optimizer
                                      else clone("culture_adam"))
            self.culture_optimizer.build(self.culture_classifier.trainable_variables)

    def compile_from_config(self, config):
        """Re-create the three optimisers when a ``.keras`` file is loaded."""
        opt = (config or {}).get("optimizer")
        self.compile(optimizer=keras.optimizers.deserialize(opt) if opt else None)

    @property
    def generator_optimizer(self):
        return self.optimizer

    @property
    def metrics(self):
        return [self.loss_tracker, self.emotion_loss_tracker, self.culture_loss_tracker,
                self.culture_accuracy_tracker, self.confusion_loss_tracker, self.confusion]

    def _prepare(self, data):
        """Normalised features, culture labels, labelled mask and the step's global counts."""
        x, culture, y, w = self._unpack(data)
        xn = self.standardization(x, culture)
        if culture is None and self.adversarial:
            raise SchemaError("mode='adv' needs the culture of every training example: give the batch inputs as a "
                              "dict with 'culture' [B] int (the culture loss of eq. 4 is undefined without it)")
        mask = self._labelled_mask(y, culture)
        c_lab = culture if culture is not None else tf.zeros_like(y)
        onehot = tf.one_hot(c_lab, self.num_cultures)                          # [B, K]
        counts = global_sum(tf.concat([tf.reduce_sum(mask)[None], tf.reduce_sum(onehot, 0)], 0))
        n_lab = tf.maximum(counts[0], 1.0)
        # eq. 4: one mean per culture, summed -> example i weighs 1 / (global count of its culture)
        cul_w = tf.reduce_sum(onehot / tf.maximum(counts[1:], 1.0)[None, :], axis=1)
        return xn, c_lab, y, w, mask, n_lab, cul_w

    def culture_update(self, xn, c_lab, cul_w):
        """One Adam update of theta_C on L_cul with G fixed (inner loop 1 of Algorithm 1)."""
        c_vars = self.culture_classifier.trainable_variables
        z = tf.stop_gradient(self.feature_generator(xn, training=True))           # G fixed
        with tf.GradientTape() as tape:
            per_cul, _ = self._per_example_culture_loss(c_lab, self.culture_classifier(z, training=True))
            culture_loss = tf.reduce_sum(per_cul * cul_w)                        # L_cul (eq. 4)
        grads = tape.gradient(culture_loss, c_vars)
        self.culture_optimizer.apply_gradients(zip(grads, c_vars))              # Adam update theta_C
        return culture_loss

    def generator_update(self, xn, c_lab, y, w, mask, n_lab, cul_w):
        """One Adam update of theta_E on L_emo and of theta_G on L_gen, C fixed (inner loop 2)."""
        g_vars = self.feature_generator.trainable_variables
        e_vars = self.emotion_classifier.trainable_variables
        per_cul = correct = per_conf = None
        with tf.GradientTape() as tape:
            z = self.feature_generator(xn, training=True)
            logits = self.emotion_classifier(z, training=True)
            per_emo = self._emotion_terms(y, mask, logits)
            emotion_loss = tf.reduce_sum(per_emo * w) / n_lab                    # L_emo (eq. 2)
            if self.adversarial:
                c_logits = self.culture_classifier(z, training=True)             # C fixed: not updated here
                per_cul, correct = self._per_example_culture_loss(c_lab, c_logits)
                culture_loss = tf.reduce_sum(per_cul * cul_w)                    # L_cul (eq. 4)
                if self.generator_objective == "paper":
                    generator_loss = emotion_loss - self.alpha_variable * culture_loss   # L_gen = L_emo - alpha L_cul (eq. 5)
                else:                                                            # ablation: domain confusion
                    per_conf = self._per_example_confusion_loss(c_logits)
                    generator_loss = emotion_loss + self.alpha_variable * tf.reduce_sum(per_conf * cul_w)
            else:
                generator_loss = emotion_loss
        # L_cul does not depend on theta_E, so d L_gen / d theta_E = d L_emo / d theta_E: one
        # backward pass gives both the G gradient (of L_gen) and the E gradient (of L_emo).
        grads = tape.gradient(generator_loss, g_vars + e_vars)
        self.emotion_optimizer.apply_gradients(zip(grads[len(g_vars):], e_vars))   # Adam update theta_E, L_emo
        self.optimizer.apply_gradients(zip(grads[:len(g_vars)], g_vars))          # Adam update theta_G, L_gen
        return logits, per_emo, per_cul, correct, per_conf

    def train_step(self, data):
        """One round of Algorithm 1 on this batch: S_C updates of C, then S_G updates of E and G."""
        if self.emotion_optimizer is None:
            raise ExperimentError("call compile() before training (it creates the three optimisers)")
        xn, c_lab, y, w, mask, n_lab, cul_w = self._prepare(data)
        if self.adversarial:
            for _ in range(self.culture_steps):                    # for iter in S_C (unrolled in the graph)
                self.culture_update(xn, c_lab, cul_w)
        for _ in range(self.generator_steps):                      # for iter in S_G
            logits, per_emo, per_cul, correct, per_conf = self.generator_update(xn, c_lab, y, w, mask, n_lab, cul_w)
        # metrics of the last G/E iteration (per-example values, summed over replicas by the trackers)
        self.emotion_loss_tracker.update_state(per_emo, sample_weight=mask * w)   # mean over labelled examples
        self.loss_tracker.update_state(per_emo, sample_weight=mask * w)
        self._update_confusion(y, logits, mask * w)
        if self.adversarial:   # per-culture-balanced means; _results multiplies by K (eq. 4 is a sum over cultures)
            self.culture_loss_tracker.update_state(per_cul, sample_weight=cul_w)
            self.culture_accuracy_tracker.update_state(correct, sample_weight=cul_w)
            if per_conf is not None:
                self.confusion_loss_tracker.update_state(per_conf, sample_weight=cul_w)
        return step_logs(self._results())

    def test_step(self, data):
        x, culture, y, w = self._unpack(data)
        z = self.feature_generator(self.standardization(x, culture), training=False)
        logits = self.emotion_classifier(z, training=False)
        mask = self._labelled_mask(y, culture)
        per_emo = self._emotion_terms(y, mask, logits)
        self.emotion_loss_tracker.update_state(per_emo, sample_weight=mask * w)
        self.loss_tracker.update_state(per_emo, sample_weight=mask * w)
        self._update_confusion(y, logits, mask * w)
        if self.adversarial and culture is not None:   # diagnostics of C on held-out data
            per_cul, correct = self._per_example_culture_loss(culture, self.culture_classifier(z, training=False))
            onehot = tf.one_hot(culture, self.num_cultures)
            # per-culture means over the step's *global* counts (not each replica's own), as in training
            cw = tf.reduce_sum(onehot / tf.maximum(global_sum(tf.reduce_sum(onehot, 0)), 1.0)[None, :], axis=1)
            self.culture_loss_tracker.update_state(per_cul, sample_weight=cw)
            self.culture_accuracy_tracker.update_state(correct, sample_weight=cw)
        return step_logs(self._results())

    def _update_confusion(self, y, logits, weight):
        """Add this batch to the confusion matrix (rows true, columns predicted; weight 0 for
        unlabelled examples). Same counts as ``ConfusionMatrixMetric.update_state`` but with a
        one-hot product instead of ``bincount``, which XLA (``jit_compile=True``) cannot compile."""
        k = self.num_classes
        true = tf.one_hot(tf.where(weight > 0, y, 0), k) * weight[:, None]
        pred = tf.one_hot(tf.argmax(logits, -1), k)
        self.confusion.matrix.assign_add(tf.matmul(true, pred, transpose_a=True))

    def get_metrics_result(self):
        """Epoch logs from the metric states summed over the replicas (Keras's epoch-end read).

        Keras takes the epoch logs from the metrics only when their keys equal the step's logs;
        ``_results`` adds derived keys (``generator_loss``, the culture loss times K), so without
        this the epoch logs were the last step's *per-replica* results averaged over the replicas
        (a weighted mean over one replica's rows each), not the epoch's values, under a strategy."""
        return {k: float(keras.ops.convert_to_numpy(v)) for k, v in self._results().items()}

    def _results(self):
        out = {"loss": self.loss_tracker.result(), "emotion_loss": self.emotion_loss_tracker.result()}
        if self.adversarial:
            cl = self.culture_loss_tracker.result() * float(self.num_cultures)   # sum of the per-culture means
            out.update({"culture_loss": cl, "culture_accuracy": self.culture_accuracy_tracker.result()})
            if self.generator_objective == "paper":
                out["generator_loss"] = out["emotion_loss"] - self.alpha_variable * cl
            else:
                out["confusion_loss"] = self.confusion_loss_tracker.result() * float(self.num_cultures)
                out["generator_loss"] = out["emotion_loss"] + self.alpha_variable * out["confusion_loss"]
        out.update(self.confusion.result())
        return out

    # -- hooks for the training driver (python -m emozoo.train; docs/methods/adv_culture.md) --
    def training_callbacks(self, steps_per_epoch: int, epochs: int) -> list:
        """Callbacks :func:`emozoo.train.trainer.train_fold` adds to ``fit``: with ``alpha_schedule="ganin"``
        a :class:`CultureAlphaSchedule` over ``epochs * steps_per_epoch`` steps, ending at ``alpha``.

        Called after a backup is restored: the schedule starts at the step the restored G optimiser
        has reached (``iterations // generator_steps``), so a resumed run gets the alphas of the
        uninterrupted one. ``[]`` without a schedule.
        """
        if self.alpha_schedule is None:
            return []
        sched = CultureAlphaSchedule(total_steps=int(epochs) * int(steps_per_epoch), max_alpha=self.alpha)
        if self.optimizer is not None and self.optimizer.built:
            sched.step = int(keras.ops.convert_to_numpy(self.optimizer.iterations)) // self.generator_steps
        return [sched]

    def culture_index(self, corpora) -> np.ndarray:
        """Culture labels of examples from their corpus names, by position in ``culture_names``."""
        if self.culture_names is None:
            raise ExperimentError("the model has no culture_names: set model.params.culture_names to the corpora "
                                  "in culture-index order (source first)")
        pos = {n: i for i, n in enumerate(self.culture_names)}
        corpora = np.asarray(corpora).astype(str)
        unknown = sorted(set(corpora) - set(pos))
        if unknown:
            raise SchemaError(f"examples of corpora {unknown} but the model's cultures are {list(self.culture_names)}")
        return np.asarray([pos[c] for c in corpora], np.int32)

    def fold_arrays(self, fold, part: str = "train", *, balance: bool = True, seed: int = 0):
        """``(inputs, y)`` numpy arrays of a trainer fold (:class:`emozoo.train.data.Fold`).

        ``part="train"``: the labelled training examples plus the fold's unlabelled examples
        (``fold.unlabelled``, the target culture; ``y = -1``), each culture upsampled to the
        largest with ``balance``; other parts: that table with its labels.
        """
        tables = [getattr(fold, part, None)]
        if part == "train" and getattr(fold, "unlabelled", None) is not None:
            tables.append(fold.unlabelled)
        tables = [t for t in tables if t is not None and len(t)]
        if not tables:
            raise SchemaError(f"fold {getattr(fold, 'name', '?')} has no {part} examples")
        x = np.concatenate([t.x for t in tables]).astype(np.float32)
        y = np.concatenate([t.y if i == 0 else np.full(len(t), -1) for i, t in enumerate(tables)]).astype(np.int32)
        c = np.concatenate([self.culture_index(t.meta["corpus"]) for t in tables])
        if part == "train" and balance and len(np.unique(c)) > 1:
            rng = np.random.default_rng(seed)
            top = max(int((c == k).sum()) for k in np.unique(c))
            idx = []
            for k in np.unique(c):
                members = np.flatnonzero(c == k)
                reps, extra = divmod(top, len(members))
                idx.append(np.concatenate([np.tile(members, reps), rng.choice(members, extra, replace=False)]))
            idx = np.concatenate(idx)
            x, y, c = x[idx], y[idx], c[idx]
        return {"features": x, "culture": c}, y

    def prepare_fold(self, fold) -> None:
        """Fit the culture-specific normalisation on the fold's training side (labelled training
        examples and unlabelled target examples), each culture on its own examples."""
        inputs, _ = self.fold_arrays(fold, "train", balance=False)
        self.fit_normalization(inputs["features"], inputs["culture"])

    # -- export --------------------------------------------------------------------------
    def export_inference(self, path, *, classes: Sequence[str] | None = None) -> str:
        """Write a SavedModel of the inference path only (normalisation, G, E; C is not in it).

        Signatures: ``serve_features(features [N, input_dim])`` (pooled normalisation, culture
        unknown) and ``serve_features_culture(features, culture [N] int32)``, each returning
        ``logits``, ``probabilities`` and ``embedding``.
        """
        import os
        if os.path.exists(path):
            raise ExportError(f"{path} already exists; export into a fresh folder")
        std, gen, emo = self.standardization, self.feature_generator, self.emotion_classifier
        feat = tf.TensorSpec((None, self.input_dim), tf.float32, name="features")
        cult = tf.TensorSpec((None,), tf.int32, name="culture")

        def heads(features, culture):
            z = gen(std(features, culture), training=False)
            logits = emo(z, training=False)
            return {"logits": logits, "probabilities": tf.nn.softmax(logits, -1), "embedding": z}

        archive = keras.export.ExportArchive()
        for layer in (std, gen, emo):
            archive.track(layer)
        archive.add_endpoint("serve_features", lambda features: heads(features, None), input_signature=[feat])
        archive.add_endpoint("serve_features_culture", heads, input_signature=[feat, cult])
        archive.write_out(str(path), verbose=False)
        if classes is not None:
            import json
            os.makedirs(os.path.join(path, "assets"), exist_ok=True)
            with open(os.path.join(path, "assets", "labels.json"), "w") as f:
                json.dump(list(classes), f)
        return str(path)

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "input_dim": self.input_dim,
                "num_cultures": self.num_cultures, "mode": self.mode,
                "generator_units": list(self.generator_units), "emotion_units": list(self.emotion_units),
                "culture_units": list(self.culture_units), "dropout": self.dropout, "alpha": self.alpha,
                "culture_steps": self.culture_steps, "generator_steps": self.generator_steps,
                "learning_rate": self.learning_rate, "generator_objective": self.generator_objective,
                "alpha_schedule": self.alpha_schedule,
                "labelled_cultures": None if self.labelled_cultures is None else list(self.labelled_cultures),
                "feature_names": list(self.feature_names),
                "input_dims": None if self.input_dims is None else list(self.input_dims),
                "culture_names": None if self.culture_names is None else list(self.culture_names),
                "activation": self.activation}


class CultureAlphaSchedule(GaninSchedule):
    """Ramp the alpha of eq. 5 with Ganin et al. 2016's schedule (sec. 5.2.2; not in Liang et al.),
    set before each batch with :meth:`AdversarialCultureModel.set_alpha` (:class:`GaninSchedule`:
    ``alpha_p = max_alpha * (2 / (1 + exp(-gamma p)) - 1)``, counted once per trained step)."""

    def __init__(self, total_steps: int | None = None, gamma: float = 10.0, max_alpha: float = 1.0):
        super().__init__(total_steps, gamma, max_alpha)
        self.max_alpha = self.max_value

    def _setup(self):
        if not hasattr(self.model, "set_alpha"):
            raise ExperimentError("CultureAlphaSchedule needs an AdversarialCultureModel (a model with set_alpha)")

    def _apply(self, value):
        self.model.set_alpha(value)


@register_model("adv_culture")
def build_adv_culture(num_classes: int, input_dim: int, **params) -> AdversarialCultureModel:
    return AdversarialCultureModel(num_classes=num_classes, input_dim=input_dim, **params)
