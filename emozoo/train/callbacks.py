"""Callbacks: model selection on validation UAR with early stopping (resumable), an exact
backup/restore of the training state, a validation confusion-matrix image, and the
fault-injection hooks used by the resume test."""
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
            ``""``: no tie-break, the first epoch of equal ``monitor`` values is kept (the SSGAN's
            rule, :func:`emozoo.models.ssgan.ssgan_task.fit_selected`).
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
        self.resume_at: int | None = None   # set by the trainer: the epoch the backup resumes at
        self._begun = False

    def should_stop(self) -> bool:
        """Whether the recorded epochs already meet the early-stopping rule (a resumed run that was
        killed after its last epoch must not train on)."""
        epochs = self.state["epochs"]
        if not (self.patience and epochs and epochs[-1].get(self.monitor) is not None):
            return False
        return self.state["wait"] >= self.patience and epochs[-1]["epoch"] + 1 >= self.min_epochs

    @property
    def weights_path(self) -> Path:
        return self.directory / "best.weights.h5"

    @property
    def state_path(self) -> Path:
        return self.directory / "selection.json"

    def on_train_begin(self, logs=None):
        if self._begun:            # a resumed partial epoch and the rest run as two fits: one start
            return
        self._begun = True
        if self.state_path.exists():
            self.state = json.loads(self.state_path.read_text())
        start = self.resume_at if self.resume_at is not None else int(getattr(self.model, "_initial_epoch", 0) or 0)
        if self.resume_at is not None:
            # records of epochs the backup does not hold (a kill after this file was written, before the
            # backup of that epoch) are dropped and the selection state is replayed from the rest: the
            # resumed run trains those epochs again and records them as the uninterrupted run did
            self.state["epochs"] = [e for e in self.state["epochs"] if e["epoch"] < start]
            self._replay()
        self.state["starts"].append(start)

    def _improves(self, value, tie) -> bool:
        return (value is None or value > self.state["best"] + 1e-9
                or (abs(value - self.state["best"]) <= 1e-9 and tie < self.state.get("best_tie", math.inf)))

    def _replay(self) -> None:
        self.state.update(best=-math.inf, best_tie=math.inf, best_epoch=-1, wait=0)
        for rec in self.state["epochs"]:
            value = rec.get(self.monitor)
            tie = rec.get(self.tie_break, math.inf)
            if self._improves(value, tie):
                self.state.update(best=value if value is not None else self.state["best"], best_tie=tie,
                                  best_epoch=rec["epoch"], wait=0)
            else:
                self.state["wait"] += 1

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
        if self._improves(value, tie):
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
        if self.should_stop():
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


def _seed_generators(model) -> list:
    """Every ``keras.random.SeedGenerator`` of ``model`` (dropout, noise layers ...), in layer order."""
    out, seen = [], set()
    for layer in model._flatten_layers(include_self=True, recursive=True):
        for sg in getattr(layer, "_seed_generators", ()):
            if id(sg) not in seen:
                seen.add(id(sg))
                out.append(sg)
    return out


def _metric_variables(model) -> list:
    return [v for m in model.metrics for v in m.variables]


def epoch_seed_state(seed: int, epoch: int, index: int) -> np.ndarray:
    """The state every seed generator of the model starts epoch ``epoch`` with: a function of the
    run's seed, the epoch and the generator's position only (not of the steps run before)."""
    s = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(epoch), int(index)]).generate_state(1, np.uint32)[0]
    return np.asarray([int(s) & 0x7FFFFFFF, 0])


def read_backup(backup_dir) -> dict | None:
    """The committed backup of ``backup_dir`` (``training_metadata.json`` naming its weights file),
    or None. Raises ``OSError``/``ValueError`` on a broken one (see the trainer's set-aside)."""
    meta = Path(backup_dir) / "training_metadata.json"
    if not meta.exists():
        return None
    m = json.loads(meta.read_text())
    m["epoch"], m["step"] = int(m["epoch"]), int(m.get("step", 0))
    if "weights" not in m:
        raise ValueError(f"{meta} names no weights file (written by keras.callbacks.BackupAndRestore?)")
    if not (Path(backup_dir) / m["weights"]).exists():
        raise OSError(f"{meta} names {m['weights']}, which is missing")
    return m


class ExactBackup(keras.callbacks.Callback):
    """Back up and restore the whole training state, so a resumed run equals the uninterrupted one.

    ``keras.callbacks.BackupAndRestore`` restores weights, optimizer and epoch, but (Keras 3.15)
    restarts an epoch backed up mid-way from its first batch (the steps before the backup are
    applied twice), writes its weights and metadata non-atomically, and leaves dropout's seed
    generators where the new process starts them. This callback:

    * reseeds every seed generator at the start of each epoch from ``(seed, epoch)``
      (:func:`epoch_seed_state`), so dropout masks do not depend on how many steps ran before;
    * writes ``step-<n>.weights.h5`` (weights + optimizer state) under a temporary name, then
      commits ``training_metadata.json`` (epoch, step within the epoch, the weights file, the seed
      generator states and the metric accumulators at that step) with an atomic rename; a kill at
      any instant leaves the previous or the new backup, never a mix;
    * restores a mid-epoch backup with the seed generator states and metric accumulators of that
      step (the trainer feeds the remaining batches of the epoch, see ``train_fold``), so the
      epoch's logs cover the whole epoch.

    It must come after :class:`ModelSelection` in the callback list, so that an epoch a backup
    marks as done is always recorded in ``selection.json``.

    Args:
        backup_dir: folder of the backup (removed by the trainer when the fold ends).
        seed: the run's seed (dropout streams derive from it).
        every_steps: also back up every N steps inside an epoch (0: at epoch ends only).
        steps_per_epoch: steps of a full epoch (no mid-epoch backup after its last step).
        write: False on non-chief workers.

    Example::

        backup = ExactBackup("runs/x/backup", seed=0)
        state = read_backup("runs/x/backup")
        if state: backup.restore(model, state)
        model.fit(ds, epochs=10, initial_epoch=state["epoch"] if state else 0, callbacks=[backup])
    """

    def __init__(self, backup_dir, seed: int, every_steps: int = 0, steps_per_epoch: int = 0, write: bool = True):
        super().__init__()
        self.backup_dir = Path(backup_dir)
        self.seed = int(seed)
        self.every_steps = int(every_steps or 0)
        self.steps_per_epoch = int(steps_per_epoch or 0)
        self.write = write
        self._pending = None       # mid-epoch state to restore at the next on_epoch_begin
        self._epoch = 0
        self._step = 0             # steps done in the current epoch

    def restore(self, model, state: dict) -> None:
        """Load the weights + optimizer state of ``state`` (from :func:`read_backup`) into ``model``."""
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        model.load_weights(self.backup_dir / state["weights"])
        self._pending = state if state["step"] else None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._step = epoch, 0
        gens = _seed_generators(self.model)
        pending = self._pending if self._pending is not None and self._pending["epoch"] == epoch else None
        for i, sg in enumerate(gens):
            sg.state.assign(np.asarray(pending["seed_states"][i]) if pending else epoch_seed_state(self.seed, epoch, i))
        if pending:
            for v, value in zip(_metric_variables(self.model), pending["metrics"]):
                v.assign(np.asarray(value, dtype=v.dtype))
            self._step = pending["step"]
            self._pending = None

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if (self.every_steps and self._step % self.every_steps == 0
                and (not self.steps_per_epoch or self._step < self.steps_per_epoch)):
            self.save(self._epoch, self._step)

    def on_epoch_end(self, epoch, logs=None):
        self.save(epoch + 1, 0)

    def save(self, epoch: int, step: int) -> None:
        if not self.write:
            return
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        name = f"step-{int(self.model.optimizer.iterations.numpy()) if self.model.optimizer else epoch}.weights.h5"
        tmp = self.backup_dir / f"tmp-{name}"
        self.model.save_weights(tmp)
        os.replace(tmp, self.backup_dir / name)
        meta = {"epoch": int(epoch), "step": int(step), "weights": name,
                "seed_states": [keras.ops.convert_to_numpy(sg.state).tolist() for sg in _seed_generators(self.model)],
                "metrics": [keras.ops.convert_to_numpy(v).tolist() for v in _metric_variables(self.model)]}
        tmp_meta = self.backup_dir / "training_metadata.json.tmp"
        tmp_meta.write_text(json.dumps(meta))
        os.replace(tmp_meta, self.backup_dir / "training_metadata.json")   # the commit
        for old in self.backup_dir.glob("*.weights.h5"):
            if old.name != name:
                old.unlink(missing_ok=True)


class FaultInjection(keras.callbacks.Callback):
    """Test hook: kill the process (``os._exit``, no cleanup, like SIGKILL) at a chosen point.

    Enabled only by environment variables, used by the resume test:

    * ``EMOZOO_FAULT_AFTER_STEPS=N``: after N training steps (mid-epoch);
    * ``EMOZOO_FAULT_AFTER_BACKUP=E``: at the end of epoch E, just after its backup is committed;
    * ``EMOZOO_FAULT_BEFORE_BACKUP=E``: at the end of epoch E, after ``selection.json`` recorded
      it but before its backup is written.
    """

    ENV = "EMOZOO_FAULT_AFTER_STEPS"
    ENV_AFTER_BACKUP = "EMOZOO_FAULT_AFTER_BACKUP"
    ENV_BEFORE_BACKUP = "EMOZOO_FAULT_BEFORE_BACKUP"

    def __init__(self, steps: int = 0, at_epoch_end: int | None = None):
        super().__init__()
        self.steps = int(steps)
        self.at_epoch_end = at_epoch_end
        self.seen = 0

    @classmethod
    def from_env(cls) -> tuple:
        """(injection placed before the backup or None, injection placed after it or None)."""
        env = os.environ
        before = cls(at_epoch_end=int(env[cls.ENV_BEFORE_BACKUP])) if env.get(cls.ENV_BEFORE_BACKUP) else None
        after = None
        if env.get(cls.ENV_AFTER_BACKUP) or env.get(cls.ENV):
            after = cls(steps=int(env.get(cls.ENV) or 0),
                        at_epoch_end=int(env[cls.ENV_AFTER_BACKUP]) if env.get(cls.ENV_AFTER_BACKUP) else None)
        return before, after

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.steps and self.seen >= self.steps:
            print(f"[fault injection] killing the process after {self.seen} steps (epoch batch {batch})",
                  flush=True)
            os._exit(17)

    def on_epoch_end(self, epoch, logs=None):
        if self.at_epoch_end is not None and epoch == self.at_epoch_end:
            print(f"[fault injection] killing the process at the end of epoch {epoch}", flush=True)
            os._exit(17)
