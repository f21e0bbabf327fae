"""Log-Mel filterbank ("Fbank") features in TensorFlow (``tf.signal``).

Pure TF ops, so the same function runs inside ``tf.data`` and inside an
exported SavedModel. Defaults follow seed 003: 128 Mel bins, 25 ms window,
10 ms hop, at 16 kHz.
"""
from __future__ import annotations

import tensorflow as tf


def log_mel(waveform, sample_rate: int = 16000, *, n_mels: int = 128, win_ms: float = 25.0,
            hop_ms: float = 10.0, fft_length: int | None = None, fmin: float = 20.0,
            fmax: float | None = None, eps: float = 1e-6) -> tf.Tensor:
    """Log-Mel energies ``[..., frames, n_mels]`` of a float waveform ``[..., samples]``.

    Frames are Hann-windowed, ``win_ms`` long every ``hop_ms``; the power
    spectrum is mapped onto ``n_mels`` triangular Mel filters between ``fmin``
    and ``fmax`` (default Nyquist), then ``log(energy + eps)``. A waveform
    shorter than one window is zero-padded to one frame.
    """
    x = tf.convert_to_tensor(waveform, tf.float32)
    win = int(round(sample_rate * win_ms / 1000.0))
    hop = int(round(sample_rate * hop_ms / 1000.0))
    if fft_length is None:
        fft_length = 1 << (win - 1).bit_length()
    short = tf.maximum(win - tf.shape(x)[-1], 0)
    pad = tf.concat([tf.zeros([tf.rank(x) - 1, 2], tf.int32), [[0, short]]], axis=0)
    x = tf.pad(x, pad)
    stft = tf.signal.stft(x, frame_length=win, frame_step=hop, fft_length=fft_length,
                          window_fn=tf.signal.hann_window, pad_end=False)
    power = tf.math.square(tf.abs(stft))
    mel = tf.signal.linear_to_mel_weight_matrix(n_mels, fft_length // 2 + 1, sample_rate, fmin,
                                                fmax or sample_rate / 2.0)
    return tf.math.log(tf.tensordot(power, mel, 1) + eps)


def functionals(frames) -> tf.Tensor:
    """Per-clip summary ``[..., 2 * dims]``: mean then standard deviation over frames (axis -2)."""
    frames = tf.convert_to_tensor(frames, tf.float32)
    mean, var = tf.nn.moments(frames, axes=[-2])
    return tf.concat([mean, tf.sqrt(var)], axis=-1)
