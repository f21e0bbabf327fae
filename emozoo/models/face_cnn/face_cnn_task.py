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
JAX backend (``KERAS_BACKEND=jax`` on a GPU machine without TensorFlow).
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


def _step_curve_callback(every: int, xv, yv):
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
                pv = np.asarray(self.model.predict(xv, batch_size=256, verbose=0)).argmax(-1)
                self.points.append({"step": self.step, "train_error": 1.0 - window,
                                    "val_error": float((pv != yv).mean())})
                self._mark = (self._seen, self._acc)

    return StepCurve()


def train_fold(x, y, parts: dict, config: TrainConfig, num_classes: int, *, seed: int = 0, verbose: int = 0):
    """Train one model on ``x[parts["train"]]``, select the epoch on ``parts["valid"]``.

    Returns ``(model, record)``: the model with the selected weights and a dict with the
    per-epoch ``history`` (``train_error``, ``val_error``, ``train_loss``, ``val_loss``),
    ``best_epoch``, ``epoch_seconds`` and the model config.
    """
    import keras

    for part in ("train", "valid"):
        if len(parts.get(part, ())) == 0:
            raise ExperimentError(f"the fold has no {part} rows")
    keras.utils.set_random_seed(int(seed))
    mcfg = config.model_config(num_classes)
    model = build_face_cnn(**mcfg)
    steps = int(np.ceil(len(parts["train"]) / config.batch_size))
    model.compile(optimizer=sgd_exponential(config.learning_rate, steps, config.decay_rate, config.momentum),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    xt, yt = x[parts["train"]].astype("float32"), y[parts["train"]]
    xv, yv = x[parts["valid"]].astype("float32"), y[parts["valid"]]
    best = _best_weights_callback()
    callbacks = [best]
    if config.eval_every_steps:
        sub = np.sort(np.random.default_rng(0).permutation(len(yv))[:config.eval_subset])   # fixed random subset
        curve = _step_curve_callback(config.eval_every_steps, xv[sub], yv[sub])
        callbacks.append(curve)
    hist = model.fit(xt, yt, validation_data=(xv, yv), epochs=config.epochs, batch_size=config.batch_size,
                     shuffle=True, callbacks=callbacks, verbose=verbose)
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


def test_report(model, x, y, classes, batch_size: int = 256) -> dict:
    """Probabilities, confusion matrix and the classification report of ``model`` on ``(x, y)``."""
    probs = np.asarray(model.predict(x.astype("float32"), batch_size=batch_size, verbose=0))
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
                fractions=(0.6, 0.2, 0.2), verbose: int = 0) -> list[dict]:
    """Section 4.1.1 on ``stores[corpus]``: ``n_splits`` subject-disjoint allocations (seed = split).

    Each split's model is tested on its own test subjects and on every image of each other
    corpus in ``stores`` (cross-culture). Writes ``split{k}.weights.h5`` and ``split{k}.json`` to
    ``out/<corpus>/`` and returns the records.
    """
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
        model, rec = train_fold(data["x"], data["y"], parts, config, len(classes), seed=k, verbose=verbose)
        rec["train_seconds"] = time.perf_counter() - t0
        rec.update(corpus=corpus, split=k, classes=classes,
                   parts={p: [int(i) for i in v] for p, v in parts.items()},
                   test_subjects=sorted(set(str(s) for s in data["subject"][parts["test"]])))
        rec["test"] = test_report(model, data["x"][parts["test"]], data["y"][parts["test"]], classes)
        rec["cross"] = {}
        for other, od in stores.items():
            if other == corpus:
                continue
            if [str(c) for c in od["classes"]] != classes:
                raise ExperimentError(f"{corpus} and {other} have different classes; cross-culture tests need the same")
            rec["cross"][other] = test_report(model, od["x"], od["y"], classes)
        model.save_weights(folder / f"split{k}.weights.h5")
        write_json_atomic(folder / f"split{k}.json", rec, indent=None)
        records.append(rec)
        print(f"{corpus} split {k}: test acc {rec['test']['report']['accuracy']:.3f} "
              + " ".join(f"cross {o} {r['report']['accuracy']:.3f}" for o, r in rec["cross"].items())
              + f" best epoch {rec['best_epoch']} ({rec['train_seconds']:.0f} s)", flush=True)
    return records


def run_benchmark(data: dict, config: TrainConfig, *, seeds=(0, 1, 2), out: str | Path, verbose: int = 0) -> list[dict]:
    """FER2013 official splits (Section 4.1, the paper's TFD check), one run per seed."""
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
        model, rec = train_fold(data["x"], data["y"], parts, config, len(classes), seed=seed, verbose=verbose)
        rec["train_seconds"] = time.perf_counter() - t0
        rec.update(corpus="fer2013", classes=classes)
        rec["test"] = test_report(model, data["x"][parts["test"]], data["y"][parts["test"]], classes)
        rec["valid"] = test_report(model, data["x"][parts["valid"]], data["y"][parts["valid"]], classes)
        for r in (rec["test"], rec["valid"]):
            r.pop("pred")
        model.save_weights(folder / f"seed{seed}.weights.h5")
        write_json_atomic(folder / f"seed{seed}.json", rec, indent=None)
        records.append(rec)
        print(f"fer2013 seed {seed}: PrivateTest acc {rec['test']['report']['accuracy']:.4f} "
              f"best epoch {rec['best_epoch']} ({rec['train_seconds']:.0f} s)", flush=True)
    return records
