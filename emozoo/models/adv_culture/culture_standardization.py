"""Culture-specific z-normalisation (Liang et al. 2019, sec. 3.1) whose statistics are model weights."""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from emozoo.errors import SchemaError


@keras.saving.register_keras_serializable(package="emozoo")
class CultureStandardization(keras.layers.Layer):
    """``(x - mean[c]) / std[c]`` with one row of statistics per culture ``c``.

    "We apply culture-specific z-normalization on each dimension of the feature to reduce
    culture discrepancy in data pre-processing" (sec. 3.1). Row ``c`` is fitted on the training
    examples of culture ``c`` only (for the unlabelled target culture of the cross-culture setting:
    its unlabelled training features); an extra last row holds the statistics of all training
    examples pooled, used for examples whose culture is unknown (index ``-1``, or a call without
    a culture). The statistics are non-trainable weights, so checkpoints and the exported
    SavedModel carry them and the serving signatures take raw features.

    Args:
        num_cultures: number of cultures (rows ``0 .. num_cultures-1``; row ``num_cultures`` is
            the pooled fallback).
        epsilon: floor of the standard deviation (constant dimensions are divided by 1).

    Example::

        layer = CultureStandardization(num_cultures=2)
        layer.build((None, 3))
        layer.fit(np.random.rand(100, 3), np.repeat([0, 1], 50))
        z = layer(np.random.rand(4, 3).astype("float32"), culture=np.array([0, 1, -1, 0]))
    """

    def __init__(self, num_cultures: int, epsilon: float = 1e-6, **kwargs):
        super().__init__(**kwargs)
        if int(num_cultures) < 1:
            raise SchemaError(f"num_cultures must be >= 1, got {num_cultures}")
        self.num_cultures = int(num_cultures)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        dim = int(input_shape[-1])
        rows = self.num_cultures + 1
        self.mean = self.add_weight(shape=(rows, dim), initializer="zeros", trainable=False, name="mean")
        self.std = self.add_weight(shape=(rows, dim), initializer="ones", trainable=False, name="std")

    def _stats(self, x):
        x = np.asarray(x, np.float64)
        std = x.std(axis=0)
        return x.mean(axis=0), np.where(std < self.epsilon, 1.0, std)

    def fit(self, x, culture=None) -> None:
        """Fit row ``c`` on ``x[culture == c]`` and the pooled row on all of ``x`` (numpy ``[N, dim]``).

        Without ``culture`` every row gets the pooled statistics (one global z-normalisation, as
        the baseline). A culture with fewer than 2 examples keeps the pooled statistics; if *no*
        culture has 2 examples (nothing culture-specific could be fitted) a
        :class:`~emozoo.errors.SchemaError` is raised.
        """
        x = np.asarray(x, np.float32)
        if x.ndim != 2 or x.shape[1] != int(self.mean.shape[1]):
            raise SchemaError(f"fit expects features [N, {int(self.mean.shape[1])}], got {x.shape}")
        if not len(x):
            raise SchemaError("fit got no example: fit the normalisation on the training features")
        pm, ps = self._stats(x)
        mean = np.tile(pm, (self.num_cultures + 1, 1))
        std = np.tile(ps, (self.num_cultures + 1, 1))
        if culture is not None:
            culture = np.asarray(culture).reshape(-1)
            if culture.shape[0] != x.shape[0]:
                raise SchemaError(f"{x.shape[0]} feature rows but {culture.shape[0]} culture indices")
            bad = culture[(culture < 0) | (culture >= self.num_cultures)]
            if bad.size:
                raise SchemaError(f"culture indices must lie in [0, {self.num_cultures}); got {np.unique(bad)[:5]}")
            fitted = []
            for c in range(self.num_cultures):
                sel = culture == c
                if sel.sum() >= 2:
                    mean[c], std[c] = self._stats(x[sel])
                    fitted.append(c)
            if not fitted:
                raise SchemaError(f"no culture has the 2 examples a culture-specific normalisation needs "
                                  f"(counts {np.bincount(culture.astype(int), minlength=self.num_cultures).tolist()})")
        self.mean.assign(mean.astype("float32"))
        self.std.assign(std.astype("float32"))

    def call(self, x, culture=None):
        x = tf.cast(x, tf.float32)
        if culture is None:
            return (x - self.mean[-1]) / self.std[-1]
        c = tf.reshape(tf.cast(culture, tf.int32), (-1,))
        c = tf.where((c < 0) | (c >= self.num_cultures), self.num_cultures, c)
        return (x - tf.gather(self.mean, c)) / tf.gather(self.std, c)

    def get_config(self):
        return {**super().get_config(), "num_cultures": self.num_cultures, "epsilon": self.epsilon}
