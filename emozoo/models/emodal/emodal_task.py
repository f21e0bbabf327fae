"""EMODal's lean fold trainer, used by the zoo export (:mod:`emozoo.models.emodal.emodal_zoo`).

The tables (``pipelines/emodal_table.py``, groups ``emodal/table1/{4class,8class}``) run through the
one trainer, :func:`emozoo.train.trainer.run_experiment`, like ``python -m emozoo.train``;
:class:`FoldTrainer` remains only for the zoo model's single training run (compiled epochs, early
stopping on validation UAR with the best weights restored).
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from emozoo.models import build_model


class FoldTrainer:
    """Trains :class:`EMODalModel` folds of one experiment config with compiled (graph) epochs.

    One model and one Adam optimiser are built per config and reused: every fold starts from the
    fresh initial weights of a model built with that fold's seed (copied in), zeroed Adam moments
    and its own normalisation statistics, so the ``tf.function`` of an epoch is traced once for all
    folds and seeds (tracing, not arithmetic, is what costs on small data). An epoch is one pass
    over a fresh permutation of the training fold in mini-batches of ``trainer.batch_size``, each an
    ordinary ``EMODalModel.train_step`` (one Adam update on the combined loss). After every epoch
    the validation actors are scored; the weights of the best validation UAR are kept (early
    stopping after ``trainer.patience`` epochs without improvement, not before ``min_epochs``).
    """

    def __init__(self, cfg, classes, input_dim: int):
        self.cfg, self.classes, self.input_dim = cfg, tuple(classes), int(input_dim)
        self.model = self._build()
        self.model.compile(optimizer=keras.optimizers.Adam(cfg.optimizer.learning_rate))
        self.model.optimizer.build(self.model.trainable_variables)
        model, bs = self.model, int(cfg.trainer.batch_size)
        spec_x = tf.TensorSpec((None, self.input_dim), tf.float32)
        spec_i = tf.TensorSpec((None,), tf.int32)

        @tf.function(input_signature=[spec_x, spec_i, spec_i])
        def epoch(x, y, perm):
            n = tf.shape(perm)[0]
            for i in tf.range((n + bs - 1) // bs):
                idx = perm[i * bs:(i + 1) * bs]
                model.train_step((tf.gather(x, idx), tf.gather(y, idx)))
            return {m.name: m.result() for m in model.metrics[:-1]}

        @tf.function(input_signature=[spec_x])
        def logits(x):
            return model(x, training=False)

        self._epoch, self._logits = epoch, logits

    def _build(self):
        return build_model(self.cfg.model.name, num_classes=len(self.classes), input_dim=self.input_dim,
                           **self.cfg.model.params)

    def _reset(self, seed: int, fold_index: int):
        keras.utils.set_random_seed(seed * 1009 + fold_index)
        fresh = self._build()                                   # this fold's initial weights
        for dst, src in zip(self.model.weights, fresh.weights):
            dst.assign(src)
        opt = self.model.optimizer
        for v in list(opt._momentums) + list(opt._velocities) + [opt.iterations]:
            v.assign(tf.zeros_like(v))
        del fresh

    def predict_proba(self, x) -> np.ndarray:
        return tf.nn.softmax(self._logits(tf.constant(np.asarray(x, np.float32))), -1).numpy()

    def fit(self, fold, seed: int, fold_index: int = 0):
        """Train one fold; returns ``(history dict of per-epoch lists, best epoch (1-based))``."""
        from emozoo.evaluation.metrics import uar

        tr = self.cfg.trainer
        self._reset(seed, fold_index)
        self.model.prepare_fold(fold)                           # normalisation: training actors only
        rng = np.random.default_rng(seed * 7919 + fold_index)
        x = tf.constant(fold.train.x.astype(np.float32))
        y = tf.constant(fold.train.y.astype(np.int32))
        has_val = fold.valid is not None and len(fold.valid)
        hist, best, best_epoch, best_weights, wait = {}, -np.inf, 0, None, 0
        for e in range(tr.epochs):
            self.model.reset_metrics()
            logs = self._epoch(x, y, tf.constant(rng.permutation(len(fold.train)).astype(np.int32)))
            for k, v in logs.items():
                hist.setdefault(k, []).append(float(v))
            if has_val:
                val = float(uar(fold.valid.y, self.predict_proba(fold.valid.x).argmax(-1), len(self.classes)))
                hist.setdefault("val_uar", []).append(val)
                if val > best:
                    best, best_epoch, wait = val, e + 1, 0
                    best_weights = [w.numpy() for w in self.model.weights]
                else:
                    wait += 1
                    if tr.patience and e + 1 >= tr.min_epochs and wait >= tr.patience:
                        break
        if best_weights is not None:
            for w, b in zip(self.model.weights, best_weights):
                w.assign(b)
        else:
            best_epoch = len(hist["loss"])
        return hist, best_epoch
