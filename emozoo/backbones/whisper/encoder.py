"""The Whisper audio encoder as Keras 3 layers.

Source: Radford et al., "Robust Speech Recognition via Large-Scale Weak Supervision" (2022),
Figure 1 and section 2.3; openai/whisper ``whisper/model.py`` (``AudioEncoder``,
``ResidualAttentionBlock``). Included: the two-convolution stem (kernel 3, exact GELU, the second
with stride 2), sinusoidal position embeddings, pre-LN transformer blocks (self-attention, then a
4d MLP with exact GELU; the key projection has no bias) and the final layer norm. Left out: the
text decoder.

Unlike Whisper, which always encodes 30 s (3000 frames, 1500 positions), the encoder takes any
length up to 30 s: the position table is sliced to the clip's length (``positions[:T]``).
``docs/backbones.md`` measures how much that changes the features.

Output: every layer's hidden states ``[batch, n_layers + 1, T, d]`` with ``T = ceil(frames / 2)``:
row 0 is the input to block 1 (stem + positions), row ``i`` (1 <= i < n_layers) the output of
block ``i``, and the last row ``n_layers`` the output of the last block *after* the final layer
norm, i.e. the encoder output Whisper's decoder reads. (The last block's output before that norm
is not returned separately; the issue's ``[L + 1, d]`` layout.)

Example:

>>> enc = WhisperEncoder(hidden_dim=64, num_layers=2, num_heads=4)
>>> enc(tf.zeros([1, 100, 80])).shape
TensorShape([1, 3, 50, 64])
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from emozoo.errors import FeatureError

MAX_POSITIONS = 1500
LAYER_NORM_EPSILON = 1e-5  # torch.nn.LayerNorm's default, which Whisper uses


def sinusoids(length: int, channels: int, max_timescale: float = 10000.0) -> np.ndarray:
    """Whisper's position table ``[length, channels]`` (``whisper/model.py::sinusoids``): sin | cos."""
    if channels % 2:
        raise FeatureError(f"sinusoid channels must be even, got {channels}")
    log_inc = np.log(max_timescale) / (channels // 2 - 1)
    inv = np.exp(-log_inc * np.arange(channels // 2))
    scaled = np.arange(length)[:, None] * inv[None, :]
    return np.concatenate([np.sin(scaled), np.cos(scaled)], axis=1).astype(np.float32)


def _gelu(x):
    return keras.activations.gelu(x, approximate=False)


@keras.saving.register_keras_serializable(package="emozoo.whisper")
class WhisperEncoderBlock(keras.layers.Layer):
    """One pre-LN residual attention block: ``x + MHA(LN(x))``, then ``x + MLP(LN(x))`` (exact GELU).

    Args:
        hidden_dim: model width ``d``.
        num_heads: attention heads (``d`` divisible by it).
        intermediate_dim: MLP width (``4 d`` in Whisper).
    """

    def __init__(self, hidden_dim: int, num_heads: int, intermediate_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim, self.num_heads, self.intermediate_dim = int(hidden_dim), int(num_heads), int(intermediate_dim)
        self.attention_norm = keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, name="attention_norm")
        self.attention = keras.layers.MultiHeadAttention(self.num_heads, self.hidden_dim // self.num_heads,
                                                         name="self_attention")
        self.mlp_norm = keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, name="mlp_norm")
        self.mlp_in = keras.layers.Dense(self.intermediate_dim, name="mlp_in")
        self.mlp_out = keras.layers.Dense(self.hidden_dim, name="mlp_out")

    def build(self, input_shape):
        shape = (None, None, self.hidden_dim)
        self.attention_norm.build(shape)
        self.attention.build(shape, shape)
        self.mlp_norm.build(shape)
        self.mlp_in.build(shape)
        self.mlp_out.build((None, None, self.intermediate_dim))
        # Whisper's key projection has no bias: keep Keras' key bias at zero, untrainable.
        self.attention._key_dense.bias.assign(np.zeros(self.attention._key_dense.bias.shape, np.float32))
        self.attention._key_dense.bias.trainable = False
        self.built = True

    def call(self, x):
        h = self.attention_norm(x)
        x = x + self.attention(h, h)
        h = self.mlp_out(_gelu(self.mlp_in(self.mlp_norm(x))))
        return x + h

    def get_config(self):
        return {**super().get_config(), "hidden_dim": self.hidden_dim, "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim}


@keras.saving.register_keras_serializable(package="emozoo.whisper")
class WhisperEncoder(keras.layers.Layer):
    """Whisper's audio encoder: log-Mel ``[batch, frames, n_mels]`` -> hidden states
    ``[batch, num_layers + 1, ceil(frames / 2), hidden_dim]`` (layout in the module docstring).

    Args:
        hidden_dim: model width (512 for base, 384 for tiny).
        num_layers: transformer blocks (6 base, 4 tiny).
        num_heads: attention heads (8 base, 6 tiny).
        intermediate_dim: MLP width; default ``4 * hidden_dim``.
        n_mels: input mel bins (80).
        max_positions: rows of the position table (1500 = 30 s).

    Every clip of a batch has the same number of frames (no attention mask).
    """

    def __init__(self, hidden_dim: int = 512, num_layers: int = 6, num_heads: int = 8,
                 intermediate_dim: int | None = None, n_mels: int = 80, max_positions: int = MAX_POSITIONS,
                 **kwargs):
        super().__init__(**kwargs)
        if hidden_dim % num_heads:
            raise FeatureError(f"hidden_dim {hidden_dim} is not divisible by num_heads {num_heads}")
        self.hidden_dim, self.num_layers, self.num_heads = int(hidden_dim), int(num_layers), int(num_heads)
        self.intermediate_dim = int(intermediate_dim or 4 * hidden_dim)
        self.n_mels, self.max_positions = int(n_mels), int(max_positions)
        self.conv1 = keras.layers.Conv1D(self.hidden_dim, 3, padding="valid", name="conv1")
        self.conv2 = keras.layers.Conv1D(self.hidden_dim, 3, strides=2, padding="valid", name="conv2")
        self.blocks = [WhisperEncoderBlock(self.hidden_dim, self.num_heads, self.intermediate_dim,
                                           name=f"block_{i}") for i in range(self.num_layers)]
        self.final_norm = keras.layers.LayerNormalization(epsilon=LAYER_NORM_EPSILON, name="final_norm")

    def build(self, input_shape):
        self.conv1.build((None, None, self.n_mels))
        self.conv2.build((None, None, self.hidden_dim))
        # Whisper registers the table as a fixed buffer; CTranslate2 stores it as a variable.
        self.positions = self.add_weight(name="positions", shape=(self.max_positions, self.hidden_dim),
                                         initializer=keras.initializers.Constant(
                                             sinusoids(self.max_positions, self.hidden_dim)),
                                         trainable=False)
        for block in self.blocks:
            block.build((None, None, self.hidden_dim))
        self.final_norm.build((None, None, self.hidden_dim))
        self.built = True

    def call(self, features):
        # Stem: PyTorch Conv1d(padding=1) pads one frame on both sides (Keras "same" would not,
        # for stride 2), so pad explicitly.
        x = _gelu(self.conv1(tf.pad(features, [[0, 0], [1, 1], [0, 0]])))
        x = _gelu(self.conv2(tf.pad(x, [[0, 0], [1, 1], [0, 0]])))
        t = tf.shape(x)[1]
        tf.debugging.assert_less_equal(t, self.max_positions,
                                       message=f"Whisper encoder input longer than {self.max_positions} "
                                               "positions (30 s); cut it into windows")
        x = x + tf.cast(self.positions[:t], x.dtype)[None]
        states = [x]
        for i, block in enumerate(self.blocks):
            x = block(x)
            states.append(self.final_norm(x) if i == self.num_layers - 1 else x)
        return tf.stack(states, axis=1)

    def compute_output_shape(self, input_shape):
        n = input_shape[1]
        return (input_shape[0], self.num_layers + 1, None if n is None else (n + 1) // 2, self.hidden_dim)

    def get_config(self):
        return {**super().get_config(), "hidden_dim": self.hidden_dim, "num_layers": self.num_layers,
                "num_heads": self.num_heads, "intermediate_dim": self.intermediate_dim, "n_mels": self.n_mels,
                "max_positions": self.max_positions}
