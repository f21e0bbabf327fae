"""Feature extraction of whole corpora into validated, sharded TFRecord stores.

``python -m emozoo.extract --corpus emodb --features is10,fbank --label-set 4class``
(see :mod:`emozoo.extract.__main__`); :func:`extract_corpus` is the same thing
from Python.
"""
from emozoo.extract.runner import ExtractResult, extract_corpus, plan_shards, store_paths

__all__ = ["ExtractResult", "extract_corpus", "plan_shards", "store_paths"]
