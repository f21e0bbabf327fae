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

What is left out: Whisper's ``pad_or_trim`` to 30 s; callers choose (the encoder accepts any
length up to 30 s, see :mod:`emozoo.backbones.whisper.encoder`).

Example:

>>> conv = WhisperAudioConverter()
>>> conv(tf.zeros([1, 16000])).shape
TensorShape([1, 100, 80])
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

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


def log_mel_spectrogram(waveform: tf.Tensor, filters: tf.Tensor | None = None) -> tf.Tensor:
    """Whisper's log-Mel features of ``waveform`` ``[batch, samples]`` -> ``[batch, samples // 160, 80]``.

    The clamp at max - 8 uses each clip's own maximum. Every clip of the batch has the same
    length (pad them yourself, e.g. to 30 s as Whisper does); ``samples`` must be at least 201
    (the reflect padding needs it).
    """
    waveform = tf.convert_to_tensor(waveform, tf.float32)
    if filters is None:
        filters = tf.constant(mel_filters().T)  # [201, 80]
    padded = tf.pad(waveform, [[0, 0], [N_FFT // 2, N_FFT // 2]], mode="REFLECT")
    frames = tf.signal.frame(padded, N_FFT, HOP_LENGTH)              # [B, 1 + N // 160, 400]
    frames = frames[:, :-1] * tf.signal.hann_window(N_FFT, periodic=True)
    spec = tf.signal.rfft(frames, fft_length=[N_FFT])                # [B, T, 201]
    power = tf.math.square(tf.math.real(spec)) + tf.math.square(tf.math.imag(spec))
    mel = tf.linalg.matmul(power, filters)                           # [B, T, 80]
    log_spec = tf.math.log(tf.maximum(mel, 1e-10)) / tf.math.log(tf.constant(10.0))
    peak = tf.reduce_max(log_spec, axis=[1, 2], keepdims=True)
    log_spec = tf.maximum(log_spec, peak - 8.0)
    return (log_spec + 4.0) / 4.0


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
        self._filters = mel_filters(n_mels=self.n_mels).T

    def call(self, waveform):
        return log_mel_spectrogram(waveform, tf.constant(self._filters))

    def compute_output_shape(self, input_shape):
        n = input_shape[1]
        return (input_shape[0], None if n is None else n // HOP_LENGTH, self.n_mels)

    def get_config(self):
        return {**super().get_config(), "n_mels": self.n_mels}
