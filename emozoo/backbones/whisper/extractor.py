"""Feature-registry extractors of the Whisper encoder (``whisper_base``, ``whisper_tiny_en``).

``get_extractor("whisper_base")(wave, 16000)`` returns the layer-wise mean-pooled hidden states
``[L + 1, d]`` float32 (``[7, 512]`` for base, ``[5, 384]`` for tiny.en): row 0 the input to
block 1, row ``i`` the output of block ``i``, the last row the encoder output after the final
layer norm (:mod:`emozoo.backbones.whisper.encoder`). The mean runs over the clip's own positions:
the clip is encoded at its own length (no 30 s zero padding; ``docs/backbones.md`` measures the
difference). Clips longer than 30 s are cut into ``ceil(n / 30 s)`` equal windows, each encoded
separately (memory stays bounded), and the window means are averaged weighted by their number
of positions.

Precision. The extractors' default (``precision="int8"``) runs the encoder as a LiteRT model with
dynamic-range int8 weights on XNNPACK, the convolution stem and block 1's q/k/v projections left in
float32 (:mod:`emozoo.backbones.whisper.lite`; about CTranslate2 int8's speed; pooled rows at a
cosine >= 0.999 to float32 on every EmoDB clip in rows 0-5, 2 of 535 clips under it in the last
row, ``docs/performance.md`` section 4), the log-Mel front end as a ``tf.function``.
``precision="mixed"`` leaves the stem and blocks 1-2 in float32 (every EmoDB clip >= 0.9998, at
1.1-2x the int8 time). ``precision="float32"`` runs the Keras
port as one ``tf.function`` traced once for any length (``[None]`` waveform), the path the parity
tests check against CTranslate2 float32. ``make_extractor(name)`` takes the precision from
``$EMOZOO_WHISPER_PRECISION`` (``int8`` unless set); the store config records it, so an
extraction resumed with the other precision is refused. :func:`make_frame_extractor` gives the
frame-level variant (one layer's ``[T, d]`` states).

Example:

>>> ext = make_extractor("whisper_base")  # doctest: +SKIP
>>> ext(np.zeros(16000, np.float32), 16000).shape  # doctest: +SKIP
(7, 512)
"""
from __future__ import annotations

import math
import os

import numpy as np
import tensorflow as tf

from emozoo.backbones.whisper.backbone import MAX_SAMPLES, WhisperBackbone
from emozoo.backbones.whisper.frontend import MIN_SAMPLES, SAMPLE_RATE
from emozoo.backbones.whisper.lite import PRECISIONS, LiteEncoder, cached_model
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
        precision: ``"float32"`` (the Keras port as a ``tf.function``; the default here, so
            callers built on float32 stores, e.g. the ``emotion_speech`` predictor, keep their
            values), ``"int8"`` (LiteRT dynamic-range int8 encoder on XNNPACK with the float
            islands of :data:`~emozoo.backbones.whisper.lite.ISLANDS`; the default of
            :func:`make_extractor`) or ``"mixed"`` (more of it in float32).
        threads: XNNPACK threads of the int8 encoder (default: the cores this process may use).
    """

    def __init__(self, backbone: WhisperBackbone, max_samples: int = MAX_SAMPLES, precision: str = "float32",
                 threads: int | None = None):
        if precision not in PRECISIONS:
            raise FeatureError(f"unknown Whisper precision {precision!r}; known: {', '.join(PRECISIONS)}")
        self.backbone, self.max_samples, self.precision = backbone, int(max_samples), precision
        if precision != "float32":
            self._lite = LiteEncoder(cached_model(backbone, precision), threads=threads)
            self._log_mel = tf.function(backbone.audio_converter,
                                        input_signature=[tf.TensorSpec([None, None], tf.float32)])
            return

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def pooled(wave):
            states = backbone(wave[None])[0]                       # [L + 1, T, d]
            return tf.reduce_mean(states, axis=1), tf.shape(states)[1]
        self._pooled = pooled

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32), tf.TensorSpec([], tf.int32)])
        def frames(wave, layer):
            return tf.gather(backbone(wave[None])[0], layer)       # [T, d]
        self._frames = frames

    def states(self, window: np.ndarray) -> np.ndarray:
        """Every layer's hidden states ``[L + 1, T, d]`` of one window (int8 path)."""
        mel = self._log_mel(tf.constant(window[None])).numpy()
        return self._lite(mel)[0]

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
        if self.precision != "float32":
            return np.concatenate([self.states(x[a:b])[layer % n_rows]
                                   for a, b in window_bounds(x.size, self.max_samples)], axis=0)
        layer = tf.constant(layer % n_rows, tf.int32)
        return np.concatenate([self._frames(tf.constant(x[a:b]), layer).numpy()
                               for a, b in window_bounds(x.size, self.max_samples)], axis=0)

    def __call__(self, waveform) -> np.ndarray:
        """Mean over positions of every layer, ``[L + 1, d]``."""
        x = self._checked(waveform)
        total, weight = None, 0
        for a, b in window_bounds(x.size, self.max_samples):
            if self.precision != "float32":
                states = self.states(x[a:b])
                mean, t = states.mean(axis=1, dtype=np.float64), states.shape[1]
            else:
                mean, t = self._pooled(tf.constant(x[a:b]))
                mean, t = mean.numpy(), int(t)
            total = mean * t if total is None else total + mean * t
            weight += t
        return (total / weight).astype(np.float32)


PRECISION_ENV = "EMOZOO_WHISPER_PRECISION"


def default_precision() -> str:
    """``$EMOZOO_WHISPER_PRECISION`` (``int8``, ``mixed`` or ``float32``), ``int8`` when unset."""
    value = os.environ.get(PRECISION_ENV, "").strip() or "int8"
    if value not in PRECISIONS:
        raise FeatureError(f"{PRECISION_ENV}={value!r} is not a Whisper precision; use one of "
                           f"{', '.join(PRECISIONS)}")
    return value


def _precision_config(precision: str) -> str:
    """What the store config adds for a precision: nothing for float32 (the stores written before
    the int8 default keep their config), the runtime, its quantization and the ops left in float32
    for the quantized ones (revision 3 added the float islands: stores of revision 1 refuse them)."""
    if precision == "float32":
        return ""
    from emozoo.backbones.whisper.lite import FORMAT_REVISION, ISLANDS
    return (f";precision={precision}(litert-dynamic-range,xnnpack,rev{FORMAT_REVISION},"
            f"float={ISLANDS[precision][0]})")


def make_extractor(name: str, precision: str | None = None) -> Extractor:
    """The registry extractor of Whisper preset ``name`` (weights via :func:`emozoo.weights.path`);
    ``<preset>_frames`` gives :func:`make_frame_extractor` of the preset (last row).

    Args:
        name: preset, or ``<preset>_frames``.
        precision: ``"int8"``, ``"mixed"`` or ``"float32"``; default :func:`default_precision`.
    """
    precision = default_precision() if precision is None else precision
    if precision not in PRECISIONS:
        raise FeatureError(f"unknown Whisper precision {precision!r}; known: {', '.join(PRECISIONS)}")
    if name.endswith("_frames"):
        return make_frame_extractor(name[:-len("_frames")], precision=precision)
    backbone = WhisperBackbone.from_preset(name)
    pooler = WhisperPooler(backbone, precision=precision)
    rows, dim = backbone.num_layers + 1, backbone.hidden_dim

    def compute(waveform, sample_rate):
        return pooler(waveform)
    spec = FeatureSpec(name, "float32", (rows, dim),
                       f"Whisper {name} encoder hidden states, mean over the clip's positions, per layer "
                       f"(row 0 input to block 1, row i output of block i, row {rows - 1} after the final "
                       "layer norm)")
    config = (f"emozoo.backbones.whisper:{name};{backbone.weights_id};pool=mean,layers={rows},"
              f"length=clip(no 30 s padding),window<={MAX_SAMPLES // SAMPLE_RATE}s;tf-{tf.__version__};"
              f"rate={SAMPLE_RATE}{_precision_config(precision)}")
    return Extractor(name, spec, compute, sample_rate=SAMPLE_RATE, config=config)


def make_frame_extractor(name: str, layer: int = -1, precision: str | None = None) -> Extractor:
    """Frame-level variant ``<name>_frames``: one layer's hidden states ``[T, d]`` per clip, 20 ms a
    position (default the last row, the encoder output after the final layer norm), for models
    that need sequences. Register it with ``register_extractor(f"{name}_frames")``. ``precision``
    as :func:`make_extractor`."""
    precision = default_precision() if precision is None else precision
    backbone = WhisperBackbone.from_preset(name)
    pooler = WhisperPooler(backbone, precision=precision)
    rows = backbone.num_layers + 1
    row = layer % rows

    def compute(waveform, sample_rate):
        return pooler.frames(waveform, row)
    feature = f"{name}_frames"
    spec = FeatureSpec(feature, "float32", (None, backbone.hidden_dim),
                       f"Whisper {name} encoder hidden states of row {row} of {rows} (20 ms a frame)")
    config = (f"emozoo.backbones.whisper:{name};{backbone.weights_id};frames,row={row}/{rows},"
              f"length=clip(no 30 s padding),window<={MAX_SAMPLES // SAMPLE_RATE}s;tf-{tf.__version__};"
              f"rate={SAMPLE_RATE}{_precision_config(precision)}")
    return Extractor(feature, spec, compute, sample_rate=SAMPLE_RATE, config=config)
