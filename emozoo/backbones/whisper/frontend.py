"""Whisper's log-Mel front end in TensorFlow ops (a SavedModel takes a raw 16 kHz waveform).

Source: Radford et al., "Robust Speech Recognition via Large-Scale Weak Supervision" (2022),
section 2.2, and openai/whisper ``whisper/audio.py`` (``log_mel_spectrogram``):

1. STFT: 400-sample periodic Hann window (25 ms), hop 160 (10 ms), ``n_fft`` 400, centred
   frames (the waveform is reflect-padded by 200 samples on each side, as ``torch.stft``);
   the last frame is dropped, so a clip of ``N`` samples gives ``N // 160`` frames.
2. Power spectrum ``|X|^2`` (201 bins), 80 Slaney mel filters (``librosa.filters.mel(sr=16000,
   n_fft=400, n_mels=80)``, i.e. ``htk=False, norm="slaney"``; computed here in numpy at build
   time, no librosa at run time).
3. ``log10(max(mel, 1e-10))``, clamped below at (the clip's maximum - 8), then ``(x + 4) / 4``.

Execution: eager calls run one cached ``tf.function`` (traced once for any batch and length);
inside a graph the ops are built inline; the Mel product is banded as in
:func:`emozoo.features.fbank.band_groups` (``docs/performance.md`` section 3).

What is left out: Whisper's ``pad_or_trim`` to 30 s; callers choose (the encoder accepts any
length up to 30 s, see :mod:`emozoo.backbones.whisper.encoder`).

Example:

>>> conv = WhisperAudioConverter()
>>> conv(tf.zeros([1, 16000])).shape
TensorShape([1, 100, 80])
"""
from __future__ import annotations

import functools

import keras
import numpy as np
import tensorflow as tf

from emozoo.features.fbank import band_groups, banded_matmul

SAMPLE_RATE = 16000
N_FFT = 400
HOP_LENGTH = 160
N_MELS = 80
MIN_SAMPLES = N_FFT  # shorter clips give no meaningful frame (and cannot be reflect-padded)


def _hz_to_mel(freqs):
    """Slaney's mel scale (librosa ``hz_to_mel(htk=False)``): linear below 1 kHz, log above."""
    freqs = np.asarray(freqs, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = freqs / f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(freqs >= min_log_hz,
                    min_log_mel + np.log(np.maximum(freqs, min_log_hz) / min_log_hz) / logstep, mels)


def _mel_to_hz(mels):
    mels = np.asarray(mels, dtype=np.float64)
    f_sp = 200.0 / 3
    freqs = f_sp * mels
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(mels >= min_log_mel, min_log_hz * np.exp(logstep * (mels - min_log_mel)), freqs)


def mel_filters(sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """Slaney-normalised mel filterbank ``[n_mels, 1 + n_fft // 2]`` float32, as ``librosa.filters.mel``
    with ``fmin=0, fmax=sr/2, htk=False, norm="slaney"`` (the matrix Whisper ships in
    ``mel_filters.npz``)."""
    fftfreqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sample_rate / 2.0), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fftfreqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights.astype(np.float32)


@functools.lru_cache(maxsize=None)
def _default_filters(n_mels: int) -> np.ndarray:
    return mel_filters(n_mels=n_mels).T                                 # [201, n_mels]


def _log_mel_ops(waveform: tf.Tensor, filters) -> tf.Tensor:
    """The front end's ops; ``filters`` a numpy ``[201, n_mels]`` (banded product) or a tensor (dense)."""
    padded = tf.pad(waveform, [[0, 0], [N_FFT // 2, N_FFT // 2]], mode="REFLECT")
    frames = tf.signal.frame(padded, N_FFT, HOP_LENGTH)[:, :-1]         # [B, N // 160, 400]
    lead = tf.shape(frames)[:2]
    flat = tf.reshape(frames, [-1, N_FFT]) * tf.constant(_hann())       # [B * T, 400]
    spec = tf.signal.rfft(flat, fft_length=[N_FFT])                    # [B * T, 201]
    power = tf.math.square(tf.math.real(spec)) + tf.math.square(tf.math.imag(spec))
    if isinstance(filters, np.ndarray):
        mel = banded_matmul(power, filters, band_groups(filters))      # [B * T, n_mels]
        n_mels = filters.shape[1]
    else:
        mel = tf.linalg.matmul(power, filters)
        n_mels = filters.shape[1] if filters.shape[1] is not None else tf.shape(filters)[1]
    log_spec = tf.math.log(tf.maximum(mel, 1e-10)) * (1.0 / np.log(10.0))
    log_spec = tf.reshape(log_spec, tf.concat([lead, [n_mels]], axis=0))
    peak = tf.reduce_max(log_spec, axis=[1, 2], keepdims=True)
    log_spec = (tf.maximum(log_spec, peak - 8.0) + 4.0) / 4.0
    if not tf.executing_eagerly() and isinstance(n_mels, int):
        log_spec.set_shape([waveform.shape[0], None, n_mels])
    return log_spec


@functools.lru_cache(maxsize=None)
def _hann() -> np.ndarray:
    with tf.init_scope():
        return tf.signal.hann_window(N_FFT, periodic=True).numpy()


@functools.lru_cache(maxsize=None)
def _graph_fn(n_mels: int | None):
    """Cached ``tf.function`` run by eager calls: ``n_mels`` for the built-in filters (banded), None for
    caller-given filters (a second input). Any batch size and length reuse the one trace."""
    wave = tf.TensorSpec([None, None], tf.float32)
    if n_mels is None:
        return tf.function(_log_mel_ops, input_signature=[wave, tf.TensorSpec([N_FFT // 2 + 1, None], tf.float32)])
    return tf.function(lambda w: _log_mel_ops(w, _default_filters(n_mels)), input_signature=[wave])


@functools.lru_cache(maxsize=None)
def _concrete_fn(n_mels: int | None):
    """The concrete function of :func:`_graph_fn` (calling it skips the signature binding)."""
    return _graph_fn(n_mels).get_concrete_function()


def log_mel_spectrogram(waveform: tf.Tensor, filters: tf.Tensor | None = None, *, n_mels: int = N_MELS) -> tf.Tensor:
    """Whisper's log-Mel features of ``waveform`` ``[batch, samples]`` -> ``[batch, samples // 160, n_mels]``.

    The clamp at max - 8 uses each clip's own maximum. Every clip of the batch has the same
    length (pad them yourself, e.g. to 30 s as Whisper does); ``samples`` must be at least 201
    (the reflect padding needs it). ``filters`` ``[201, n_mels]`` replaces the built-in Slaney
    filters (:func:`mel_filters` with ``n_mels``). Eager calls run one cached graph (traced once
    for any batch and length); calls inside a graph build the ops inline.
    """
    eager = tf.executing_eagerly()
    waveform = tf.convert_to_tensor(waveform, tf.float32)
    if filters is None:
        if eager:
            return _concrete_fn(int(n_mels))(waveform)
        return _log_mel_ops(waveform, _default_filters(int(n_mels)))
    if eager:
        return _concrete_fn(None)(waveform, tf.convert_to_tensor(filters, tf.float32))
    return _log_mel_ops(waveform, tf.convert_to_tensor(filters, tf.float32))


@keras.saving.register_keras_serializable(package="emozoo.whisper")
class WhisperAudioConverter(keras.layers.Layer):
    """Raw 16 kHz waveform ``[batch, samples]`` -> Whisper log-Mel ``[batch, samples // 160, 80]``.

    Whisper's front end (Radford et al. 2022, sec. 2.2) as a Keras layer of TF ops, so models
    built on it export to a SavedModel that takes raw audio. See :func:`log_mel_spectrogram`.

    Args:
        n_mels: number of mel bins (80 for every Whisper up to large-v2).
    """

    def __init__(self, n_mels: int = N_MELS, **kwargs):
        super().__init__(**kwargs)
        self.n_mels = int(n_mels)

    def call(self, waveform):
        return log_mel_spectrogram(waveform, n_mels=self.n_mels)

    def compute_output_shape(self, input_shape):
        n = input_shape[1]
        return (input_shape[0], None if n is None else n // HOP_LENGTH, self.n_mels)

    def get_config(self):
        return {**super().get_config(), "n_mels": self.n_mels}
