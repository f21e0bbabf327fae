"""all-mpnet-base-v2 sentence embeddings (768 dims): tokenizer + Keras encoder + mean pooling + L2.

What sentence-transformers computes for this model (``modules.json``: Transformer(max_seq_length
384) -> Pooling(mean, ``pooling_config.json``) -> Normalize):

1. WordPiece uncased tokenisation, ``<s> ... </s>``, truncated to 384 tokens
   (:mod:`emozoo.backbones.mpnet.tokenizer`);
2. the MPNet encoder's last hidden states (:mod:`emozoo.backbones.mpnet.backbone`);
3. mean over the tokens where ``attention_mask == 1`` (``<s>``/``</s>`` included);
4. L2 normalisation (``x / max(||x||, 1e-12)``); ``normalize=False`` gives the raw means.

Weights: ``emozoo.weights.path("mpnet")`` (``python -m emozoo.weights install mpnet``), read with
the ``safetensors`` numpy API; no torch/transformers/tokenizers at run time.

Example:

>>> enc = get_encoder()
>>> enc.embed(["I am so happy today!", "This is terrible."]).shape
(2, 768)
"""
from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Sequence

import numpy as np

from emozoo.backbones.mpnet import backbone
from emozoo.backbones.mpnet.tokenizer import MAX_SEQ_LENGTH, MPNetTokenizer, TFMPNetTokenizer, load_vocab, pad_batch
from emozoo.errors import FeatureError

WEIGHTS_NAME = "mpnet"
MODEL_NAME = "sentence-transformers/all-mpnet-base-v2"
EMBED_DIM = 768
PAD_MULTIPLE = 8  # batch widths rounded up to a multiple of this: fewer distinct shapes
_REQUIRED_FILES = ("config.json", "model.safetensors", "vocab.txt")


def weights_dir() -> Path:
    """The installed weights folder (``emozoo.weights.path("mpnet")``), checked for the files used here.

    Raises:
        emozoo.errors.WeightsError: not installed (the message names the install command).
        FeatureError: the folder lacks a file.
    """
    import emozoo.weights
    d = Path(emozoo.weights.path(WEIGHTS_NAME))
    return check_weights_dir(d)


def check_weights_dir(d) -> Path:
    d = Path(d)
    missing = [f for f in _REQUIRED_FILES if not (d / f).is_file()]
    if missing:
        raise FeatureError(f"the MPNet weights folder {d} lacks {', '.join(missing)}; "
                           "run: python -m emozoo.weights install mpnet")
    return d


@functools.lru_cache(maxsize=4)
def _sha256_prefix(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def feature_config(max_length: int = MAX_SEQ_LENGTH, normalize: bool = True, directory=None) -> str:
    """Everything that determines the embedding values, as one string for a store's ``extract.json``."""
    d = check_weights_dir(directory) if directory is not None else weights_dir()
    return (f"{MODEL_NAME} emozoo.weights:{WEIGHTS_NAME} "
            f"safetensors_sha256={_sha256_prefix(str(d / 'model.safetensors'))} "
            f"max_length={max_length} pooling=mean normalize={'l2' if normalize else 'none'}")


class MPNetEncoder:
    """all-mpnet-base-v2 in Keras 3, with its tokenizer.

    Args:
        normalize: L2-normalise the mean-pooled vectors (sentence-transformers' ``Normalize``;
            the default, what cosine similarity expects).
        max_length: token budget incl. ``<s>``/``</s>``; longer texts are truncated (384, the
            model's ``max_seq_length``; at most 512 = 514 positions - 2).
        directory: weights folder; default ``emozoo.weights.path("mpnet")``.

    Example:

    >>> enc = MPNetEncoder()
    >>> ids, mask = enc.tokenizer(["Hello there."])
    >>> enc.embed_ids(ids, mask).shape
    (1, 768)
    """

    def __init__(self, normalize: bool = True, max_length: int = MAX_SEQ_LENGTH, directory=None):
        d = check_weights_dir(directory) if directory is not None else weights_dir()
        self.directory = d
        self.config = backbone.load_config(d)
        limit = self.config["max_position_embeddings"] - backbone.PADDING_IDX - 1
        if not 2 <= max_length <= limit:
            raise FeatureError(f"max_length must be in [2, {limit}], got {max_length}")
        self.normalize = normalize
        self.vocab = load_vocab(d / "vocab.txt")
        if len(self.vocab) != self.config["vocab_size"]:
            raise FeatureError(f"vocab.txt has {len(self.vocab)} tokens, config says {self.config['vocab_size']}")
        self.tokenizer = MPNetTokenizer(self.vocab, max_length)
        self.model = backbone.build_encoder(self.config, normalize)
        backbone.assign_weights(self.model, backbone.load_weights(d), self.config)
        self._infer = None

    @property
    def dim(self) -> int:
        return int(self.config["hidden_size"])

    def _graph(self):
        if self._infer is None:
            import tensorflow as tf
            model = self.model
            spec = tf.TensorSpec([None, None], tf.int32)

            @tf.function(input_signature=[spec, spec])
            def infer(ids, mask):
                return model({"input_ids": ids, "attention_mask": mask}, training=False)

            self._infer = infer
        return self._infer

    def embed_ids(self, input_ids, attention_mask) -> np.ndarray:
        """Token ids + mask (int ``[n, t]``, ``<pad>`` = 1 on the right) -> float32 ``[n, 768]``.

        Positions count the non-``<pad>`` ids (as HF does), so pad with id 1.
        """
        import tensorflow as tf
        ids = np.asarray(input_ids)
        mask = np.asarray(attention_mask)
        if ids.ndim != 2 or ids.shape != mask.shape:
            raise FeatureError(f"input_ids {ids.shape} and attention_mask {mask.shape} must be equal 2-D shapes")
        if ids.size and (ids.min() < 0 or ids.max() >= self.config["vocab_size"]):
            raise FeatureError(f"input_ids must be in [0, {self.config['vocab_size']}), "
                               f"got [{ids.min()}, {ids.max()}]")
        limit = self.config["max_position_embeddings"] - backbone.PADDING_IDX - 1
        if ids.shape[1] > limit:
            raise FeatureError(f"sequences of {ids.shape[1]} tokens exceed the model's {limit} positions")
        return self._graph()(tf.constant(ids, tf.int32), tf.constant(mask, tf.int32)).numpy()

    def embed(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Texts -> float32 ``[n, 768]``. Batches are sorted by length and padded to a multiple of 8.

        An empty (or white-space only) string is embedded as ``<s> </s>``, as sentence-transformers does.
        """
        if isinstance(texts, str):
            raise FeatureError("embed() takes a list of texts, not a single str")
        texts = list(texts)
        for i, t in enumerate(texts):
            if not isinstance(t, str):
                raise FeatureError(f"texts[{i}] is {type(t).__name__}, not str")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise FeatureError(f"batch_size must be an int >= 1, got {batch_size!r}")
        out = np.zeros((len(texts), self.dim), np.float32)
        if not texts:
            return out
        encoded = [self.tokenizer.encode(t) for t in texts]
        order = np.argsort([len(e) for e in encoded], kind="stable")
        for s in range(0, len(order), batch_size):
            idx = order[s: s + batch_size]
            ids, mask = pad_batch([encoded[i] for i in idx], self.tokenizer.pad_id, PAD_MULTIPLE)
            out[idx] = self.embed_ids(ids, mask)
        if not np.all(np.isfinite(out)):
            raise FeatureError("MPNet produced non-finite embeddings")
        return out


@functools.lru_cache(maxsize=2)
def get_encoder(normalize: bool = True) -> MPNetEncoder:
    """A process-wide cached :class:`MPNetEncoder` (loading takes a few seconds)."""
    return MPNetEncoder(normalize=normalize)


def embed_texts(texts: Sequence[str], batch_size: int = 32, normalize: bool = True) -> np.ndarray:
    """Sentence embeddings of all-mpnet-base-v2: ``list[str] -> float32 [n, 768]``."""
    return get_encoder(normalize).embed(texts, batch_size=batch_size)


def export_saved_model(path, normalize: bool = True, max_length: int = MAX_SEQ_LENGTH,
                       encoder: MPNetEncoder | None = None) -> Path:
    """Write a TF SavedModel with two signatures and return its path.

    * ``serving_default``: ``texts`` (string ``[batch]``) -> ``embedding`` float32 ``[batch, 768]``,
      tokenised inside the graph by :class:`~emozoo.backbones.mpnet.tokenizer.TFMPNetTokenizer`
      (core TF ops only).
    * ``embed_ids``: ``input_ids``, ``attention_mask`` (int32 ``[batch, t]``, ``<pad>`` = 1) -> ``embedding``.

    Example:

    >>> export_saved_model("/tmp/mpnet_sm")
    >>> tf.saved_model.load("/tmp/mpnet_sm").signatures["serving_default"](texts=tf.constant(["hi"]))
    """
    from emozoo.features.lexical import save_text_encoder

    enc = encoder if encoder is not None else MPNetEncoder(normalize=normalize, max_length=max_length)
    return save_text_encoder(enc.model, TFMPNetTokenizer(enc.vocab, enc.tokenizer.max_length), path)
