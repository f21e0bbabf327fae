"""Feature-registry extractors of the Whisper encoder (``whisper_base``, ``whisper_tiny_en``).

``get_extractor("whisper_base")(wave, 16000)`` returns the layer-wise mean-pooled hidden states
``[L + 1, d]`` float32 (``[7, 512]`` for base, ``[5, 384]`` for tiny.en): row 0 the input to
block 1, row ``i`` the output of block ``i``, the last row the encoder output after the final
layer norm (:mod:`emozoo.backbones.whisper.encoder`). The mean runs over the clip's own positions:
the clip is encoded at its own length (no 30 s zero padding; ``docs/backbones.md`` measures the
difference). Clips longer than 30 s are cut into ``ceil(n / 30 s)`` equal windows, each encoded
separately (memory stays bounded), and the window means are averaged weighted by their number
of positions.

The encoder runs as one ``tf.function`` traced once for any length (``[None]`` waveform).
:func:`make_frame_extractor` gives the frame-level variant (one layer's ``[T, d]`` states).

Example:

>>> ext = make_extractor("whisper_base")  # doctest: +SKIP
>>> ext(np.zeros(16000, np.float32), 16000).shape  # doctest: +SKIP
(7, 512)
"""
from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from emozoo.backbones.whisper.backbone import MAX_SAMPLES, WhisperBackbone
from emozoo.backbones.whisper.frontend import MIN_SAMPLES, SAMPLE_RATE
from emozoo.data.tfrecord import FeatureSpec
from emozoo.errors import FeatureError
from emozoo.features.registry import Extractor


def window_bounds(n: int, max_len: int = MAX_SAMPLES) -> list[tuple[int, int]]:
    """``ceil(n / max_len)`` contiguous windows of (nearly) equal length covering ``[0, n)``."""
    k = max(1, math.ceil(n / max_len))
    edges = np.linspace(0, n, k + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


class WhisperPooler:
    """Mean-pooled per-layer hidden states of a :class:`WhisperBackbone` for one waveform.

    Args:
        backbone: a loaded backbone (``WhisperBackbone.from_preset``).
        max_samples: longest window encoded at once (30 s).
    """

    def __init__(self, backbone: WhisperBackbone, max_samples: int = MAX_SAMPLES):
        self.backbone, self.max_samples = backbone, int(max_samples)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def pooled(wave):
            states = backbone(wave[None])[0]                       # [L + 1, T, d]
            return tf.reduce_mean(states, axis=1), tf.shape(states)[1]
        self._pooled = pooled

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32), tf.TensorSpec([], tf.int32)])
        def frames(wave, layer):
            return tf.gather(backbone(wave[None])[0], layer)       # [T, d]
        self._frames = frames

    def _checked(self, waveform) -> np.ndarray:
        x = np.asarray(waveform, dtype=np.float32)
        if x.ndim != 1:
            raise FeatureError(f"Whisper needs a mono waveform [samples], got shape {x.shape}")
        if x.size < MIN_SAMPLES:
            raise FeatureError(f"Whisper needs at least {MIN_SAMPLES} samples ({1000 * MIN_SAMPLES // SAMPLE_RATE} "
                               f"ms at 16 kHz), got {x.size}")
        if not np.all(np.isfinite(x)):
            raise FeatureError("Whisper input waveform has NaN/inf samples")
        return x

    def frames(self, waveform, layer: int = -1) -> np.ndarray:
        """Hidden states of one layer, ``[T, d]`` (windows of at most 30 s concatenated in time)."""
        x = self._checked(waveform)
        n_rows = self.backbone.num_layers + 1
        if not -n_rows <= layer < n_rows:
            raise FeatureError(f"layer {layer} out of range for {n_rows} hidden-state rows")
        layer = tf.constant(layer % n_rows, tf.int32)
        return np.concatenate([self._frames(tf.constant(x[a:b]), layer).numpy()
                               for a, b in window_bounds(x.size, self.max_samples)], axis=0)

    def __call__(self, waveform) -> np.ndarray:
        """Mean over positions of every layer, ``[L + 1, d]``."""
        x = self._checked(waveform)
        total, weight = None, 0
        for a, b in window_bounds(x.size, self.max_samples):
            mean, t = self._pooled(tf.constant(x[a:b]))
            t = int(t)
            total = mean.numpy() * t if total is None else total + mean.numpy() * t
            weight += t
        return (total / weight).astype(np.float32)


def make_extractor(name: str) -> Extractor:
    """The registry extractor of Whisper preset ``name`` (weights via :func:`emozoo.weights.path`);
    ``<preset>_frames`` gives :func:`make_frame_extractor` of the preset (last row)."""
    if name.endswith("_frames"):
        return make_frame_extractor(name[:-len("_frames")])
    backbone = WhisperBackbone.from_preset(name)
    pooler = WhisperPooler(backbone)
    rows, dim = backbone.num_layers + 1, backbone.hidden_dim

    def compute(waveform, sample_rate):
        return pooler(waveform)
    spec = FeatureSpec(name, "float32", (rows, dim),
                       f"Whisper {name} encoder hidden states, mean over the clip's positions, per layer "
                       f"(row 0 input to block 1, row i output of block i, row {rows - 1} after the final "
                       "layer norm)")
    config = (f"emozoo.backbones.whisper:{name};{backbone.weights_id};pool=mean,layers={rows},"
              f"length=clip(no 30 s padding),window<={MAX_SAMPLES // SAMPLE_RATE}s;tf-{tf.__version__};"
              f"rate={SAMPLE_RATE}")
    return Extractor(name, spec, compute, sample_rate=SAMPLE_RATE, config=config)


def make_frame_extractor(name: str, layer: int = -1) -> Extractor:
    """Frame-level variant ``<name>_frames``: one layer's hidden states ``[T, d]`` per clip, 20 ms a
    position (default the last row, the encoder output after the final layer norm), for models
    that need sequences. Register it with ``register_extractor(f"{name}_frames")``."""
    backbone = WhisperBackbone.from_preset(name)
    pooler = WhisperPooler(backbone)
    rows = backbone.num_layers + 1
    row = layer % rows

    def compute(waveform, sample_rate):
        return pooler.frames(waveform, row)
    feature = f"{name}_frames"
    spec = FeatureSpec(feature, "float32", (None, backbone.hidden_dim),
                       f"Whisper {name} encoder hidden states of row {row} of {rows} (20 ms a frame)")
    config = (f"emozoo.backbones.whisper:{name};{backbone.weights_id};frames,row={row}/{rows},"
              f"length=clip(no 30 s padding),window<={MAX_SAMPLES // SAMPLE_RATE}s;tf-{tf.__version__};"
              f"rate={SAMPLE_RATE}")
    return Extractor(feature, spec, compute, sample_rate=SAMPLE_RATE, config=config)
