"""all-mpnet-base-v2 (sentence-transformers) as a Keras 3 text backbone.

- :mod:`.tokenizer` -- BERT uncased WordPiece with MPNet's ``<s> </s> <pad>`` (Python and TF ops).
- :mod:`.backbone` -- the MPNet encoder layers (relative position bias) and the safetensors converter.
- :mod:`.encoder` -- :class:`MPNetEncoder` (texts -> L2-normalised mean-pooled ``[n, 768]``),
  :func:`export_saved_model` (raw text -> embedding SavedModel).
- :mod:`.extractor` -- the ``mpnet`` feature of ``python -m emozoo.extract``.

Weights: ``python -m emozoo.weights install mpnet``.
"""
from emozoo.backbones.mpnet.encoder import (EMBED_DIM, MPNetEncoder, embed_texts, export_saved_model,
                                            get_encoder)
from emozoo.backbones.mpnet.tokenizer import MAX_SEQ_LENGTH, MPNetTokenizer, TFMPNetTokenizer

__all__ = ["EMBED_DIM", "MAX_SEQ_LENGTH", "MPNetEncoder", "MPNetTokenizer", "TFMPNetTokenizer",
           "embed_texts", "export_saved_model", "get_encoder"]
