"""MPNet encoder as Keras 3 layers, and the converter from the ``model.safetensors`` of
sentence-transformers/all-mpnet-base-v2.

Paper: Song, Tan, Qin, Lu, Liu, "MPNet: Masked and Permuted Pre-training for Language
Understanding", NeurIPS 2020 (arXiv:2004.09297); encoder as in Hugging Face
``transformers/models/mpnet/modeling_mpnet.py`` (the runtime the checkpoint was trained and is
served with). Sentence embedding: Reimers & Gurevych, "Sentence-BERT" (EMNLP 2019) with
all-mpnet-base-v2's ``Pooling(mean) -> Normalize`` modules.

What the encoder is (``config.json``: 12 layers, hidden 768, 12 heads, FFN 3072, vocab 30527,
514 positions, 32 relative buckets, LayerNorm eps 1e-5):

* embeddings: word + absolute position, positions numbered like RoBERTa from
  ``padding_idx + 1 = 2`` over the non-``<pad>`` tokens (``create_position_ids_from_input_ids``),
  no token-type embedding, then LayerNorm;
* one relative position bias ``[1, heads, T, T]`` computed once from an ``Embedding(32, heads)``
  over T5-style bidirectional log buckets (``relative_position_bucket``: 16 buckets per
  direction, 8 exact, log-spaced up to ``max_distance=128``) and added to the attention scores of
  every layer (shared, as in HF ``MPNetEncoder.compute_position_bias``);
* 12 post-LN blocks: ``LN(x + O(softmax(QK^T/sqrt(d) + bias + mask) V))``, then
  ``LN(h + W2 gelu_erf(W1 h))``.

Left out: the pooler (``pooler.dense``, CLS + tanh; not part of the sentence embedding), dropout
(inference only), the masked-LM head (not in this checkpoint).

Example:

>>> cfg = load_config(folder)
>>> model = build_encoder(cfg)                      # {input_ids, attention_mask} -> [b, 768]
>>> assign_weights(model, load_weights(folder), cfg)
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from emozoo.errors import FeatureError

PADDING_IDX = 1
MAX_DISTANCE = 128


def load_config(folder) -> dict:
    """Read and check ``config.json`` (the encoder this module implements)."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise FeatureError(f"{path} not found; run: python -m emozoo.weights install mpnet")
    cfg = json.loads(path.read_text(encoding="utf-8"))
    expect = {"model_type": "mpnet", "hidden_act": "gelu", "pad_token_id": PADDING_IDX}
    for k, v in expect.items():
        if cfg.get(k) != v:
            raise FeatureError(f"{path} has {k}={cfg.get(k)!r}; this encoder implements {v!r}")
    if cfg["hidden_size"] % cfg["num_attention_heads"]:
        raise FeatureError(f"hidden_size {cfg['hidden_size']} not divisible by {cfg['num_attention_heads']} heads")
    cfg.setdefault("relative_attention_num_buckets", 32)
    return cfg


class SafetensorsReader(Mapping):
    """Read-only ``name -> numpy array`` view of a ``.safetensors`` file, one tensor read per lookup
    (``safetensors.safe_open``, numpy framework), so that converting never holds the whole file twice."""

    def __init__(self, path):
        from safetensors import safe_open
        self.path = Path(path)
        self._file = safe_open(str(self.path), framework="numpy")
        self._keys = tuple(self._file.keys())

    def __getitem__(self, name):
        if name not in self._keys:
            raise KeyError(name)
        return self._file.get_tensor(name)

    def __iter__(self):
        return iter(self._keys)

    def __len__(self):
        return len(self._keys)


def load_weights(folder) -> Mapping:
    """The tensors of ``model.safetensors`` as a lazy ``name -> numpy array`` mapping (no PyTorch)."""
    path = Path(folder) / "model.safetensors"
    if not path.is_file():
        raise FeatureError(f"{path} not found; run: python -m emozoo.weights install mpnet")
    try:
        return SafetensorsReader(path)
    except Exception as e:  # safetensors raises its own error types
        raise FeatureError(f"cannot read {path}: {e}; reinstall: python -m emozoo.weights install mpnet") from e


def relative_position_bucket(relative_position: np.ndarray, num_buckets: int = 32,
                             max_distance: int = MAX_DISTANCE) -> np.ndarray:
    """Bucket of each ``memory - context`` offset (HF ``MPNetEncoder.relative_position_bucket``).

    Half the buckets per direction (``n = context - memory``: n < 0 -> the upper half); in each half
    offsets below ``num_buckets // 4`` get their own bucket, larger ones share log-spaced buckets
    up to ``max_distance``. float32 arithmetic, as torch does it.
    """
    n = -np.asarray(relative_position, np.int64)
    half = num_buckets // 2
    ret = (n < 0).astype(np.int64) * half
    n = np.abs(n)
    max_exact = half // 2
    is_small = n < max_exact
    with np.errstate(divide="ignore"):
        scaled = (np.log(n.astype(np.float32) / np.float32(max_exact))
                  / np.float32(math.log(max_distance / max_exact)) * np.float32(half - max_exact))
    val_if_large = max_exact + np.where(is_small, 0, scaled).astype(np.int64)
    val_if_large = np.minimum(val_if_large, half - 1)
    return (ret + np.where(is_small, n, val_if_large)).astype(np.int32)


def _keras():
    import keras
    return keras


def _layers():
    keras = _keras()
    ops = keras.ops

    class MPNetEmbeddings(keras.layers.Layer):
        """word + position embeddings (positions from ``padding_idx + 1`` over non-pad tokens), LayerNorm."""

        def __init__(self, vocab_size, hidden, max_positions, eps, padding_idx=PADDING_IDX, **kw):
            super().__init__(**kw)
            self.padding_idx = padding_idx
            self.word = keras.layers.Embedding(vocab_size, hidden, name="word_embeddings")
            self.position = keras.layers.Embedding(max_positions, hidden, name="position_embeddings")
            self.norm = keras.layers.LayerNormalization(epsilon=eps, name="LayerNorm")

        def call(self, input_ids):
            # create_position_ids_from_input_ids: cumsum(mask) * mask + padding_idx
            not_pad = ops.cast(ops.not_equal(input_ids, self.padding_idx), "int32")
            positions = ops.cumsum(not_pad, axis=1) * not_pad + self.padding_idx
            return self.norm(self.word(input_ids) + self.position(positions))

    class RelativePositionBias(keras.layers.Layer):
        """``[1, heads, T, T]`` attention bias from bucketed relative offsets (shared by all layers)."""

        def __init__(self, num_buckets, heads, max_positions, max_distance=MAX_DISTANCE, **kw):
            super().__init__(**kw)
            self.num_buckets, self.heads, self.max_positions = num_buckets, heads, max_positions
            self.max_distance = max_distance
            self.bias = keras.layers.Embedding(num_buckets, heads, name="relative_attention_bias")
            offsets = np.arange(-(max_positions - 1), max_positions)
            # bucket of offset d = memory - context, stored at index d + max_positions - 1
            self._buckets = relative_position_bucket(offsets, num_buckets, max_distance)

        def call(self, hidden):
            t = ops.shape(hidden)[1]
            pos = ops.arange(t, dtype="int32")
            offset = pos[None, :] - pos[:, None] + (self.max_positions - 1)  # memory - context
            buckets = ops.take(ops.convert_to_tensor(self._buckets), offset)  # [T, T]
            values = self.bias(buckets)  # [T, T, heads]
            return ops.expand_dims(ops.transpose(values, (2, 0, 1)), 0)

        def get_config(self):
            return {**super().get_config(), "num_buckets": self.num_buckets, "heads": self.heads,
                    "max_positions": self.max_positions, "max_distance": self.max_distance}

    class MPNetLayer(keras.layers.Layer):
        """Self-attention with the shared relative bias + feed-forward, each then residual + LayerNorm."""

        def __init__(self, hidden, heads, intermediate, eps, **kw):
            super().__init__(**kw)
            self.heads, self.head_dim = heads, hidden // heads
            self.q = keras.layers.Dense(hidden, name="q")
            self.k = keras.layers.Dense(hidden, name="k")
            self.v = keras.layers.Dense(hidden, name="v")
            self.o = keras.layers.Dense(hidden, name="o")
            self.attn_norm = keras.layers.LayerNormalization(epsilon=eps, name="attention_LayerNorm")
            self.inter = keras.layers.Dense(intermediate, name="intermediate")
            self.out = keras.layers.Dense(hidden, name="output")
            self.out_norm = keras.layers.LayerNormalization(epsilon=eps, name="output_LayerNorm")

        def _split(self, x):
            b, t = ops.shape(x)[0], ops.shape(x)[1]
            return ops.transpose(ops.reshape(x, (b, t, self.heads, self.head_dim)), (0, 2, 1, 3))

        def call(self, x, mask, position_bias):
            # additive key mask: 0 for real tokens, -1e9 for padding
            mask_bias = ops.expand_dims(ops.expand_dims((ops.cast(mask, x.dtype) - 1.0) * 1e9, 1), 1)
            q, k, v = self._split(self.q(x)), self._split(self.k(x)), self._split(self.v(x))
            scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) / float(np.sqrt(self.head_dim))
            probs = ops.softmax(scores + position_bias + mask_bias, axis=-1)
            ctx = ops.transpose(ops.matmul(probs, v), (0, 2, 1, 3))
            ctx = ops.reshape(ctx, (ops.shape(x)[0], ops.shape(x)[1], self.heads * self.head_dim))
            h = self.attn_norm(x + self.o(ctx))
            ff = self.out(keras.activations.gelu(self.inter(h), approximate=False))
            return self.out_norm(h + ff)

    # the same pooling as MiniLM's (sentence-transformers Pooling(mean) + Normalize)
    from emozoo.features.lexical import _layers as _bert_layers
    MeanPoolNormalize = _bert_layers()[2]

    return MPNetEmbeddings, RelativePositionBias, MPNetLayer, MeanPoolNormalize


def build_encoder(cfg: dict, normalize: bool = True, output_hidden_states: bool = False):
    """The Keras functional model ``{input_ids, attention_mask}`` (int32 ``[b, t]``) -> ``[b, hidden]``.

    Args:
        cfg: ``config.json`` as :func:`load_config` returns it (a tiny one works for tests).
        normalize: L2-normalise the mean-pooled embedding.
        output_hidden_states: also return every layer's hidden states: the output is then
            ``{"embedding": [b, hidden], "hidden_states": [b, L + 1, t, hidden]}`` (row 0 the
            embeddings' output, row i block i's output).
    """
    keras = _keras()
    MPNetEmbeddings, RelativePositionBias, MPNetLayer, MeanPoolNormalize = _layers()
    eps = cfg["layer_norm_eps"]
    ids = keras.Input((None,), dtype="int32", name="input_ids")
    mask = keras.Input((None,), dtype="int32", name="attention_mask")
    x = MPNetEmbeddings(cfg["vocab_size"], cfg["hidden_size"], cfg["max_position_embeddings"], eps,
                        name="embeddings")(ids)
    bias = RelativePositionBias(cfg["relative_attention_num_buckets"], cfg["num_attention_heads"],
                                cfg["max_position_embeddings"], name="relative_position_bias")(x)
    states = [x]
    for i in range(cfg["num_hidden_layers"]):
        x = MPNetLayer(cfg["hidden_size"], cfg["num_attention_heads"], cfg["intermediate_size"], eps,
                       name=f"layer_{i}")(x, mask, bias)
        states.append(x)
    out = MeanPoolNormalize(normalize, name="mean_pool" + ("_l2" if normalize else ""))(x, mask)
    if output_hidden_states:
        out = {"embedding": out, "hidden_states": keras.ops.stack(states, axis=1)}
    return keras.Model({"input_ids": ids, "attention_mask": mask}, out, name="all_mpnet_base_v2")


def assign_weights(model, weights: Mapping, cfg: dict) -> None:
    """Copy the HF MPNet tensors into the Keras layers (Linear ``[out, in]`` -> Dense kernel ``[in, out]``).

    Raises :class:`FeatureError` for a missing tensor, a wrong shape, or a tensor left unused
    (other than the pooler and the ``position_ids`` buffer).
    """
    used = set()

    def get(name, shape):
        if name not in weights:
            raise FeatureError(f"model.safetensors has no tensor {name!r}")
        w = weights[name]
        if tuple(w.shape) != tuple(shape):
            raise FeatureError(f"tensor {name} has shape {w.shape}, expected {tuple(shape)}")
        used.add(name)
        return np.asarray(w, np.float32)

    def dense(layer, prefix):
        k = layer.kernel.shape
        layer.set_weights([get(prefix + ".weight", (k[1], k[0])).T, get(prefix + ".bias", (k[1],))])

    def norm(layer, prefix):
        h = layer.gamma.shape
        layer.set_weights([get(prefix + ".weight", h), get(prefix + ".bias", h)])

    emb = model.get_layer("embeddings")
    emb.word.set_weights([get("embeddings.word_embeddings.weight", emb.word.embeddings.shape)])
    emb.position.set_weights([get("embeddings.position_embeddings.weight", emb.position.embeddings.shape)])
    norm(emb.norm, "embeddings.LayerNorm")
    rel = model.get_layer("relative_position_bias").bias
    rel.set_weights([get("encoder.relative_attention_bias.weight", rel.embeddings.shape)])
    for i in range(cfg["num_hidden_layers"]):
        layer, p = model.get_layer(f"layer_{i}"), f"encoder.layer.{i}."
        for name in ("q", "k", "v", "o"):
            dense(getattr(layer, name), p + "attention.attn." + name)
        norm(layer.attn_norm, p + "attention.LayerNorm")
        dense(layer.inter, p + "intermediate.dense")
        dense(layer.out, p + "output.dense")
        norm(layer.out_norm, p + "output.LayerNorm")
    unused = sorted(set(weights) - used - {"embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias"})
    if unused:
        raise FeatureError(f"model.safetensors has tensors this encoder does not use: {unused[:5]}")
