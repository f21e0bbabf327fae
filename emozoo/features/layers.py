"""Keras layers computing the frame-level features inside a model (TensorFlow backend).

A model that starts with :class:`AcousticFrontend` takes raw 16 kHz waveforms,
so its exported SavedModel needs no separate feature extraction; the values
are those of :func:`emozoo.features.fbank.log_mel` / ``log_spectrogram`` (the
stores' ``fbank`` / ``spectrogram`` features).

Example:

>>> import keras, numpy as np
>>> model = keras.Sequential([keras.Input((16000,)), AcousticFrontend("fbank")])
>>> model(np.zeros((2, 16000), "float32")).shape
TensorShape([2, 98, 128])
"""
from __future__ import annotations

import keras

from emozoo.errors import FeatureError
from emozoo.features import fbank as fb

KINDS = ("fbank", "spectrogram")


@keras.saving.register_keras_serializable(package="emozoo")
class AcousticFrontend(keras.layers.Layer):
    """Waveforms ``[batch, samples]`` -> log-Mel or log-FFT frames ``[batch, frames, bins]``.

    Implements seed 003's acoustic input (25 ms / 10 ms, 128 values per frame) as a layer.

    Args:
        kind: ``"fbank"`` (:func:`~emozoo.features.fbank.log_mel`) or ``"spectrogram"``
            (:func:`~emozoo.features.fbank.log_spectrogram`).
        sample_rate: Hz of the input waveforms.
        bins: Mel bands / FFT bands per frame (128).
        win_ms, hop_ms: window and shift.
    """

    def __init__(self, kind: str = "fbank", sample_rate: int = 16000, bins: int = 128, win_ms: float = 25.0,
                 hop_ms: float = 10.0, **kwargs):
        super().__init__(**kwargs)
        if kind not in KINDS:
            raise FeatureError(f"kind must be one of {KINDS}, got {kind!r}")
        if keras.backend.backend() != "tensorflow":
            raise FeatureError("AcousticFrontend uses tf.signal: set KERAS_BACKEND=tensorflow")
        self.kind, self.sample_rate, self.bins = kind, int(sample_rate), int(bins)
        self.win_ms, self.hop_ms = float(win_ms), float(hop_ms)

    def call(self, waveforms):
        if self.kind == "fbank":
            return fb.log_mel(waveforms, self.sample_rate, n_mels=self.bins, win_ms=self.win_ms,
                              hop_ms=self.hop_ms)
        return fb.log_spectrogram(waveforms, self.sample_rate, n_bins=self.bins, win_ms=self.win_ms,
                                  hop_ms=self.hop_ms)

    def compute_output_shape(self, input_shape):
        n = input_shape[-1]
        frames = None if n is None else fb.num_frames(n, self.sample_rate, win_ms=self.win_ms, hop_ms=self.hop_ms)
        return (*input_shape[:-1], frames, self.bins)

    def get_config(self):
        return {**super().get_config(), "kind": self.kind, "sample_rate": self.sample_rate, "bins": self.bins,
                "win_ms": self.win_ms, "hop_ms": self.hop_ms}
