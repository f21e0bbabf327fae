"""The ``mpnet`` feature: all-mpnet-base-v2 sentence embedding of a manifest row's transcript.

A row extractor like ``minilm`` (:mod:`emozoo.features.registry`): ``compute_batch`` embeds up to
``batch_size`` transcripts in one encoder pass; a row with an empty transcript gets a
:class:`~emozoo.errors.FeatureError` (listed by the extract runner) instead of the embedding of
``<s> </s>``.

Example:

>>> ext = get_extractor("mpnet")          # emozoo.features.registry
>>> ext.spec.shape
(768,)
"""
from __future__ import annotations

from emozoo.data.tfrecord import FeatureSpec
from emozoo.errors import FeatureError
from emozoo.features.registry import Extractor

ENCODER_BATCH = 32


def make_extractor() -> Extractor:
    """The registered ``mpnet`` :class:`~emozoo.features.registry.Extractor` (float32 ``(768,)``, row input)."""
    from emozoo.backbones.mpnet import encoder as mpnet

    config = mpnet.feature_config()  # fails early, naming the install command, if weights are missing

    def compute_batch(rows):
        out: list = [None] * len(rows)
        todo = []
        for i, row in enumerate(rows):
            if not isinstance(row.transcript, str) or not row.transcript.strip():
                out[i] = FeatureError(f"clip {row.clip_id!r} has an empty transcript: nothing to embed "
                                      "(fill the manifest's transcript column, or leave the clip out)")
            else:
                todo.append(i)
        if todo:
            emb = mpnet.embed_texts([rows[i].transcript for i in todo], batch_size=ENCODER_BATCH)
            for j, i in enumerate(todo):
                out[i] = emb[j]
        return out

    def compute(row):
        (value,) = compute_batch([row])
        if isinstance(value, Exception):
            raise value
        return value

    spec = FeatureSpec("mpnet", "float32", (mpnet.EMBED_DIM,),
                       "all-mpnet-base-v2 sentence embedding of the transcript (mean pooled, L2)")
    return Extractor("mpnet", spec, compute, config=config, input="row", compute_batch=compute_batch,
                     batch_size=256)
