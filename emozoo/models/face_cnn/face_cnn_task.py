"""Training and testing the face CNN: one fold (Section 4.1), per-culture splits, cross-culture tests.

* :func:`train_fold` trains :func:`build_face_cnn` on the ``train`` rows with SGD + momentum and
  exponential decay (Section 2.1), the flip/rotation augmentation (Section 3.3), and keeps the
  epoch with the best validation accuracy (ties: lower validation loss); it records the training
  and validation error of every epoch (the curves of Fig. 4).
* :func:`run_culture` repeats it over ``n_splits`` random subject-disjoint allocations of one
  culture's corpus (Section 4.1.1) and tests each model on its own test subjects (confusion
  matrices of Tables 2-3, misclassification of Table 4) and on every image of the other culture
  (cross-culture testing, beyond the paper).
* :func:`run_benchmark` trains on FER2013's official splits over seeds (the paper's TFD check).

Imports numpy, Keras and :mod:`emozoo.evaluation.metrics` only: runs under Keras' TensorFlow or
JAX backend (``KERAS_BACKEND=jax`` on a GPU machine without TensorFlow). A ``tf.distribute``
strategy (``strategy=``, TensorFlow only) builds and compiles the model in its scope; the batches
are global batches split over its replicas and the cross-entropy is scaled by the global batch
(:func:`global_batch_crossentropy`).
"""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from emozoo.errors import ExperimentError
from emozoo.evaluation.metrics import classification_report, confusion_matrix
from emozoo.models.face_cnn.face_cnn_data import official_split, subject_disjoint_split
from emozoo.utils import write_json_atomic
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


def _best_weights_callback():
    import keras

    class BestWeights(keras.callbacks.Callback):
        """Keep the weights of the epoch with the best validation accuracy (ties: lower loss)."""

        def __init__(self):
            super().__init__()
            self.best, self.best_epoch, self.weights, self.times = None, -1, None, []
            self._t0 = None

        def on_epoch_begin(self, epoch, logs=None):
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self._t0)
            key = (float(logs["val_accuracy"]), -float(logs["val_loss"]))
            if self.best is None or key > self.best:
                self.best, self.best_epoch = key, epoch
                self.weights = [w.copy() for w in self.model.get_weights()]

    return BestWeights()


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


def train_fold(x, y, parts: dict, config: TrainConfig, num_classes: int, *, seed: int = 0, verbose: int = 0,
               strategy=None):
    """Train one model on ``x[parts["train"]]``, select the epoch on ``parts["valid"]``.

    Returns ``(model, record)``: the model with the selected weights and a dict with the
    per-epoch ``history`` (``train_error``, ``val_error``, ``train_loss``, ``val_loss``),
    ``best_epoch``, ``epoch_seconds`` and the model config.

    ``strategy``: a ``tf.distribute.Strategy`` (``None``: the default one). Under a distributed
    strategy the model is built and compiled in its scope with :func:`global_batch_crossentropy`,
    ``config.batch_size`` is the global batch (Keras splits it over the replicas; the same batches
    as on one device), and every batch must give each replica a row: a training set whose last
    batch has fewer rows than replicas is refused, validation batches are enlarged to avoid one.
    The flip/rotation draws and dropout masks are each replica's own.
    """
    import keras

    import contextlib

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
    best = _best_weights_callback()
    callbacks = [best]
    if config.eval_every_steps:
        sub = np.sort(np.random.default_rng(0).permutation(len(yv))[:config.eval_subset])   # fixed random subset
        curve = _step_curve_callback(config.eval_every_steps, xv[sub], yv[sub], dist)
        callbacks.append(curve)
    hist = model.fit(xt, yt, validation_data=(xv, yv), epochs=config.epochs, batch_size=config.batch_size,
                     shuffle=True, callbacks=callbacks, verbose=verbose, **fit)
    model.set_weights(best.weights)
    h = hist.history
    record = {"history": {"train_error": [1.0 - float(v) for v in h["accuracy"]],
                          "val_error": [1.0 - float(v) for v in h["val_accuracy"]],
                          "train_loss": [float(v) for v in h["loss"]],
                          "val_loss": [float(v) for v in h["val_loss"]]},
              "best_epoch": int(best.best_epoch), "epoch_seconds": [float(t) for t in best.times],
              "model_config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in mcfg.items()},
              "train_config": dataclasses.asdict(config), "seed": int(seed),
              "sizes": {k: int(len(v)) for k, v in parts.items()}}
    if config.eval_every_steps:
        record["step_curve"] = curve.points
    return model, record


def test_report(model, x, y, classes, batch_size: int = 256, distributed: bool = False) -> dict:
    """Probabilities, confusion matrix and the classification report of ``model`` on ``(x, y)``
    (``distributed``: a model trained under a strategy, see :func:`_predict`)."""
    probs = _predict(model, x.astype("float32"), batch_size, distributed)
    pred = probs.argmax(-1)
    rep = classification_report(y, pred, list(classes))
    rep["confusion"] = confusion_matrix(y, pred, len(classes)).tolist()
    rep["misclassification"] = misclassification_rates(rep["confusion"])
    return {"report": rep, "pred": pred.tolist()}


def misclassification_rates(confusion) -> dict:
    """Table 4: % of each class's samples (rows) that are misclassified, and overall."""
    cm = np.asarray(confusion, np.float64)
    rows = cm.sum(1)
    per = np.where(rows > 0, 100.0 * (rows - np.diag(cm)) / np.maximum(rows, 1), np.nan)
    return {"per_class": [float(v) for v in per], "total": float(100.0 * (1 - np.trace(cm) / max(cm.sum(), 1)))}




def run_culture(stores: dict, corpus: str, config: TrainConfig, *, n_splits: int = 5, out: str | Path,
                fractions=(0.6, 0.2, 0.2), verbose: int = 0, strategy=None) -> list[dict]:
    """Section 4.1.1 on ``stores[corpus]``: ``n_splits`` subject-disjoint allocations (seed = split).

    Each split's model is tested on its own test subjects and on every image of each other
    corpus in ``stores`` (cross-culture). Writes ``split{k}.weights.h5`` and ``split{k}.json`` to
    ``out/<corpus>/`` and returns the records. ``strategy``: as in :func:`train_fold`.
    """
    dist = _distributed(strategy)
    data = stores[corpus]
    classes = [str(c) for c in data["classes"]]
    folder = Path(out) / corpus
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for k in range(n_splits):
        done = folder / f"split{k}.json"
        if done.exists() and (folder / f"split{k}.weights.h5").exists():   # finished: read back (resume)
            records.append(json.loads(done.read_text()))
            continue
        parts = subject_disjoint_split(data["subject"], seed=k, fractions=fractions)
        t0 = time.perf_counter()
        model, rec = train_fold(data["x"], data["y"], parts, config, len(classes), seed=k, verbose=verbose,
                                strategy=strategy)
        rec["train_seconds"] = time.perf_counter() - t0
        rec.update(corpus=corpus, split=k, classes=classes,
                   parts={p: [int(i) for i in v] for p, v in parts.items()},
                   test_subjects=sorted(set(str(s) for s in data["subject"][parts["test"]])))
        rec["test"] = test_report(model, data["x"][parts["test"]], data["y"][parts["test"]], classes,
                                  distributed=dist)
        rec["cross"] = {}
        for other, od in stores.items():
            if other == corpus:
                continue
            if [str(c) for c in od["classes"]] != classes:
                raise ExperimentError(f"{corpus} and {other} have different classes; cross-culture tests need the same")
            rec["cross"][other] = test_report(model, od["x"], od["y"], classes, distributed=dist)
        model.save_weights(folder / f"split{k}.weights.h5")
        write_json_atomic(folder / f"split{k}.json", rec, indent=None)
        records.append(rec)
        print(f"{corpus} split {k}: test acc {rec['test']['report']['accuracy']:.3f} "
              + " ".join(f"cross {o} {r['report']['accuracy']:.3f}" for o, r in rec["cross"].items())
              + f" best epoch {rec['best_epoch']} ({rec['train_seconds']:.0f} s)", flush=True)
    return records


def run_benchmark(data: dict, config: TrainConfig, *, seeds=(0, 1, 2), out: str | Path, verbose: int = 0,
                  strategy=None) -> list[dict]:
    """FER2013 official splits (Section 4.1, the paper's TFD check), one run per seed
    (``strategy``: as in :func:`train_fold`)."""
    dist = _distributed(strategy)
    classes = [str(c) for c in data["classes"]]
    parts = official_split(data["split"])
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for seed in seeds:
        done = folder / f"seed{seed}.json"
        if done.exists() and (folder / f"seed{seed}.weights.h5").exists():  # finished: read back (resume)
            records.append(json.loads(done.read_text()))
            continue
        t0 = time.perf_counter()
        model, rec = train_fold(data["x"], data["y"], parts, config, len(classes), seed=seed, verbose=verbose,
                                strategy=strategy)
        rec["train_seconds"] = time.perf_counter() - t0
        rec.update(corpus="fer2013", classes=classes)
        rec["test"] = test_report(model, data["x"][parts["test"]], data["y"][parts["test"]], classes, distributed=dist)
        rec["valid"] = test_report(model, data["x"][parts["valid"]], data["y"][parts["valid"]], classes,
                                   distributed=dist)
        for r in (rec["test"], rec["valid"]):
            r.pop("pred")
        model.save_weights(folder / f"seed{seed}.weights.h5")
        write_json_atomic(folder / f"seed{seed}.json", rec, indent=None)
        records.append(rec)
        print(f"fer2013 seed {seed}: PrivateTest acc {rec['test']['report']['accuracy']:.4f} "
              f"best epoch {rec['best_epoch']} ({rec['train_seconds']:.0f} s)", flush=True)
    return records
