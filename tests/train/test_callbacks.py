import json

import keras
import numpy as np

from emozoo.train.callbacks import ModelSelection


class _Stub(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1)
        self.build((None, 2))

    def build(self, shape):
        self.dense.build(shape)
        self.built = True

    def call(self, x):
        return self.dense(x)


def _run(cb, logs):
    cb.set_model(_Stub())
    cb.on_train_begin()
    for i, l in enumerate(logs):
        cb.on_epoch_end(i, l)
        if getattr(cb.model, "stop_training", False):
            return i
    return None


def test_selection_ties_broken_by_loss_and_patience(tmp_path):
    cb = ModelSelection(tmp_path, patience=2)
    stopped = _run(cb, [{"val_uar": 0.5, "val_loss": 1.0}, {"val_uar": 0.7, "val_loss": 0.9},
                        {"val_uar": 0.7, "val_loss": 0.8}, {"val_uar": 0.6, "val_loss": 0.7},
                        {"val_uar": 0.7, "val_loss": 0.85}, {"val_uar": 0.9, "val_loss": 0.5}])
    assert cb.state["best_epoch"] == 2 and stopped == 4  # 2 epochs without a better (uar, loss)
    assert (tmp_path / "best.weights.h5").exists()


def test_selection_state_survives_a_restart(tmp_path):
    _run(ModelSelection(tmp_path, patience=0), [{"val_uar": 0.8, "val_loss": 1.0}])
    cb = ModelSelection(tmp_path, patience=0)
    _run(cb, [{"val_uar": 0.6, "val_loss": 0.1}])
    state = json.loads((tmp_path / "selection.json").read_text())
    assert state["best"] == 0.8 and state["best_epoch"] == 0 and len(state["starts"]) == 2
    assert np.isfinite(state["best_tie"])
