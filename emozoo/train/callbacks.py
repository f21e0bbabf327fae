"""Callbacks: model selection on validation UAR with early stopping (resumable), a validation
confusion-matrix image, and a fault-injection hook used by the resume test."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf


def predict_logits(model, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Logits of ``model`` on ``x`` computed eagerly in chunks, outside any strategy (no collectives)."""
    out = []
    n = len(tf.nest.flatten(x)[0])   # x: an array or a dict of arrays (model inputs)
    for i in range(0, n, batch_size):
        chunk = tf.nest.map_structure(lambda a: tf.constant(a[i:i + batch_size]), x)
        out.append(keras.ops.convert_to_numpy(model(chunk, training=False)))
    return np.concatenate(out) if out else np.zeros((0, getattr(model, "num_classes", 0)), np.float32)


class ModelSelection(keras.callbacks.Callback):
    """Keep the weights of the best epoch by ``monitor`` (validation UAR) and stop early.

    Unlike ``ModelCheckpoint`` + ``EarlyStopping``, the best value, its epoch and the patience
    counter are stored beside the weights, so a run resumed by ``BackupAndRestore`` keeps
    selecting against the true best instead of starting over.

    Args:
        directory: where ``best.weights.h5`` and ``selection.json`` go.
        monitor: log key to maximise (``val_uar``); when absent from the logs (no validation
            set) the last epoch is kept.
        tie_break: log key to minimise among epochs with an equal ``monitor`` value
            (``val_loss``): UAR on a small validation speaker moves in coarse steps and often
            plateaus while the loss still improves; such an epoch counts as an improvement.
        patience: epochs without improvement before stopping (0 = never stop).
        min_epochs: never stop before this many epochs.
        write: False on non-chief workers (they compute but do not write).
    """

    def __init__(self, directory, monitor: str = "val_uar", patience: int = 10, min_epochs: int = 0,
                 write: bool = True, tie_break: str = "val_loss"):
        super().__init__()
        self.directory = Path(directory)
        self.monitor = monitor
        self.patience = int(patience)
        self.min_epochs = int(min_epochs)
        self.write = write
        self.tie_break = tie_break
        self.state = {"best": -math.inf, "best_tie": math.inf, "best_epoch": -1, "wait": 0, "epochs": [],
                      "starts": []}

    @property
    def weights_path(self) -> Path:
        return self.directory / "best.weights.h5"

    @property
    def state_path(self) -> Path:
        return self.directory / "selection.json"

    def on_train_begin(self, logs=None):
        if self.state_path.exists():
            self.state = json.loads(self.state_path.read_text())
        self.state["starts"].append(int(getattr(self.model, "_initial_epoch", 0) or 0))

    def _save(self):
        if not self.write:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.state, indent=1))
        os.replace(tmp, self.state_path)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        value = logs.get(self.monitor)
        value = float(value) if value is not None else None
        self.state["epochs"].append({"epoch": epoch, **{k: float(v) for k, v in logs.items()
                                                       if isinstance(v, (int, float, np.floating))}})
        tie = logs.get(self.tie_break)
        tie = float(tie) if tie is not None else math.inf
        improved = (value is None or value > self.state["best"] + 1e-9
                    or (abs(value - self.state["best"]) <= 1e-9 and tie < self.state.get("best_tie", math.inf)))
        if improved:
            self.state["best"] = value if value is not None else self.state["best"]
            self.state["best_tie"] = tie
            self.state["best_epoch"] = epoch
            self.state["wait"] = 0
            if self.write:
                self.directory.mkdir(parents=True, exist_ok=True)
                tmp = self.directory / "best.tmp.weights.h5"
                self.model.save_weights(tmp)
                os.replace(tmp, self.weights_path)
        else:
            self.state["wait"] += 1
        self._save()
        if (self.patience and value is not None and self.state["wait"] >= self.patience
                and epoch + 1 >= self.min_epochs):
            self.model.stop_training = True


class ConfusionImage(keras.callbacks.Callback):
    """Write the validation confusion matrix as an image to TensorBoard every ``every`` epochs."""

    def __init__(self, log_dir, x, y, classes, every: int = 5):
        super().__init__()
        self.writer = tf.summary.create_file_writer(str(Path(log_dir) / "validation"))
        self.x, self.y, self.classes, self.every = x, y, list(classes), max(1, int(every))

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0:
            write_confusion_image(self.writer, "confusion_matrix", self.y,
                                  predict_logits(self.model, self.x).argmax(-1), self.classes, epoch)

    def on_train_end(self, logs=None):
        self.writer.flush()


def write_confusion_image(writer, tag, y_true, y_pred, classes, step, title=""):
    from emozoo.evaluation.metrics import confusion_matrix
    from emozoo.evaluation.report import confusion_png

    png = confusion_png(confusion_matrix(y_true, y_pred, len(classes)), classes, title or f"{tag} step {step}")
    with writer.as_default():
        tf.summary.image(tag, tf.image.decode_png(png, channels=4)[None], step=step)
    writer.flush()


class FaultInjection(keras.callbacks.Callback):
    """Test hook: kill the process (``os._exit``, no cleanup, like SIGKILL) after N training steps.

    Enabled only by the environment variable ``EMOZOO_FAULT_AFTER_STEPS``; used by the resume
    test to crash training mid-epoch.
    """

    ENV = "EMOZOO_FAULT_AFTER_STEPS"

    def __init__(self, steps: int):
        super().__init__()
        self.steps = int(steps)
        self.seen = 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen >= self.steps:
            print(f"[fault injection] killing the process after {self.seen} steps (epoch batch {batch})",
                  flush=True)
            os._exit(17)
