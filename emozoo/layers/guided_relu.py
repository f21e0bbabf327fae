"""Guided backpropagation ReLU (Springenberg, Dosovitskiy, Brox & Riedmiller 2014, "Striving for
simplicity: the all convolutional net", Section 3.4), used by Yousefi et al. (Section 4.2) for
the saliency maps of Figs. 5-6.

Forward: ``f(x) = max(x, 0)`` (a plain ReLU). Backward, for an upstream gradient ``R``:

    R_in = (x > 0) * (R > 0) * R          (guided rule: ReLU mask of the forward pass AND of the
                                           backward signal)

whereas the ordinary gradient is ``(x > 0) * R`` and the "deconvnet" rule ``(R > 0) * R``.
Implemented with :func:`tf.custom_gradient`, so it needs the TensorFlow backend of Keras.

Example:

>>> import tensorflow as tf
>>> x = tf.constant([-1.0, 2.0, 3.0])
>>> with tf.GradientTape() as tape:
...     tape.watch(x)
...     y = tf.reduce_sum(guided_relu(x) * tf.constant([5.0, 1.0, -1.0]))
>>> tape.gradient(y, x).numpy().tolist()
[0.0, 1.0, 0.0]
"""
from __future__ import annotations

import keras
import tensorflow as tf


@tf.custom_gradient
def guided_relu(x):
    """``relu(x)`` whose gradient follows the guided-backpropagation rule ``(x > 0) * (R > 0) * R``."""
    y = tf.nn.relu(x)

    def grad(upstream):
        return upstream * tf.cast(x > 0, upstream.dtype) * tf.cast(upstream > 0, upstream.dtype)

    return y, grad


@keras.saving.register_keras_serializable(package="emozoo")
class GuidedReLU(keras.layers.Layer):
    """A ReLU layer whose backward pass is guided backpropagation (:func:`guided_relu`).

    Drop-in replacement of ``keras.layers.ReLU()`` in a copy of a trained network that is used
    only to compute saliency maps (its forward pass is identical).
    """

    def call(self, inputs):
        return guided_relu(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape
