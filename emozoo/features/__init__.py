"""Acoustic feature extraction: openSMILE functionals, tf.signal filterbanks, the 68-dim short-term set.

Extractors are resolved by name through :mod:`emozoo.features.registry`
(``get_extractor("is10")``); ``python -m emozoo.extract`` writes them into
TFRecord stores. See ``docs/features.md``.
"""
