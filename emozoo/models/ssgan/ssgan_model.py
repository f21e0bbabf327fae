"""SemiSupervisedGAN: K+1-class CT-GAN semi-supervised classifier, uni- or multi-modal (Algorithm 1)."""
from __future__ import annotations

import threading
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from emozoo.errors import ExperimentError, SchemaError
from emozoo.losses.consistency import FORMS as CT_FORMS, consistency_term
from emozoo.losses.kplus1 import classifier_loss, discriminator_loss, feature_matching_loss
from emozoo.models import register_model
from emozoo.train.strategies import global_sum, step_logs

MODES = ("ssgan", "fsbase")


#: the noise draws traced so far in the running replica's step (each replica runs in its own thread)
_DRAWS = threading.local()


def _replica_context():
    """The replica context of a step running on more than one replica, else ``None`` (the default
    strategy, or a strategy with one replica: the single-device code path, unchanged)."""
    ctx = tf.distribute.get_replica_context()
    return ctx if ctx is not None and ctx.num_replicas_in_sync > 1 else None


def _global_share(mean, count):
    """This replica's share of a global mean: its local ``mean`` x its row ``count`` / the rows of
    all replicas; the shares (and their gradients, summed by the optimiser) add up to the mean
    over the global batch. 0 for a replica without rows."""
    n = tf.cast(count, tf.float32)
    return tf.math.multiply_no_nan(mean, n / tf.maximum(global_sum(n), 1.0))


VARIANTS = ("conv", "dense")

# Liang et al. 2019 sec. IV-B (paper-sized, for GPUs) and the CPU preset used for the tables here
from emozoo.models.ssgan.ssgan_sizes import CPU_CONV, DENSE, PAPER_CONV  # noqa: E402,F401


def _modality(spec: dict) -> dict:
    """A modality spec with defaults filled in and checked."""
    s = dict(spec)
    if "name" not in s or "shape" not in s:
        raise ExperimentError(f"a modality needs 'name' and 'shape', got {spec}")
    s["shape"] = tuple(int(d) for d in s["shape"])
    s.setdefault("variant", "conv" if len(s["shape"]) >= 2 else "dense")
    if s["variant"] not in VARIANTS:
        raise ExperimentError(f"modality {s['name']}: variant must be one of {VARIANTS}, got {s['variant']!r}")
    if s["variant"] == "conv":
        if len(s["shape"]) not in (2, 3):
            raise ExperimentError(f"modality {s['name']}: the conv variant takes [H, W] or [H, W, C] inputs, "
                                  f"got shape {s['shape']}")
        s.setdefault("d_channels", PAPER_CONV["d_channels"])
        s.setdefault("g_channels", PAPER_CONV["g_channels"])
        s["d_channels"] = tuple(int(c) for c in s["d_channels"])
        s["g_channels"] = tuple(int(c) for c in s["g_channels"])
        h, w = s["shape"][:2]
        n = len(s["g_channels"])
        if not s["d_channels"] or not s["g_channels"] or h % (2 ** n) or w % (2 ** n):
            raise ExperimentError(f"modality {s['name']}: input {h}x{w} must be divisible by 2^{n} "
                                  f"(G upsamples {n} times from its projection) and channels non-empty")
    else:
        if len(s["shape"]) != 1:
            raise ExperimentError(f"modality {s['name']}: the dense variant takes vectors, got shape {s['shape']}")
        s.setdefault("d_units", DENSE["d_units"])
        s.setdefault("g_units", DENSE["g_units"])
        s["d_units"] = tuple(int(c) for c in s["d_units"])
        s["g_units"] = tuple(int(c) for c in s["g_units"])
        if not s["d_units"] or not s["g_units"]:
            raise ExperimentError(f"modality {s['name']}: d_units and g_units must be non-empty")
    return s


def build_discriminator_trunk(spec: dict, dropout: float, name: str) -> keras.Sequential:
    """D without its last layer: the flattened representation ``D_(x)`` (Fig. 2).

    conv: ``Conv2D(c, 5, stride 2) -> LeakyReLU(0.2) -> Dropout(dropout)`` for every ``c`` of
    ``d_channels`` (paper 128-256-512-1024, dropout 0.2 after each convolution), flattened.
    dense: ``Dense(u) -> LeakyReLU(0.2) -> Dropout(dropout)`` for every ``u`` of ``d_units``.
    """
    layers = [keras.Input(spec["shape"])]
    if spec["variant"] == "conv":
        if len(spec["shape"]) == 2:
            layers.append(keras.layers.Reshape((*spec["shape"], 1)))
        for i, c in enumerate(spec["d_channels"]):
            layers += [keras.layers.Conv2D(c, 5, strides=2, padding="same", name=f"{name}_conv_{i}"),
                       keras.layers.LeakyReLU(0.2), keras.layers.Dropout(dropout, name=f"{name}_dropout_{i}")]
        layers.append(keras.layers.Flatten())
    else:
        for i, u in enumerate(spec["d_units"]):
            layers += [keras.layers.Dense(u, name=f"{name}_dense_{i}"), keras.layers.LeakyReLU(0.2),
                       keras.layers.Dropout(dropout, name=f"{name}_dropout_{i}")]
    return keras.Sequential(layers, name=name)


def build_generator(spec: dict, noise_dim: int, name: str, synchronized: bool = False) -> keras.Sequential:
    """G: noise ``z`` -> a sample shaped like the modality's input (DCGAN, Radford et al.).

    conv: ``Dense`` projection to ``[H/2^n, W/2^n, g_channels[0]]``, then ``n - 1`` fractionally
    strided ``Conv2DTranspose(c, 5, stride 2)`` with ``c`` in ``g_channels[1:]`` and a last one to
    the input's channels (``n = len(g_channels)``; paper 512-256-128-64), batch norm + ReLU
    between, linear output (the inputs are z-normalised features, not pixels in [-1, 1]).
    dense: ``Dense(u) -> BN -> ReLU`` for ``u`` in ``g_units``, then a linear ``Dense(dim)``.
    ``synchronized``: batch norm over the global batch of a multi-replica step (the statistics
    all-reduced over the replicas) instead of each replica's part.
    """
    layers = [keras.Input((noise_dim,))]
    if spec["variant"] == "conv":
        shape = spec["shape"]
        ch = shape[2] if len(shape) == 3 else 1
        n = len(spec["g_channels"])
        h, w = shape[0] // 2 ** n, shape[1] // 2 ** n
        layers += [keras.layers.Dense(h * w * spec["g_channels"][0], name=f"{name}_projection"),
                   keras.layers.BatchNormalization(synchronized=synchronized), keras.layers.ReLU(),
                   keras.layers.Reshape((h, w, spec["g_channels"][0]))]
        for i, c in enumerate(spec["g_channels"][1:]):
            layers += [keras.layers.Conv2DTranspose(c, 5, strides=2, padding="same", name=f"{name}_deconv_{i}"),
                       keras.layers.BatchNormalization(synchronized=synchronized), keras.layers.ReLU()]
        layers.append(keras.layers.Conv2DTranspose(ch, 5, strides=2, padding="same", name=f"{name}_output"))
        if len(shape) == 2:
            layers.append(keras.layers.Reshape(shape))
    else:
        for i, u in enumerate(spec["g_units"]):
            layers += [keras.layers.Dense(u, name=f"{name}_dense_{i}"),
                       keras.layers.BatchNormalization(synchronized=synchronized), keras.layers.ReLU()]
        layers.append(keras.layers.Dense(spec["shape"][0], name=f"{name}_output"))
    return keras.Sequential(layers, name=name)


@keras.saving.register_keras_serializable(package="emozoo")
class SemiSupervisedGAN(keras.Model):
    """Semi-supervised (multimodal) emotion recognition with CT-GAN (Liang, Chen, Jin 2019).

    One discriminator trunk ``D_m`` and one generator ``G_m`` per modality; the trunks' flattened
    representations are concatenated (``D_a(x_a) (+) D_v(x_v)``, eq. 6) and a classifier ``C``
    (a fully connected layer, softmax over ``K + 1`` classes, class ``K + 1`` = generated) reads
    them. With one modality this is the uni-modal SSGAN's ``D`` (trunk + last FC layer, eq. 4);
    with two it is MSSGAN (eq. 6/7). One noise vector ``z`` (``noise_dim``, paper 100) feeds
    every ``G_m``, so the fake pair ``(G_a(z), G_v(z))`` is one fake multimodal sample.

    ``train_step`` is one batch of Algorithm 1 with two Adam optimisers:

    * ``discriminator_steps`` (S_D) updates of ``theta_D`` and ``theta_C`` with
      ``L_dis = L_sup + L_fake + L_real + lambda * CT`` (eq. 4/6; :mod:`emozoo.losses.kplus1`),
      ``CT`` the consistency term of two dropout-perturbed passes of D, on C's K+1 outputs and on
      the concatenated ``D_`` features, in the CT-GAN authors' reference form by default (mean
      squared softmax difference + 0.1 x mean squared feature difference;
      :mod:`emozoo.losses.consistency`), over the *unlabelled* rows of the batch as in the
      reference code (the labelled rows when the batch has no ``"u"``);
    * then ``generator_steps`` (S_G) updates of ``theta_G`` with feature matching on the
      concatenated second-to-last layer (eq. 5/7), D and C fixed.

    Under a ``tf.distribute`` strategy with several replicas (build and compile the model in
    ``strategy.scope()``; each replica gets its part of the global batch) the step equals the
    single-device one: every loss term is the replica's share of the mean over the *global*
    batch (its rows' sum / all replicas' rows), feature matching compares the global means,
    G's batch norm is synchronized, and the noise is the single-device draw split over the
    replicas. Dropout masks are drawn per replica.

    ``mode="fsbase"`` is the fully supervised baseline (FSBase; MFSBase with two modalities): the
    same D (trunks + C) trained as a plain K-class classifier on the labelled batch only; no G
    is built.

    A training batch is a dict ``{"x": labelled inputs, "y": labels, "u": unlabelled inputs}``
    (``"u"`` optional: without it the real term uses the labelled batch only). ``y`` is int
    ``[B]`` or soft (fuzzy) targets ``[B, K]``. Inputs are one tensor (one modality) or a
    list/tuple/dict (by modality name) of tensors. ``call`` returns the K emotion logits
    (the first K of the K+1; ``softmax`` of them is ``D(k | x, real)``).

    Args:
        num_classes: K emotion classes.
        modalities: one dict per modality: ``name``, ``shape`` (``[H, W]``/``[H, W, C]`` for the
            conv variant, ``[D]`` for the dense one), ``variant`` (``conv``/``dense``), and
            ``d_channels``/``g_channels`` (conv; paper ``(128, 256, 512, 1024)`` /
            ``(512, 256, 128, 64)``) or ``d_units``/``g_units`` (dense).
        mode: ``"ssgan"`` (Algorithm 1) or ``"fsbase"`` (supervised D only).
        noise_dim: size of ``z`` (paper 100).
        dropout: rate of the dropout after every D layer (paper 0.2).
        consistency_weight: lambda of eq. 4/6 (paper 1).
        ct_feature_weight: weight of the ``D_`` distance inside CT (CT-GAN: 0.1).
        ct_margin: ``M'`` of CT (0: the authors' classifier code has no margin).
        ct_form: ``"reference"`` (default) or ``"euclidean"`` (the earlier Euclidean-norm form,
            kept for the ablation; see :mod:`emozoo.losses.consistency`).
        discriminator_steps, generator_steps: S_D, S_G (paper 1, 1).
        learning_rate: Adam learning rate of both optimisers (paper 2e-4).
        beta_1: Adam beta_1 (0.5, DCGAN's; the paper does not say).
        fake_batch: fake samples per step (0 = as many as real samples in the batch).

    Example::

        m = SemiSupervisedGAN(4, [{"name": "fbank", "shape": (16, 16), "d_channels": (4, 8),
                                   "g_channels": (8, 4)}])
        m.compile()
        x = np.random.rand(8, 16, 16).astype("float32")
        m.fit(tf.data.Dataset.from_tensors({"x": x, "y": np.arange(8) % 4, "u": x}), verbose=0)
        probs = keras.ops.softmax(m(x))
    """

    def __init__(self, num_classes: int, modalities: Sequence[dict], mode: str = "ssgan", noise_dim: int = 100,
                 dropout: float = 0.2, consistency_weight: float = 1.0, ct_feature_weight: float = 0.1,
                 ct_margin: float = 0.0, ct_form: str = "reference", discriminator_steps: int = 1,
                 generator_steps: int = 1,
                 learning_rate: float = 2e-4, beta_1: float = 0.5, fake_batch: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = int(num_classes)
        if not modalities:
            raise ExperimentError("SemiSupervisedGAN needs at least one modality")
        self.modalities = [_modality(m) for m in modalities]
        names = [m["name"] for m in self.modalities]
        if len(set(names)) != len(names):
            raise ExperimentError(f"modality names must be unique, got {names}")
        self.mode = str(mode).lower()
        if self.mode not in MODES:
            raise ExperimentError(f"mode must be one of {MODES}, got {mode!r}")
        if self.num_classes < 2:
            raise ExperimentError(f"need num_classes >= 2, got {num_classes}")
        self.noise_dim = int(noise_dim)
        self.dropout = float(dropout)
        self.consistency_weight = float(consistency_weight)
        self.ct_feature_weight = float(ct_feature_weight)
        self.ct_margin = float(ct_margin)
        self.ct_form = str(ct_form).lower()
        if self.ct_form not in CT_FORMS:
            raise ExperimentError(f"ct_form must be one of {CT_FORMS}, got {ct_form!r}")
        self.discriminator_steps = int(discriminator_steps)
        self.generator_steps = int(generator_steps)
        self.learning_rate = float(learning_rate)
        self.beta_1 = float(beta_1)
        self.fake_batch = int(fake_batch)
        if not 0 <= self.dropout < 1 or self.consistency_weight < 0:
            raise ExperimentError(f"need 0 <= dropout < 1 and consistency_weight >= 0, got {dropout}, "
                                  f"{consistency_weight}")
        if self.discriminator_steps < 1 or self.generator_steps < 1:
            raise ExperimentError("discriminator_steps (S_D) and generator_steps (S_G) must be >= 1")

        self.discriminators = [build_discriminator_trunk(m, self.dropout, f"discriminator_{m['name']}")
                               for m in self.modalities]
        self.classifier = keras.layers.Dense(self.num_classes + 1, name="classifier")   # C (K+1 softmax)
        feat = sum(int(np.prod(d.output_shape[1:])) for d in self.discriminators)
        self.classifier.build((None, feat))
        self.feature_dim = feat
        # built in a multi-replica strategy's scope: G's batch norm uses the global batch's statistics
        sync = tf.distribute.get_strategy().num_replicas_in_sync > 1
        self.generators = ([build_generator(m, self.noise_dim, f"generator_{m['name']}", synchronized=sync)
                            for m in self.modalities] if self.mode == "ssgan" else [])
        self.d_optimizer = None
        self.g_optimizer = None
        self.trackers = {k: keras.metrics.Mean(name=k) for k in
                         ("loss", "discriminator_loss", "supervised_loss", "fake_loss", "real_loss",
                          "consistency", "generator_loss")}

    # ----------------------------------------------------------------------------------- inputs
    def _split(self, inputs) -> list:
        if isinstance(inputs, dict):
            missing = [m["name"] for m in self.modalities if m["name"] not in inputs]
            if missing:
                raise SchemaError(f"inputs lack modalities {missing}; give a dict with {self._names()}")
            return [inputs[m["name"]] for m in self.modalities]
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != len(self.modalities):
                raise SchemaError(f"got {len(inputs)} input tensors for {len(self.modalities)} modalities "
                                  f"{self._names()}")
            return list(inputs)
        if len(self.modalities) != 1:
            raise SchemaError(f"a multimodal model takes a list or dict of inputs for {self._names()}")
        return [inputs]

    def _names(self):
        return [m["name"] for m in self.modalities]

    # ---------------------------------------------------------------------------------- network
    def features(self, inputs, training=False):
        """``D_(x)``: the concatenated flattened trunk representations (eq. 6's ``D_a (+) D_v``)."""
        parts = [d(x, training=training) for d, x in zip(self.discriminators, self._split(inputs))]
        return parts[0] if len(parts) == 1 else tf.concat(parts, axis=-1)

    def discriminate(self, inputs, training=False):
        """``(D_(x), K+1 logits)``."""
        h = self.features(inputs, training=training)
        return h, self.classifier(h)

    def call(self, inputs, training=False):
        return self.discriminate(inputs, training=training)[1][:, :self.num_classes]

    def embed(self, inputs):
        return self.features(inputs, training=False)

    def generate(self, z, training=False) -> list:
        """``[G_m(z)]`` for every modality (one shared noise vector)."""
        if not self.generators:
            raise ExperimentError("mode='fsbase' builds no generator")
        return [g(z, training=training) for g in self.generators]

    def build(self, input_shape=None):
        super().build(input_shape)

    def compile(self, d_optimizer=None, g_optimizer=None, **kwargs):
        """Two Adam optimisers (Algorithm 1): ``d_optimizer`` for theta_D and theta_C,
        ``g_optimizer`` for theta_G (defaults: Adam(learning_rate, beta_1))."""
        kwargs.pop("optimizer", None)
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer or keras.optimizers.Adam(self.learning_rate, beta_1=self.beta_1)
        self.g_optimizer = g_optimizer or keras.optimizers.Adam(self.learning_rate, beta_1=self.beta_1)

    def compile_from_config(self, config):
        """Re-create the two Adam optimisers (from the model's ``learning_rate``, ``beta_1``) when a
        ``.keras`` file is loaded; built on the model's variables so that their saved state loads."""
        self.compile()
        if self.built:
            self.d_optimizer.build(self.discriminator_variables)
            self.g_optimizer.build(self.generator_variables)

    @property
    def discriminator_variables(self):
        return [v for d in self.discriminators for v in d.trainable_variables] + self.classifier.trainable_variables

    @property
    def generator_variables(self):
        return [v for g in self.generators for v in g.trainable_variables]

    # ----------------------------------------------------------------------------------- losses
    def _real(self, x, u):
        xs = self._split(x)
        if u is None:
            return xs
        return [tf.concat([a, b], axis=0) for a, b in zip(xs, self._split(u))]

    def _noise(self, n, seed=None):
        return tf.random.normal((n, self.noise_dim), seed=seed)

    def _step_noise(self, n_real, ctx):
        """The fake batch's noise: one draw per step of ``fake_batch`` rows (0: as many as real rows).

        On several replicas every replica makes the same draw of the *global* fake batch and keeps
        its own rows of it: replica ``r`` the rows after those of replicas ``0 .. r-1`` (its real
        rows' count when ``fake_batch`` is 0, else an even split). The replicas' copies of the step
        share one graph, where an op without a seed gets the next operation seed; so (when a global
        seed is set) the ``i``-th draw of the step gets operation seed ``i`` in every replica, the
        seed it has in the single-device step, whose graph holds only the one replica's draws.
        """
        if ctx is None:
            return self._noise(self.fake_batch or n_real)
        seed = None
        if tf.compat.v1.get_default_graph().seed is not None:
            seed = _DRAWS.count = getattr(_DRAWS, "count", -1) + 1
        rid = tf.cast(ctx.replica_id_in_sync_group, tf.int32)
        reps = ctx.num_replicas_in_sync
        if self.fake_batch:
            n_all, start = self.fake_batch, rid * self.fake_batch // reps
            stop = (rid + 1) * self.fake_batch // reps
        else:
            sizes = tf.cast(global_sum(tf.one_hot(rid, reps) * tf.cast(n_real, tf.float32)), tf.int32)
            n_all, start = tf.reduce_sum(sizes), tf.reduce_sum(sizes[:rid])
            stop = start + tf.cast(n_real, tf.int32)
        return self._noise(n_all, seed=seed)[start:stop]

    def discriminator_losses(self, x, y, u=None, z=None, training=True) -> dict:
        """The terms of ``L_dis`` (eq. 4/6) on one batch; ``z`` fixes the noise (tests).

        On several replicas (a step of ``tf.distribute``) every term is this replica's share of the
        mean over the global batch (its rows' sum / the rows of all replicas, per term: labelled,
        real, fake and CT rows), so the shares' gradients, summed by the optimiser, are the
        single-device ones.
        """
        ctx = _replica_context()
        real = self._real(x, u)
        n_lab = tf.shape(self._split(x)[0])[0]
        n_real = tf.shape(real[0])[0]
        if z is None:
            z = self._step_noise(n_real, ctx)
        fake = self.generate(z, training=training)
        h1, l1 = self.discriminate(real, training=training)
        h2, l2 = self.discriminate(real, training=training)          # second dropout perturbation
        _, lf = self.discriminate(fake, training=training)
        rows = slice(None) if u is None else slice(n_lab, None)      # CT on the unlabelled rows (reference code)
        ct = consistency_term(l1[rows], l2[rows], h1[rows], h2[rows], feature_weight=self.ct_feature_weight,
                              margin=self.ct_margin, form=self.ct_form)
        if ctx is None:
            return discriminator_loss(l1[:n_lab], y, l1, lf, ct, self.consistency_weight)
        terms = discriminator_loss(l1[:n_lab], y, l1, lf, 0.0, self.consistency_weight)
        sup = _global_share(terms["supervised"], n_lab)
        fake_t = _global_share(terms["fake"], tf.shape(lf)[0])
        real_t = _global_share(terms["real"], n_real)
        ct = _global_share(ct, n_real if u is None else n_real - n_lab)
        return {"supervised": sup, "fake": fake_t, "real": real_t, "consistency": ct,
                "total": sup + fake_t + real_t + self.consistency_weight * ct}

    def generator_loss(self, x, u=None, z=None, training=True):
        """``L_gen`` (eq. 5/7): feature matching on the concatenated second-to-last layer.

        On several replicas both means are over the global batch (sums and counts all-reduced), so
        every replica returns the single-device value; :meth:`generator_step` divides it by the
        replica count before differentiating (the all-sum's gradient adds the replicas' parts).
        """
        ctx = _replica_context()
        real = self._real(x, u)
        if z is None:
            z = self._step_noise(tf.shape(real[0])[0], ctx)
        h_fake = self.features(self.generate(z, training=training), training=training)
        h_real = tf.stop_gradient(self.features(real, training=training))
        if ctx is None:
            return feature_matching_loss(h_fake, h_real)
        counts = tf.cast(tf.stack([tf.shape(h_fake)[0], tf.shape(h_real)[0]]), tf.float32)
        s_fake, s_real, counts = global_sum((tf.reduce_sum(h_fake, 0), tf.reduce_sum(h_real, 0), counts))
        return feature_matching_loss((s_fake / tf.maximum(counts[0], 1.0))[None],
                                     (s_real / tf.maximum(counts[1], 1.0))[None])

    # ------------------------------------------------------------------------------- train step
    @staticmethod
    def _unpack(data):
        if isinstance(data, dict) and "x" in data:
            return data["x"], data["y"], data.get("u")
        if isinstance(data, (tuple, list)) and len(data) >= 2:
            return data[0], data[1], None
        raise SchemaError("a training batch is {'x': inputs, 'y': labels, 'u': unlabelled inputs} or (x, y)")

    def _accuracy(self, x, y):
        logits = self(x, training=False)
        yi = tf.cast(y, tf.int64) if y.shape.rank == 1 else tf.argmax(y, axis=-1)
        return tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, -1), yi), tf.float32))

    @staticmethod
    def _global_values(ctx, values: dict) -> dict:
        """The global-batch values of per-replica shares (what the step logs; identity on one replica)."""
        if ctx is None:
            return values
        keys = sorted(values)
        total = global_sum(tf.stack([tf.convert_to_tensor(values[k], tf.float32) for k in keys]))
        return {k: total[i] for i, k in enumerate(keys)}

    def discriminator_step(self, x, y, u=None, z=None) -> dict:
        """One Adam update of theta_D and theta_C on ``L_dis`` (Algorithm 1, inner loop over S_D)."""
        with tf.GradientTape() as tape:
            terms = self.discriminator_losses(x, y, u, z=z, training=True)
        grads = tape.gradient(terms["total"], self.discriminator_variables)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator_variables))
        return terms

    def generator_step(self, x, u=None, z=None):
        """One Adam update of theta_G on ``L_gen`` with D and C fixed (Algorithm 1, inner loop over S_G)."""
        ctx = _replica_context()
        with tf.GradientTape() as tape:
            g_loss = self.generator_loss(x, u, z=z, training=True)
            # several replicas: every one holds the global L_gen; 1/R each, as the optimiser sums them
            scaled = g_loss if ctx is None else g_loss / ctx.num_replicas_in_sync
        grads = tape.gradient(scaled, self.generator_variables)
        self.g_optimizer.apply_gradients(zip(grads, self.generator_variables))
        return g_loss

    def supervised_step(self, x, y):
        """FSBase: one Adam update of D (trunks + C) as a plain K-class classifier."""
        ctx = _replica_context()
        with tf.GradientTape() as tape:
            loss = classifier_loss(self.discriminate(x, training=True)[1], y)
            if ctx is not None:                                     # this replica's share of the global mean
                loss = _global_share(loss, tf.shape(y)[0])
        grads = tape.gradient(loss, self.discriminator_variables)
        self.d_optimizer.apply_gradients(zip(grads, self.discriminator_variables))
        return loss

    def train_step(self, data):
        """One batch of Algorithm 1: S_D updates of theta_D, theta_C on L_dis, then S_G of theta_G on L_gen."""
        x, y, u = self._unpack(data)
        y = tf.convert_to_tensor(y)
        ctx = _replica_context()
        _DRAWS.count = -1                                          # operation seeds of this step's draws
        if self.mode == "fsbase":
            loss = self._global_values(ctx, {"loss": self.supervised_step(x, y)})["loss"]
            for k in ("loss", "supervised_loss"):
                self.trackers[k].update_state(loss)
            return step_logs({k: self.trackers[k].result() for k in ("loss", "supervised_loss")})
        for _ in range(self.discriminator_steps):                  # Algorithm 1: for iter = 0..S_D
            terms = self.discriminator_step(x, y, u)
        for _ in range(self.generator_steps):                      # Algorithm 1: for iter = 0..S_G
            g_loss = self.generator_step(x, u)
        terms = self._global_values(ctx, terms)                    # every replica tracks the global values
        self.trackers["loss"].update_state(terms["total"])
        self.trackers["discriminator_loss"].update_state(terms["total"])
        self.trackers["supervised_loss"].update_state(terms["supervised"])
        self.trackers["fake_loss"].update_state(terms["fake"])
        self.trackers["real_loss"].update_state(terms["real"])
        self.trackers["consistency"].update_state(terms["consistency"])
        self.trackers["generator_loss"].update_state(g_loss)
        return step_logs({k: t.result() for k, t in self.trackers.items()})

    def test_step(self, data):
        x, y, _ = self._unpack(data)
        y = tf.convert_to_tensor(y)
        out = {"loss": classifier_loss(self.discriminate(x, training=False)[1], y), "accuracy": self._accuracy(x, y)}
        ctx = _replica_context()
        if ctx is not None:                                         # means over the global batch
            out = self._global_values(ctx, {k: _global_share(v, tf.shape(y)[0]) for k, v in out.items()})
        return step_logs(out)

    @property
    def metrics(self):
        return list(self.trackers.values())

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "modalities": [{**m, "shape": list(m["shape"]),
                                **{k: list(m[k]) for k in ("d_channels", "g_channels", "d_units", "g_units")
                                   if k in m}} for m in self.modalities],
                "mode": self.mode, "noise_dim": self.noise_dim, "dropout": self.dropout,
                "consistency_weight": self.consistency_weight, "ct_feature_weight": self.ct_feature_weight,
                "ct_margin": self.ct_margin, "ct_form": self.ct_form, "discriminator_steps": self.discriminator_steps,
                "generator_steps": self.generator_steps, "learning_rate": self.learning_rate,
                "beta_1": self.beta_1, "fake_batch": self.fake_batch}


@register_model("ssgan")
def build_ssgan(num_classes: int, input_dim: int | None = None, modalities=None, **params) -> SemiSupervisedGAN:
    """Registry builder: ``modalities`` as in :class:`SemiSupervisedGAN`; without it one dense
    modality of ``input_dim`` (the dense variant on functionals)."""
    if "run" in params:
        raise ExperimentError("ssgan/... experiments need unlabelled pools and labelled fractions that the generic "
                              "trainer does not build: run them with `python pipelines/ssgan_table.py --experiment "
                              "NAME`")
    if modalities is None:
        if not input_dim:
            raise ExperimentError("ssgan needs modalities or input_dim")
        modalities = [{"name": "features", "shape": (int(input_dim),), "variant": "dense"}]
    return SemiSupervisedGAN(num_classes, modalities, **params)
