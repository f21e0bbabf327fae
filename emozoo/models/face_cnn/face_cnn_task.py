"""The face CNN as a Task of the one trainer (Yousefi et al., Section 4.1): per-culture
allocations with cross-culture tests, and FER2013.

* :func:`fit_face_cnn` trains :func:`build_face_cnn` on the ``train`` rows with SGD + momentum and
  exponential decay (Section 2.1), the flip/rotation augmentation (Section 3.3), and keeps the
  epoch with the best validation accuracy (ties: lower validation loss) through the trainer's
  :class:`~emozoo.train.callbacks.ModelSelection`; it records the training and validation error
  of every epoch (the curves of Fig. 4).
* :class:`FaceCNNTask` is what ``python -m emozoo.train --experiment face_cnn/...`` runs inside
  :func:`emozoo.train.trainer.run_experiment` (seeds, strategy, resume, pooled reports, summary):
  protocol ``subject_split`` is one fold whose train/validation/test allocation of subjects is
  drawn from the trainer's seed (seed ``k`` = allocation ``k``, Section 4.1.1), tested on its own
  test subjects (Tables 2-4) and on every image of the other culture (``extra_tests``,
  cross-culture testing, beyond the paper); protocol ``official`` is FER2013's Training /
  PublicTest / PrivateTest (the paper's TFD check), one run per seed.

A ``tf.distribute`` strategy builds and compiles the model in its scope; the batches are global
batches split over its replicas and the cross-entropy is scaled by the global batch
(:func:`global_batch_crossentropy`).
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from emozoo.errors import ExperimentError
from emozoo.evaluation.metrics import classification_report
from emozoo.models.face_cnn.face_cnn_data import official_split, subject_disjoint_split
from emozoo.models.face_cnn.face_cnn_model import ARCH_PRESETS, build_face_cnn, sgd_exponential


@dataclasses.dataclass
class TrainConfig:
    """Hyper-parameters of one training run (Section 2.1, 3.3).

    Attributes:
        arch: :data:`ARCH_PRESETS` name (``khorrami`` = the paper's size, ``cpu`` = smaller).
        epochs: passes over the training rows.
        batch_size: mini-batch size.
        learning_rate: initial SGD rate ``lr_0``.
        decay_rate: ``lr_t = lr_0 * decay_rate ** epoch`` (exponential decay, per step).
        momentum: SGD momentum.
        weight_decay: L2 on kernels.
        rotation_degrees: max random rotation (either direction); flips are always on.
        arch_overrides: replaces entries of the preset (tests use tiny filters).
        eval_every_steps: if > 0, every this many training steps record the training error of
            the mini-batches since the last point and the validation error on a fixed random
            subset of ``eval_subset`` validation rows (the per-step curves of Fig. 4).
    """

    arch: str = "khorrami"
    epochs: int = 60
    batch_size: int = 32
    learning_rate: float = 0.01
    decay_rate: float = 0.95
    momentum: float = 0.9
    weight_decay: float = 5e-4
    rotation_degrees: float = 15.0
    arch_overrides: dict = dataclasses.field(default_factory=dict)
    eval_every_steps: int = 0
    eval_subset: int = 1000

    def model_config(self, num_classes: int) -> dict:
        if self.arch not in ARCH_PRESETS:
            raise ExperimentError(f"unknown face_cnn architecture {self.arch!r}; known: {sorted(ARCH_PRESETS)}")
        cfg = dict(ARCH_PRESETS[self.arch])
        cfg.update(self.arch_overrides)
        cfg.update(num_classes=int(num_classes), weight_decay=self.weight_decay,
                   rotation_degrees=self.rotation_degrees)
        cfg["filters"] = tuple(int(f) for f in cfg["filters"])
        return cfg


def global_batch_crossentropy():
    """Sparse categorical cross-entropy for a multi-replica ``tf.distribute`` step.

    Keras divides each replica's *mean* by the replica count, which is the global mean only when
    the replicas hold equally many rows (not for a last, uneven batch). This loss is each
    replica's *sum* divided by the rows of all replicas (all-reduced), so the gradients the
    optimiser sums over the replicas are those of the mean over the global batch. Its *value* is
    the replica's mean / replica count (Keras multiplies it back and weights it by the replica's
    rows when it logs the loss), so the logged loss is the global mean too. The L2 terms of the
    kernels are Keras' (added once per replica, divided by the replica count). Outside a replica
    context (Keras' symbolic build) it is the plain mean.

    Example::

        with strategy.scope():
            model = build_face_cnn(6)
            model.compile(optimizer="sgd", loss=global_batch_crossentropy(), metrics=["accuracy"])
    """
    import keras
    import tensorflow as tf

    class GlobalBatchCrossentropy(keras.losses.Loss):
        def __init__(self):
            super().__init__(name="sparse_categorical_crossentropy", reduction="sum")

        def call(self, y_true, y_pred):
            per = keras.losses.sparse_categorical_crossentropy(y_true, y_pred)
            ctx = tf.distribute.get_replica_context()
            if ctx is None:
                return tf.reduce_mean(per)
            n = tf.cast(tf.shape(per)[0], per.dtype)
            total = tf.reduce_sum(per)
            share = total / tf.maximum(ctx.all_reduce(tf.distribute.ReduceOp.SUM, n), 1.0)   # the gradient
            shown = tf.math.divide_no_nan(total, n * ctx.num_replicas_in_sync)              # the logged value
            return share + tf.stop_gradient(shown - share)

    return GlobalBatchCrossentropy()


def _distributed(strategy) -> bool:
    """Whether ``strategy`` distributes (imports TensorFlow only when a strategy is given: the
    single-device path also runs under Keras' JAX backend)."""
    if strategy is None:
        return False
    from emozoo.train.strategies import is_distributed
    return is_distributed(strategy)


def _eval_batch(n: int, batch: int, replicas: int, what: str) -> int:
    """A batch size >= ``batch`` whose last batch of ``n`` rows gives every replica a row (oneDNN's
    CPU convolution fails on a replica's empty batch)."""
    if replicas <= 1:
        return batch
    if n < replicas:
        raise ExperimentError(f"the {what} rows ({n}) are fewer than the {replicas} replicas")
    return next(b for b in range(batch, n + 1) if n % b == 0 or n % b >= replicas) if n > batch else batch


def _predict(model, x, batch_size: int = 256, distributed: bool = False) -> np.ndarray:
    """Probabilities of ``x``: ``model.predict`` (the single-device path), or, for a model trained
    under a strategy, the model called on chunks outside the replicas (every row scored once,
    on every worker, with no batch split over replicas)."""
    if not distributed:
        return np.asarray(model.predict(x, batch_size=batch_size, verbose=0))
    import keras
    return np.concatenate([keras.ops.convert_to_numpy(model(x[i:i + batch_size], training=False))
                           for i in range(0, len(x), batch_size)])


def _step_curve_callback(every: int, xv, yv, distributed: bool = False):
    import keras

    class StepCurve(keras.callbacks.Callback):
        """Fig. 4 points: every ``every`` steps, training error of the mini-batches since the last
        point (from Keras' running epoch accuracy) and validation error on ``(xv, yv)``."""

        def __init__(self):
            super().__init__()
            self.step, self.points = 0, []
            self._seen, self._acc, self._mark = 0, 0.0, (0, 0.0)

        def on_epoch_begin(self, epoch, logs=None):
            self._seen, self._acc, self._mark = 0, 0.0, (0, 0.0)

        def on_train_batch_end(self, batch, logs=None):
            self.step += 1
            self._seen = batch + 1
            self._acc = float(logs["accuracy"])
            if self.step % every == 0:
                n0, a0 = self._mark
                n = self._seen - n0
                window = (self._acc * self._seen - a0 * n0) / n if n > 0 else self._acc
                pv = _predict(self.model, xv, 256, distributed).argmax(-1)
                self.points.append({"step": self.step, "train_error": 1.0 - window,
                                    "val_error": float((pv != yv).mean())})
                self._mark = (self._seen, self._acc)

    return StepCurve()


def _epoch_timer_callback():
    import keras

    class EpochTimer(keras.callbacks.Callback):
        """Wall seconds of every epoch (training and validation pass)."""

        def __init__(self):
            super().__init__()
            self.times, self._t0 = [], None

        def on_epoch_begin(self, epoch, logs=None):
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self._t0)

    return EpochTimer()


def model_selection(fold_dir, *, patience: int = 0, min_epochs: int = 0, write: bool = True):
    """The face CNN's epoch selection (Section 4.1: the model of the epoch with the best validation
    accuracy is tested; ties: the lower validation loss) as the trainer's
    :class:`~emozoo.train.callbacks.ModelSelection`, writing into ``fold_dir``."""
    from emozoo.train.callbacks import ModelSelection

    return ModelSelection(fold_dir, monitor="val_accuracy", tie_break="val_loss", patience=patience,
                          min_epochs=min_epochs, write=write)


def fit_face_cnn(x, y, parts: dict, config: TrainConfig, num_classes: int, *, fold_dir, seed: int = 0,
                 verbose: int = 0, strategy=None, patience: int = 0, min_epochs: int = 0, callbacks=()):
    """Train one model on ``x[parts["train"]]``, select the epoch on ``parts["valid"]``.

    The epoch kept is the one with the best validation accuracy, ties broken by the lower
    validation loss: :class:`emozoo.train.callbacks.ModelSelection` (``monitor="val_accuracy"``,
    ``tie_break="val_loss"``, no early stopping) writes its weights to
    ``fold_dir/best.weights.h5`` and its per-epoch record to ``fold_dir/selection.json``; the model
    returned holds them. ``patience`` > 0 stops after that many epochs without improvement (not
    before ``min_epochs``; the experiments use 0: every epoch runs). ``callbacks``: further Keras
    callbacks (e.g. TensorBoard). A ``selection.json`` left by an interrupted attempt is replayed from
    epoch 0 (the fold is trained again from its start).

    Returns ``(model, record)``: the model with the selected weights and a dict with the
    per-epoch ``history`` (``train_error``, ``val_error``, ``train_loss``, ``val_loss``),
    ``best_epoch``, ``epoch_seconds``, the model and training configs, the sizes and, with
    ``config.eval_every_steps``, the Fig. 4 ``step_curve``.

    ``strategy``: a ``tf.distribute.Strategy`` (``None``: the default one). Under a distributed
    strategy the model is built and compiled in its scope with :func:`global_batch_crossentropy`,
    ``config.batch_size`` is the global batch (Keras splits it over the replicas; the same batches
    as on one device), and every batch must give each replica a row: a training set whose last
    batch has fewer rows than replicas is refused, validation batches are enlarged to avoid one.
    The flip/rotation draws and dropout masks are each replica's own.

    Example::

        parts = subject_disjoint_split(store["subject"], seed=0)
        model, record = fit_face_cnn(store["x"], store["y"], parts, TrainConfig(arch="cpu", epochs=80), 6,
                                     fold_dir="runs/x/seed_0/jaffe", seed=0)
    """
    import contextlib

    import keras

    for part in ("train", "valid"):
        if len(parts.get(part, ())) == 0:
            raise ExperimentError(f"the fold has no {part} rows")
    dist = _distributed(strategy)
    replicas = int(strategy.num_replicas_in_sync) if dist else 1
    left = len(parts["train"]) % config.batch_size
    if dist and 0 < left < replicas:
        raise ExperimentError(f"the last training batch would hold {left} row(s) for {replicas} replicas "
                              f"({len(parts['train'])} rows, batch {config.batch_size}): choose a batch size that "
                              "leaves no rows or at least one per replica")
    keras.utils.set_random_seed(int(seed))
    mcfg = config.model_config(num_classes)
    steps = int(np.ceil(len(parts["train"]) / config.batch_size))
    with strategy.scope() if dist else contextlib.nullcontext():
        model = build_face_cnn(**mcfg)
        model.compile(optimizer=sgd_exponential(config.learning_rate, steps, config.decay_rate, config.momentum),
                      loss=global_batch_crossentropy() if dist else "sparse_categorical_crossentropy",
                      metrics=["accuracy"])
    fit = {}
    if dist:
        from emozoo.train.strategies import log_scalars, patch_multi_worker_build
        fit["validation_batch_size"] = _eval_batch(len(parts["valid"]), config.batch_size, replicas, "validation")
        # Keras' symbolic build before a distributed fit averages the replicas' first batches, which
        # fails when they differ in size (7 rows: 4 + 3); the build needs only one replica's shapes
        patch_multi_worker_build(model)
        import tensorflow as tf
        if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
            log_scalars(model)
    xt, yt = x[parts["train"]].astype("float32"), y[parts["train"]]
    xv, yv = x[parts["valid"]].astype("float32"), y[parts["valid"]]
    timer = _epoch_timer_callback()
    # every worker writes the selected weights into its own fold folder (a non-chief's is under .workers/)
    selection = model_selection(fold_dir, patience=patience, min_epochs=min_epochs)
    selection.resume_at = 0            # no mid-fold resume: records of an interrupted attempt are dropped
    callbacks = [timer, selection, *callbacks]
    if config.eval_every_steps:
        sub = np.sort(np.random.default_rng(0).permutation(len(yv))[:config.eval_subset])   # fixed random subset
        curve = _step_curve_callback(config.eval_every_steps, xv[sub], yv[sub], dist)
        callbacks.append(curve)
    hist = model.fit(xt, yt, validation_data=(xv, yv), epochs=config.epochs, batch_size=config.batch_size,
                     shuffle=True, callbacks=callbacks, verbose=verbose, **fit)
    model.load_weights(selection.weights_path)
    h = hist.history
    record = {"history": {"train_error": [1.0 - float(v) for v in h["accuracy"]],
                          "val_error": [1.0 - float(v) for v in h["val_accuracy"]],
                          "train_loss": [float(v) for v in h["loss"]],
                          "val_loss": [float(v) for v in h["val_loss"]]},
              "best_epoch": int(selection.state["best_epoch"]), "best_val_accuracy": float(selection.state["best"]),
              "best_val_loss": float(selection.state["best_tie"]), "epoch_seconds": [float(t) for t in timer.times],
              "model_config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in mcfg.items()},
              "train_config": dataclasses.asdict(config), "seed": int(seed),
              "sizes": {k: int(len(v)) for k, v in parts.items()}}
    if config.eval_every_steps:
        record["step_curve"] = curve.points
    return model, record


def test_report(model, x, y, classes, batch_size: int = 256, distributed: bool = False) -> tuple[dict, np.ndarray]:
    """``(report, probabilities)`` of ``model`` on ``(x, y)``: the
    :func:`~emozoo.evaluation.metrics.classification_report` (with ``confusion_matrix``) plus the
    Table 4 ``misclassification`` rates (``distributed``: a model trained under a strategy, see
    :func:`_predict`)."""
    probs = _predict(model, x.astype("float32"), batch_size, distributed)
    rep = classification_report(y, probs.argmax(-1), list(classes))
    rep["misclassification"] = misclassification_rates(rep["confusion_matrix"])
    return rep, probs


def misclassification_rates(confusion) -> dict:
    """Table 4: % of each class's samples (rows) that are misclassified, and overall."""
    cm = np.asarray(confusion, np.float64)
    rows = cm.sum(1)
    per = np.where(rows > 0, 100.0 * (rows - np.diag(cm)) / np.maximum(rows, 1), np.nan)
    return {"per_class": [float(v) for v in per], "total": float(100.0 * (1 - np.trace(cm) / max(cm.sum(), 1)))}


@dataclasses.dataclass
class FaceFold:
    """The one fold of a face CNN experiment.

    Attributes:
        name: ``corpus`` (subject_split) or ``official`` (FER2013); ``slug``: its folder name.
        protocol: ``subject_split`` or ``official``.
        corpus: the corpus trained (and tested) on.
        stores: ``corpus -> face store`` (:func:`~emozoo.models.face_cnn.face_cnn_data.load_faces`);
            the stores other than ``corpus`` are the cross-culture test sets.
        fractions: train/validation/test shares of the subjects (subject_split).
    """

    name: str
    slug: str
    protocol: str
    corpus: str
    stores: dict
    fractions: tuple = (0.6, 0.2, 0.2)

    def parts(self, seed: int) -> dict:
        """``{"train", "valid", "test"}`` row indices: the allocation drawn with ``seed``
        (subject_split), or FER2013's official splits (the same for every seed)."""
        data = self.stores[self.corpus]
        if self.protocol == "subject_split":
            return subject_disjoint_split(data["subject"], seed=seed, fractions=self.fractions)
        return official_split(data["split"])

    @property
    def sizes(self) -> dict:
        return {c: int(len(d["y"])) for c, d in self.stores.items()}


class FaceCNNTask:
    """The face CNN as a :class:`emozoo.train.task.Task` (registered for the model ``face_cnn``):
    ``python -m emozoo.train --experiment face_cnn/culture/jaffe/cpu --seeds 5`` runs five
    subject-disjoint allocations of JAFFE (trainer seed ``k`` draws allocation ``k`` and seeds the
    training, as the earlier per-culture loop's split ``k``), each tested on its held-out posers
    and on every CK+48 face; the summary's mean +- std over seeds is the mean +- std over
    allocations.

    * :meth:`build_folds`: the face stores of ``cfg.data.corpora`` (the first one trained on, the
      others cross-culture test sets with the same classes) as one :class:`FaceFold`;
    * :meth:`train_fold`: :func:`fit_face_cnn` on the seed's allocation, then the test report
      (``"test"``), the other cultures' reports (``"extra_tests"``: the trainer pools them per seed
      and summarises them over seeds, ``emozoo.report`` shows them as rows) and, for FER2013, the
      PublicTest report (``"valid"``, not a test row: it selected the epoch). Writes
      ``best.weights.h5`` and ``selection.json`` (every epoch's logs) in ``fold_dir`` and, on the
      chief, ``predictions.npz`` and ``result.json``.

    Example::

        from emozoo.experiments import get_experiment
        from emozoo.train.trainer import run_experiment
        run_experiment(get_experiment("face_cnn/culture/ckplus/cpu"), "runs/face_cnn_culture_ckplus_cpu")
    """

    def build_folds(self, cfg, *, data_root=".", log=print):
        from emozoo.models.face_cnn.face_cnn_data import load_faces
        from emozoo.models.face_cnn.face_cnn_experiments import train_config

        train_config(cfg)                     # refuse a bad config before any store is read
        protocol = cfg.data.protocol.lower()
        if protocol not in ("subject_split", "official"):
            raise ExperimentError(f"{cfg.name}: face_cnn protocols are subject_split and official, not {protocol!r}")
        corpora = list(cfg.data.corpora) if protocol == "subject_split" else list(cfg.data.corpora[:1])

        def store(c):
            path = Path(cfg.data.store_for(c))
            return load_faces(path if path.is_absolute() else Path(data_root) / path)

        stores = {c: store(c) for c in corpora}
        corpus = corpora[0]
        classes = tuple(str(c) for c in stores[corpus]["classes"])
        for other, od in stores.items():
            if tuple(str(c) for c in od["classes"]) != classes:
                raise ExperimentError(f"{corpus} and {other} have different classes; cross-culture tests need the same")
        if protocol == "subject_split":
            fold = FaceFold(corpus, corpus, protocol, corpus, stores,
                            tuple(cfg.data.protocol_kwargs.get("fractions", (0.6, 0.2, 0.2))))
        else:
            fold = FaceFold("official", "official", protocol, corpus, stores)
            fold.parts(0)                     # FER2013 without one of its splits: a clear error now
        log(f"[emozoo.train] {cfg.name}: {protocol} on {corpus}, faces {fold.sizes}")
        return [fold], classes

    def train_fold(self, cfg, fold, fold_index, classes, seed, fold_dir, strategy, *, is_chief=True, verbose=0):
        from emozoo.models.face_cnn.face_cnn_experiments import train_config
        from emozoo.utils import write_json_atomic

        t0 = time.perf_counter()
        fold_dir = Path(fold_dir)
        tc = train_config(cfg)
        dist = _distributed(strategy)
        data = fold.stores[fold.corpus]
        parts = fold.parts(seed)
        tb = []
        if cfg.trainer.tensorboard and is_chief:
            import keras
            tb.append(keras.callbacks.TensorBoard(str(fold_dir / "logs"), write_graph=False, update_freq="epoch"))
        model, rec = fit_face_cnn(data["x"], data["y"], parts, tc, len(classes), fold_dir=fold_dir, seed=seed,
                                  verbose=verbose, strategy=strategy, patience=cfg.trainer.patience,
                                  min_epochs=cfg.trainer.min_epochs, callbacks=tb)
        rec["train_seconds"] = time.perf_counter() - t0
        test_idx = parts["test"]
        report, probs = test_report(model, data["x"][test_idx], data["y"][test_idx], classes, distributed=dist)
        result = {"fold": fold.name, "fold_index": fold_index, "protocol": fold.protocol, "corpus": fold.corpus,
                  "classes": list(classes), **rec, "epochs_run": len(rec["history"]["train_error"]),
                  "weights": "best.weights.h5", "test_corpora": [fold.corpus], "test": report}
        if fold.protocol == "subject_split":
            result["parts"] = {p: [int(i) for i in v] for p, v in parts.items()}
            result["test_subjects"] = sorted(set(str(s) for s in data["subject"][test_idx]))
            result["extra_tests"] = {other: test_report(model, od["x"], od["y"], classes, distributed=dist)[0]
                                     for other, od in fold.stores.items() if other != fold.corpus}
        else:
            result["valid"] = test_report(model, data["x"][parts["valid"]], data["y"][parts["valid"]], classes,
                                          distributed=dist)[0]
        result["seconds"] = round(time.perf_counter() - t0, 2)
        if is_chief:
            np.savez(fold_dir / "predictions.npz", y_true=data["y"][test_idx], y_pred=probs.argmax(-1),
                     prob=probs.astype(np.float32), clip_id=data["clip_id"][test_idx].astype(str),
                     classes=np.asarray(classes, dtype=str))
            write_json_atomic(fold_dir / "result.json", result)
        return result
