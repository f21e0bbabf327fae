"""AT-Fusion, the attention fusion of modalities of Lian et al. 2019 (sec. 2.2, eq. 1-3)."""
from __future__ import annotations

from typing import Sequence

import keras
import tensorflow as tf

from emozoo.errors import SchemaError


@keras.saving.register_keras_serializable(package="emozoo")
class AttentionFusion(keras.layers.Layer):
    """Attention over modalities.

    Every modality ``m`` is first projected to ``d`` units by its own dense layer (the paper's
    "two fully-connected layers" that equalise the acoustic and lexical dimensions), giving
    ``a_i, t_i in R^d``; then

    * eq. (1): ``u_cat = Concat(a_i, t_i)`` in ``R^{d x M}``;
    * eq. (2): ``alpha_fuse = softmax(w_F^T tanh(W_F u_cat))`` in ``R^{1 x M}``
      (``W_F in R^{d x d}``, ``w_F in R^d``);
    * eq. (3): ``f_i = u_cat alpha_fuse^T`` in ``R^d``.

    Inputs: a list of ``M`` tensors ``[..., D_m]`` (any leading dims, e.g. ``[B, L, D_m]``).
    Output: ``f`` ``[..., d]``; with ``return_attention=True`` also ``alpha`` ``[..., M]``.
    With one modality ``alpha = 1`` and ``f`` is the projection.

    Args:
        units: ``d`` (paper: 100).
        input_dims: ``D_m`` of each modality (checked at call time).
        projection_activation: activation of the per-modality projections (the paper names
            none: linear by default).
    """

    def __init__(self, units: int = 100, input_dims: Sequence[int] = (), projection_activation=None,
                 kernel_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.input_dims = tuple(int(d) for d in input_dims)
        self.projection_activation = projection_activation
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        if not self.input_dims:
            raise SchemaError("AttentionFusion needs input_dims: one feature dimension per modality")
        reg = self.kernel_regularizer
        self.projections = [keras.layers.Dense(self.units, activation=projection_activation, kernel_regularizer=reg,
                                               name=f"{self.name}_proj_{i}") for i in range(len(self.input_dims))]
        self.W_F = keras.layers.Dense(self.units, activation="tanh", use_bias=False, kernel_regularizer=reg,
                                      name=f"{self.name}_W_F")
        self.w_F = keras.layers.Dense(1, use_bias=False, kernel_regularizer=reg, name=f"{self.name}_w_F")

    def build(self, input_shape=None):
        for proj, d in zip(self.projections, self.input_dims):
            proj.build((None, d))
        self.W_F.build((None, self.units))
        self.w_F.build((None, self.units))
        self.built = True

    def call(self, inputs, return_attention: bool = False):
        if not isinstance(inputs, (list, tuple)):
            inputs = [inputs]
        if len(inputs) != len(self.input_dims):
            raise SchemaError(f"AttentionFusion got {len(inputs)} modalities, built for {len(self.input_dims)}")
        proj = []
        for x, p, d in zip(inputs, self.projections, self.input_dims):
            if x.shape[-1] is not None and int(x.shape[-1]) != d:
                raise SchemaError(f"modality of dimension {x.shape[-1]}, AttentionFusion expects {d}")
            proj.append(p(tf.cast(x, self.compute_dtype)))
        u_cat = tf.stack(proj, axis=-2)                          # eq. (1): [..., M, d]
        scores = tf.squeeze(self.w_F(self.W_F(u_cat)), -1)       # eq. (2): w_F^T tanh(W_F u) -> [..., M]
        alpha = tf.nn.softmax(scores, axis=-1)
        f = tf.reduce_sum(u_cat * alpha[..., None], axis=-2)     # eq. (3): u_cat alpha^T -> [..., d]
        return (f, alpha) if return_attention else f

    def compute_output_shape(self, input_shape):
        first = input_shape[0] if isinstance(input_shape, (list, tuple)) and isinstance(input_shape[0], (list, tuple)) \
            else input_shape
        return tuple(first[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "input_dims": list(self.input_dims),
                "projection_activation": self.projection_activation,
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer)
                if self.kernel_regularizer else None}
