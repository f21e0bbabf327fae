"""Inputs of the face parity check (TF.js runtime vs emozoo's Keras ports), shared by the
fixture generator (``tools/reference/face_reference.py``) and ``tests/backbones/test_face_parity.py``.

Each input is a preprocessed float32 NHWC tensor, built the same way on both sides; the fixture
stores its sha256 so a test notices when it no longer rebuilds the exact tensor the reference
saw. Synthetic inputs need no data (their formula is stored in the fixture too); real ones read
one JAFFE and one CK+48 image from ``EMOZOO_DATA_DIR``.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

REAL_IMAGES = {"jaffe": "jaffe/KA.AN1.39.tiff", "ckplus48": "ckplus48/happy/S010_006_00000013.png"}
SYNTH_MOBILENET = "x[h,w,c] = 127.5 + 120*sin(0.05*h*(c+1) + 0.07*w), h,w in 0..223, c in 0..2 (RGB), then preprocess_faces(mode='hse')"
SYNTH_EMOTION = "x[h,w,0] = 0.9*sin(0.09*h + 0.13*w) * cos(0.05*(h - w)), h,w in 0..63"


def synthetic_mobilenet_input() -> np.ndarray:
    from emozoo.backbones.face.mobilenet import preprocess_faces

    h, w, c = np.meshgrid(np.arange(224), np.arange(224), np.arange(3), indexing="ij")
    rgb = (127.5 + 120.0 * np.sin(0.05 * h * (c + 1) + 0.07 * w)).astype(np.float32)
    return np.asarray(preprocess_faces(rgb[None], "hse"), np.float32)


def synthetic_emotion_input() -> np.ndarray:
    h, w = np.meshgrid(np.arange(64), np.arange(64), indexing="ij")
    x = 0.9 * np.sin(0.09 * h + 0.13 * w) * np.cos(0.05 * (h - w))
    return x.astype(np.float32)[None, :, :, None]


def real_mobilenet_input(data_dir, key: str) -> np.ndarray:
    """Grey corpus image -> RGB (replicated) -> :func:`preprocess_faces` (bilinear to 224, ``hse``)."""
    from emozoo.backbones.face.mobilenet import preprocess_faces
    from emozoo.data.image import load_image

    grey = np.asarray(load_image(Path(data_dir) / REAL_IMAGES[key], grey=True), np.uint8)
    rgb = np.repeat(grey.reshape(grey.shape[0], grey.shape[1], 1), 3, axis=-1)
    return np.asarray(preprocess_faces(rgb[None], "hse"), np.float32)


def real_emotion_input(data_dir, key: str) -> np.ndarray:
    """Grey corpus image -> :func:`emozoo.backbones.face.mini_xception.preprocess_grey` (64, [-1, 1])."""
    from emozoo.backbones.face.mini_xception import preprocess_grey
    from emozoo.data.image import load_image

    grey = np.asarray(load_image(Path(data_dir) / REAL_IMAGES[key], grey=True), np.uint8)
    return np.asarray(preprocess_grey(grey.reshape(1, grey.shape[0], grey.shape[1], 1)), np.float32)


def sha256(x: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(x, np.float32).tobytes()).hexdigest()
