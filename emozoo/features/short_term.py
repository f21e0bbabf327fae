"""The 68-dim short-term feature set of pyAudioAnalysis, in TensorFlow (seed 002).

Seed 002 (Zhang et al. 2018, EMODal, section 2 "Input Features"): "Audios are
downsampled to 16 kHz and 68-dimensional features (e.g. spectral entropy,
MFCCs, energy) are extracted by pyAudioAnalysis". This module computes
pyAudioAnalysis's ``ShortTermFeatures.feature_extraction(x, 16000, 800, 400,
deltas=True)`` (v0.3.x definitions) with TensorFlow ops and summarises a clip
by the mean over its frames:

* signal: ``(x - mean(x)) / (max|x - mean(x)| + 1e-10)`` (pyAudioAnalysis's
  ``dc_normalize``; its ``/ 2**15`` is our float scale already);
* frames of 50 ms (800 samples) every 25 ms (400), rectangular window, no
  padding (pyAudioAnalysis's documented example setting; the paper gives none);
* per frame, 34 features: zero-crossing rate, energy, entropy of energy
  (10 sub-blocks), spectral centroid and spread (normalised by Nyquist),
  spectral entropy (10 sub-bands), spectral flux (0 on the first frame),
  spectral roll-off (90 %), 13 MFCCs (pyAudioAnalysis's 40-filter
  scikits.talkbox filterbank on ``|FFT| / 400``, ``log10``, orthonormal DCT-II),
  12 chroma and their standard deviation;
* 34 deltas ``f[t] - f[t - 1]`` (0 on the first frame);
* the clip vector: mean over frames of the 34 features, then of the 34 deltas
  (68 values; pyAudioAnalysis's mid-term statistics would add the standard
  deviations, which the paper's 68 dims leave out).

Chroma is computed exactly as pyAudioAnalysis does it, including two quirks of
its code that a textbook chromagram would not have: a spectrum bin's power
reaches its chroma index only when it is the highest bin of that index
(``C[num_chroma] = spec`` keeps the last write), and the per-index divisor is
looked up by bin position. The map from power spectrum to the 12 chroma
values is linear, so it is a constant ``[400, 12]`` matrix here
(:func:`chroma_matrix`), built by following that code.

Everything is computed in float64 and returned as float32.

Example:

>>> import numpy as np
>>> x = np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
>>> short_term_features(x).shape, short_term_summary(x).shape
(TensorShape([39, 68]), TensorShape([68]))
"""
from __future__ import annotations

import sys

import numpy as np
import tensorflow as tf

from emozoo.errors import FeatureError

EPS = sys.float_info.epsilon   # pyAudioAnalysis's eps
SAMPLE_RATE = 16000
WINDOW = 800                   # 50 ms at 16 kHz
STEP = 400                     # 25 ms at 16 kHz
N_MFCC = 13

FEATURE_NAMES = (["zcr", "energy", "energy_entropy", "spectral_centroid", "spectral_spread",
                  "spectral_entropy", "spectral_flux", "spectral_rolloff"]
                 + [f"mfcc_{i}" for i in range(1, N_MFCC + 1)]
                 + [f"chroma_{i}" for i in range(1, 13)] + ["chroma_std"])
SUMMARY_NAMES = tuple([f"mean_{n}" for n in FEATURE_NAMES] + [f"mean_delta_{n}" for n in FEATURE_NAMES])


def mfcc_filterbank(sample_rate: int, num_fft: int, lowfreq: float = 133.33, linc: float = 200 / 3,
                    logsc: float = 1.0711703, num_lin_filt: int = 13, num_log_filt: int = 27) -> np.ndarray:
    """pyAudioAnalysis's MFCC filterbank ``[40, num_fft]`` (from scikits.talkbox).

    13 linear then 27 log-spaced triangles of area-normalised height
    ``2 / (f_high - f_low)``; bin ``k`` sits at ``k * sample_rate / num_fft``
    Hz (pyAudioAnalysis's convention, although its spectrum has ``num_fft``
    bins up to Nyquist).
    """
    n = num_lin_filt + num_log_filt
    freqs = np.zeros(n + 2)
    freqs[:num_lin_filt] = lowfreq + np.arange(num_lin_filt) * linc
    freqs[num_lin_filt:] = freqs[num_lin_filt - 1] * logsc ** np.arange(1, num_log_filt + 3)
    heights = 2.0 / (freqs[2:] - freqs[:-2])
    bin_hz = np.arange(num_fft) / num_fft * sample_rate
    # Bin k is on the rising side of filter i when floor(lo*N/fs) < k <= floor(c*N/fs), on the
    # falling side when floor(c*N/fs) < k <= floor(hi*N/fs).
    k = np.arange(num_fft)[None, :]
    lo, c, hi = (np.floor(freqs[j:j + n] * num_fft / sample_rate)[:, None] for j in range(3))
    rise = (k > lo) & (k <= c)
    fall = (k > c) & (k <= hi)
    up = heights[:, None] / (freqs[1:n + 1] - freqs[:n])[:, None] * (bin_hz[None, :] - freqs[:n, None])
    down = heights[:, None] / (freqs[2:] - freqs[1:n + 1])[:, None] * (freqs[2:, None] - bin_hz[None, :])
    return np.where(rise, up, 0.0) + np.where(fall, down, 0.0)


def chroma_matrix(sample_rate: int, num_fft: int) -> np.ndarray:
    """The linear map ``[num_fft, 12]`` from power spectrum to pyAudioAnalysis's (unnormalised) chroma."""
    freqs = (np.arange(num_fft) + 1) * sample_rate / (2 * num_fft)
    num_chroma = np.round(12.0 * np.log2(freqs / 27.5)).astype(int)
    if num_chroma.max() >= num_fft:
        raise FeatureError(f"a {2 * num_fft}-sample window at {sample_rate} Hz is too short for "
                           "pyAudioAnalysis's chroma (use a window of at least 200 samples)")
    pos = num_chroma % num_fft                           # numpy wraps negative indices
    count = np.array([np.sum(num_chroma == u) for u in num_chroma], float)  # bins sharing a bin's index
    w = np.zeros((num_fft, 12))
    for u in np.unique(pos):
        last = np.nonzero(pos == u)[0][-1]               # C[num_chroma] = spec: the last write wins
        w[last, u % 12] = 1.0 / count[pos[u]]            # C /= num_freqs_per_chroma[num_chroma]
    return w


def _entropy_of_blocks(v, n_blocks: int = 10):
    """``-sum(s log2 s)`` of the energy shares of ``n_blocks`` consecutive blocks of the last axis."""
    length = int(v.shape[-1]) // n_blocks
    blocks = tf.reshape(v[..., :length * n_blocks], tf.concat([tf.shape(v)[:-1], [n_blocks, length]], 0))
    total = tf.reduce_sum(tf.square(v), axis=-1, keepdims=True)
    s = tf.reduce_sum(tf.square(blocks), axis=-1) / (total + EPS)
    return -tf.reduce_sum(s * tf.math.log(s + EPS) / np.log(2.0), axis=-1)


def short_term_features(waveform, sample_rate: int = SAMPLE_RATE, *, window: int = WINDOW,
                        step: int = STEP) -> tf.Tensor:
    """Frame-level features ``[frames, 68]``: the 34 short-term features then their deltas.

    Args:
        waveform: mono float samples ``[samples]`` (any scale: the signal is
            DC-removed and peak-normalised first, as in pyAudioAnalysis).
        sample_rate: Hz (seed 002: 16 000).
        window, step: frame length and shift in samples (default 50 ms / 25 ms at 16 kHz).
    """
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
        raise FeatureError(f"sample_rate must be a positive Python int, got {sample_rate!r}")
    if window < 20 or step < 1:
        raise FeatureError(f"window must be >= 20 samples and step >= 1, got {window}, {step}")
    x = tf.convert_to_tensor(waveform)
    if x.shape.rank != 1:
        raise FeatureError(f"short-term features need a mono waveform [samples], got shape {x.shape}")
    x = tf.cast(x, tf.float64)
    if x.shape[0] is not None and x.shape[0] < window:
        raise FeatureError(f"the clip has {x.shape[0]} samples, fewer than one {window}-sample window "
                           f"({1000 * window / sample_rate:.0f} ms): too short for short-term features")
    num_fft = window // 2
    x = x - tf.reduce_mean(x)
    x = x / (tf.reduce_max(tf.abs(x)) + 1e-10)
    frames = tf.signal.frame(x, window, step, pad_end=False)                  # [T, window]

    sign = tf.sign(frames)
    zcr = tf.reduce_sum(tf.abs(sign[:, 1:] - sign[:, :-1]), -1) / 2.0 / (window - 1.0)
    energy = tf.reduce_mean(tf.square(frames), -1)
    energy_entropy = _entropy_of_blocks(frames)

    mag = tf.abs(tf.signal.rfft(frames))[:, :num_fft] / num_fft               # [T, num_fft]
    ind = np.arange(1, num_fft + 1) * (sample_rate / (2.0 * num_fft))
    mag_max = tf.reduce_max(mag, -1, keepdims=True)
    xt = mag / tf.where(mag_max == 0.0, tf.constant(EPS, tf.float64), mag_max)
    den = tf.reduce_sum(xt, -1) + EPS
    centroid = tf.reduce_sum(ind * xt, -1) / den
    spread = tf.sqrt(tf.reduce_sum(tf.square(ind[None, :] - centroid[:, None]) * xt, -1) / den)
    nyquist = sample_rate / 2.0
    spectral_entropy = _entropy_of_blocks(mag)

    prev = tf.concat([mag[:1], mag[:-1]], 0)                                   # frame 0 vs itself
    p_cur = mag / tf.reduce_sum(mag + EPS, -1, keepdims=True)
    p_prev = prev / tf.reduce_sum(prev + EPS, -1, keepdims=True)
    flux = tf.reduce_sum(tf.square(p_cur - p_prev), -1)

    power = tf.square(mag)
    cum = tf.cumsum(power, axis=-1) + EPS
    above = cum > 0.90 * tf.reduce_sum(power, -1, keepdims=True)
    first = tf.argmax(tf.cast(above, tf.int32), axis=-1)
    rolloff = tf.where(tf.reduce_any(above, -1), tf.cast(first, tf.float64) / num_fft, 0.0)

    fbank = tf.constant(mfcc_filterbank(sample_rate, num_fft).T, tf.float64)   # [num_fft, 40]
    mspec = tf.math.log(tf.matmul(mag, fbank) + EPS) / np.log(10.0)
    # Orthonormal DCT-II (as scipy's dct(type=2, norm='ortho')), as a matrix: tf.signal.dct is float32-only.
    n_filt = int(fbank.shape[1])
    k, n = np.arange(n_filt)[:, None], np.arange(n_filt)[None, :]
    dct = np.cos(np.pi * k * (2 * n + 1) / (2 * n_filt)) * np.sqrt(2.0 / n_filt)
    dct[0] /= np.sqrt(2.0)
    mfcc = tf.matmul(mspec, tf.constant(dct[:N_MFCC].T, tf.float64))

    chroma = tf.matmul(power, tf.constant(chroma_matrix(sample_rate, num_fft), tf.float64))
    total = tf.reduce_sum(power, -1, keepdims=True)
    chroma = chroma / tf.where(total == 0.0, tf.constant(EPS, tf.float64), total)
    chroma_std = tf.math.reduce_std(chroma, -1)

    feats = tf.concat([tf.stack([zcr, energy, energy_entropy, centroid / nyquist, spread / nyquist,
                                 spectral_entropy, flux, rolloff], -1),
                       mfcc, chroma, chroma_std[:, None]], -1)                 # [T, 34]
    deltas = tf.concat([tf.zeros_like(feats[:1]), feats[1:] - feats[:-1]], 0)
    return tf.cast(tf.concat([feats, deltas], -1), tf.float32)


def short_term_summary(waveform, sample_rate: int = SAMPLE_RATE, *, window: int = WINDOW,
                       step: int = STEP) -> tf.Tensor:
    """The clip's 68-dim vector: the mean over frames of :func:`short_term_features` (names in :data:`SUMMARY_NAMES`)."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
        raise FeatureError(f"sample_rate must be a positive Python int, got {sample_rate!r}")
    x = tf.convert_to_tensor(waveform)
    if x.shape.rank == 1 and x.shape[0] is not None and x.shape[0] < window:
        raise FeatureError(f"the clip has {x.shape[0]} samples, fewer than one {window}-sample window "
                           f"({1000 * window / sample_rate:.0f} ms): too short for short-term features")
    feats = short_term_features(waveform, sample_rate, window=window, step=step)
    return tf.reduce_mean(feats, axis=0)
