"""Per-dimension z-normalisation whose statistics are model weights."""
from __future__ import annotations

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="emozoo")
class FeatureStandardization(keras.layers.Layer):
    """``(x - mean) / std`` with ``mean``/``std`` fitted on the training fold only.

    The statistics are non-trainable weights, so checkpoints and the exported SavedModel carry
    them and the exported features signature takes raw (un-normalised) features.
    Dimensions with ``std < epsilon`` (constant in the training fold) are divided by 1.

    Args:
        epsilon: floor of the standard deviation.

    Example::

        layer = FeatureStandardization()
        layer.build((None, 3))
        layer.fit(np.random.rand(100, 3))
    """

    def __init__(self, epsilon: float = 1e-6, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        dim = int(input_shape[-1])
        self.mean = self.add_weight(shape=(dim,), initializer="zeros", trainable=False, name="mean")
        self.std = self.add_weight(shape=(dim,), initializer="ones", trainable=False, name="std")

    def fit(self, x) -> None:
        """Set the statistics from training features ``x`` of shape ``[N, dim]`` (numpy)."""
        x = np.asarray(x, np.float64)
        std = x.std(axis=0)
        std = np.where(std < self.epsilon, 1.0, std)
        self.mean.assign(x.mean(axis=0).astype("float32"))
        self.std.assign(std.astype("float32"))

    def call(self, x):
        return (ops.cast(x, "float32") - self.mean) / self.std

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}
