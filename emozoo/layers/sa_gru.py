"""SA-GRU, the contextual encoder of Lian et al. 2019 (sec. 2.2, eq. 4): bi-GRU then multi-head
self-attention over the utterances of a conversation."""
from __future__ import annotations

import keras
import tensorflow as tf

from emozoo.errors import SchemaError


@keras.saving.register_keras_serializable(package="emozoo")
class SelfAttentionGRU(keras.layers.Layer):
    """``F [B, L, d_in] -> R [B, L, d]`` with padded utterances masked.

    * bi-GRU (``gru_units`` per direction, paper 50): ``H = [h_1 .. h_L]``, ``H in R^{L x d}``,
      ``d = 2 * gru_units``; the mask makes each direction skip padded utterances;
    * eq. (4): ``head_i = softmax((H W_i^Q)(H W_i^K)^T) (H W_i^V)``, ``W_i^{Q,K,V} in
      R^{d x d/h}``, ``h`` heads (paper 4); padded keys get no attention weight; the heads are
      concatenated into ``R in R^{L x d}`` (no output projection, as in the paper);
    * ``scale=True`` divides the scores by ``sqrt(d/h)`` (Vaswani et al.; not in eq. 4, off by
      default); padded positions of ``R`` are zero.

    Call: ``layer(F, mask=None)`` with ``mask`` ``[B, L]`` (bool, True = a real utterance).
    """

    def __init__(self, gru_units: int = 50, num_heads: int = 4, scale: bool = False, dropout: float = 0.0,
                 kernel_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self.gru_units = int(gru_units)
        self.num_heads = int(num_heads)
        self.scale = bool(scale)
        self.dropout = float(dropout)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.d = 2 * self.gru_units
        if self.d % self.num_heads:
            raise SchemaError(f"SA-GRU: 2 * gru_units = {self.d} must be divisible by num_heads = {self.num_heads}")
        reg = self.kernel_regularizer
        self.bigru = keras.layers.Bidirectional(
            keras.layers.GRU(self.gru_units, return_sequences=True, kernel_regularizer=reg,
                             recurrent_regularizer=reg, dropout=self.dropout), name=f"{self.name}_bigru")
        self.supports_masking = True

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        self.bigru.build(input_shape)
        dh = self.d // self.num_heads
        reg = self.kernel_regularizer
        self.W_Q = self.add_weight(name="W_Q", shape=(self.num_heads, self.d, dh), regularizer=reg,
                                   initializer="glorot_uniform")
        self.W_K = self.add_weight(name="W_K", shape=(self.num_heads, self.d, dh), regularizer=reg,
                                   initializer="glorot_uniform")
        self.W_V = self.add_weight(name="W_V", shape=(self.num_heads, self.d, dh), regularizer=reg,
                                   initializer="glorot_uniform")
        self.built = True

    def call(self, inputs, mask=None, training=None, return_attention=False):
        x = tf.convert_to_tensor(inputs)
        if mask is None:
            mask = tf.ones(tf.shape(x)[:2], tf.bool)
        mask = tf.cast(mask, tf.bool)
        H = self.bigru(x, mask=mask, training=training)                 # [B, L, d]
        H = H * tf.cast(mask, H.dtype)[..., None]
        q = tf.einsum("bld,hde->bhle", H, self.W_Q)
        k = tf.einsum("bld,hde->bhle", H, self.W_K)
        v = tf.einsum("bld,hde->bhle", H, self.W_V)
        scores = tf.einsum("bhqe,bhke->bhqk", q, k)                     # (H W^Q)(H W^K)^T
        if self.scale:
            scores = scores / tf.sqrt(tf.cast(self.d // self.num_heads, scores.dtype))
        key_ok = mask[:, None, None, :]
        scores = tf.where(key_ok, scores, tf.cast(-1e9, scores.dtype))
        att = tf.nn.softmax(scores, axis=-1)                            # eq. (4)
        heads = tf.einsum("bhqk,bhke->bhqe", att, v)                    # [B, h, L, d/h]
        R = tf.reshape(tf.transpose(heads, (0, 2, 1, 3)), tf.concat([tf.shape(H)[:2], [self.d]], 0))
        R = R * tf.cast(mask, R.dtype)[..., None]
        return (R, att) if return_attention else R

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.d,)

    def compute_mask(self, inputs, mask=None):
        return None          # padded positions of R are zero; the model keeps the mask itself

    def get_config(self):
        return {**super().get_config(), "gru_units": self.gru_units, "num_heads": self.num_heads,
                "scale": self.scale, "dropout": self.dropout,
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer)
                if self.kernel_regularizer else None}
