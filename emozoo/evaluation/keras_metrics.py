"""A streaming confusion-matrix metric for ``train_step``/``test_step`` under any strategy.

The counts live in one ``K x K`` variable with ``sum`` aggregation, so per-replica updates
are added up when the result is read: UAR and macro-F1 are computed from the global matrix,
not averaged per replica (averaging per-replica UARs would be wrong).
"""
from __future__ import annotations

import keras
from keras import ops


class ConfusionMatrixMetric(keras.metrics.Metric):
    """Accumulates a confusion matrix; ``result()`` gives accuracy, UAR and macro-F1.

    Args:
        num_classes: K.
        prefix: prepended to the result keys (``""`` gives ``accuracy``, ``uar``, ``macro_f1``).
    """

    def __init__(self, num_classes: int, prefix: str = "", name: str = "confusion_matrix", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes = int(num_classes)
        self.prefix = prefix
        self.matrix = self.add_variable(shape=(self.num_classes, self.num_classes), initializer="zeros",
                                        dtype="float32", aggregation="sum", name="matrix")

    def update_state(self, y_true, y_pred, sample_weight=None):
        """``y_pred``: logits/probabilities ``[B, K]``; ``y_true``: int labels ``[B]``."""
        k = self.num_classes
        t = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        p = ops.cast(ops.argmax(y_pred, axis=-1), "int32")
        w = ops.ones_like(t, dtype="float32") if sample_weight is None else ops.cast(
            ops.reshape(sample_weight, (-1,)), "float32")
        flat = ops.bincount(t * k + p, weights=w, minlength=k * k)
        self.matrix.assign_add(ops.reshape(ops.cast(flat[: k * k], "float32"), (k, k)))

    def result(self):
        m = ops.convert_to_tensor(self.matrix)
        diag = ops.diagonal(m)
        true = ops.sum(m, axis=1)
        pred = ops.sum(m, axis=0)
        present = ops.cast(true > 0, "float32")
        n_present = ops.maximum(ops.sum(present), 1.0)
        recall = diag / ops.maximum(true, 1.0)
        precision = diag / ops.maximum(pred, 1.0)
        f1 = 2 * precision * recall / ops.maximum(precision + recall, 1e-12)
        return {
            f"{self.prefix}accuracy": ops.sum(diag) / ops.maximum(ops.sum(m), 1.0),
            f"{self.prefix}uar": ops.sum(recall * present) / n_present,
            f"{self.prefix}macro_f1": ops.sum(f1 * present) / n_present,
        }

    def reset_state(self):
        self.matrix.assign(ops.zeros((self.num_classes, self.num_classes), "float32"))

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "prefix": self.prefix}
