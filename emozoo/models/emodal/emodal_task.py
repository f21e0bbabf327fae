"""Table 1 / Table 2 of EMODal on feature stores: the folds of a registered experiment, trained lean.

:func:`run_experiment_table` takes a registered ``emodal/...`` experiment, builds its folds with
the trainer's own :func:`emozoo.train.data.make_folds` (same protocol, same actor groups as
``python -m emozoo.train --experiment ...``), and for every seed and fold builds
:class:`EMODalModel`, fits the z-normalisation on the training actors, trains with Adam
(``fit`` with ``steps_per_execution`` = one epoch, early stopping on validation UAR with the
best weights restored) and scores the test actors. Predictions are pooled over the folds per
seed (``emozoo.evaluation.metrics.classification_report``), then summarised over seeds (mean +-
std). It does the same work as the generic trainer without its per-epoch checkpoints, TensorBoard
files and projector, which is what makes 5 seeds x 6 folds x 8 experiments fit on two CPU cores;
``python -m emozoo.train`` remains the way to get TensorBoard logs of one experiment.
"""
from __future__ import annotations

import time

import keras
import numpy as np
import tensorflow as tf

from emozoo.errors import ExperimentError
from emozoo.evaluation.metrics import SCALARS, classification_report, summarise_runs
from emozoo.models import build_model


def train_fold(cfg, fold, classes, seed: int, fold_index: int = 0, *, verbose: int = 0):
    """Train one fold of ``cfg``; returns ``(model, history dict, best_epoch)``."""
    tr = cfg.trainer
    keras.utils.set_random_seed(seed * 1009 + fold_index)
    model = build_model(cfg.model.name, num_classes=len(classes), input_dim=fold.train.x.shape[1],
                        **cfg.model.params)
    model.prepare_fold(fold)
    steps = -(-len(fold.train) // tr.batch_size)
    model.compile(optimizer=keras.optimizers.Adam(cfg.optimizer.learning_rate), steps_per_execution=steps)
    rng = np.random.default_rng(seed * 7919 + fold_index)
    x, y = fold.train.x.astype(np.float32), fold.train.y.astype(np.int32)
    perms = np.concatenate([rng.permutation(len(y)) for _ in range(tr.epochs)])
    # one epoch = the permutation of that epoch (the last batch of an epoch may be short)
    per_epoch = [tf.data.Dataset.from_tensor_slices((x[p], y[p])).batch(tr.batch_size)
                 for p in np.split(perms, tr.epochs)]
    ds = per_epoch[0]
    for d in per_epoch[1:]:
        ds = ds.concatenate(d)
    callbacks, val = [], None
    if fold.valid is not None and len(fold.valid):
        val = (fold.valid.x.astype(np.float32), fold.valid.y.astype(np.int32))
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_uar", mode="max", patience=tr.patience or tr.epochs,
                                                       restore_best_weights=True, start_from_epoch=tr.min_epochs))
    hist = model.fit(ds.prefetch(2), epochs=tr.epochs, steps_per_epoch=steps, validation_data=val,
                     validation_batch_size=512, callbacks=callbacks, verbose=verbose, shuffle=False)
    h = hist.history
    best = int(np.argmax(h["val_uar"])) + 1 if "val_uar" in h else len(h["loss"])
    return model, h, best


def run_experiment_table(cfg, *, seeds: int, root=".", log=print) -> dict:
    """All seeds and folds of ``cfg``: per-seed pooled test reports and their summary."""
    from emozoo.train.data import make_folds

    if cfg.model.name != "emodal":
        raise ExperimentError(f"{cfg.name} is not an emodal experiment")
    folds, classes = make_folds(cfg.data, root=root)
    per_seed = []
    for s in range(seeds):
        seed = cfg.trainer.seed + s
        t0 = time.time()
        y_true, y_pred, fold_rows = [], [], []
        for i, fold in enumerate(folds):
            model, h, best = train_fold(cfg, fold, classes, seed, i)
            prob = model.predict_proba(fold.test.x.astype(np.float32))
            pred = prob.argmax(-1)
            y_true.append(fold.test.y)
            y_pred.append(pred)
            rep = classification_report(fold.test.y, pred, classes)
            fold_rows.append({"fold": fold.name, "best_epoch": best, "epochs_run": len(h["loss"]),
                              "test_actors": sorted(set(fold.test.meta["speaker"].tolist())),
                              **{k: rep[k] for k in SCALARS},
                              "final_train": {k: round(float(v[best - 1]), 4) for k, v in h.items()
                                              if not k.startswith("val_") and k in ("loss", "common_loss",
                                                                                     "hgr_score", "classify_loss",
                                                                                     "audio_specific_loss",
                                                                                     "visual_specific_loss")}})
            keras.backend.clear_session()
        pooled = classification_report(np.concatenate(y_true), np.concatenate(y_pred), classes)
        per_seed.append({"seed": seed, "test": pooled, "folds": fold_rows, "seconds": round(time.time() - t0, 1)})
        log(f"  {cfg.name} seed {seed}: ACC {100 * pooled['accuracy']:.2f} UAR {100 * pooled['uar']:.2f} "
            f"F1 {100 * pooled['macro_f1']:.2f} [{time.time() - t0:.0f}s]")
    return {"experiment": cfg.name, "classes": list(classes), "folds": [f.name for f in folds],
            "sizes": [f.sizes for f in folds], "per_seed": per_seed,
            "summary": summarise_runs([p["test"] for p in per_seed]),
            "confusion_sum": np.sum([p["test"]["confusion_matrix"] for p in per_seed], axis=0).tolist()}
