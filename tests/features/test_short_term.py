"""The 68-dim short-term set against a NumPy transcription of pyAudioAnalysis's per-frame code.

The reference below follows ``pyAudioAnalysis.ShortTermFeatures.feature_extraction``
(v0.3.x) statement by statement, frame by frame (scipy.fftpack FFT and DCT, the
scikits.talkbox filterbank loop, the chroma code with its indexing as written);
the implementation under test is vectorised TensorFlow.
"""
import sys

import numpy as np
import pytest
from scipy.fftpack import dct, fft

from emozoo.errors import FeatureError
from emozoo.features.short_term import (FEATURE_NAMES, SUMMARY_NAMES, short_term_features,
                                        short_term_summary)
from tests.conftest import corpus_dir

EPS = sys.float_info.epsilon


# --- reference (pyAudioAnalysis's definitions, loop form) -------------------

def ref_zcr(frame):
    return np.sum(np.abs(np.diff(np.sign(frame)))) / 2 / (len(frame) - 1.0)


def ref_block_entropy(v, n=10):
    total = np.sum(v ** 2)
    length = len(v) // n
    sub = v[:length * n].reshape(length, n, order="F")
    s = np.sum(sub ** 2, axis=0) / (total + EPS)
    return -np.sum(s * np.log2(s + EPS))


def ref_centroid_spread(mag, fs):
    ind = np.arange(1, len(mag) + 1) * (fs / (2.0 * len(mag)))
    xt = mag / (EPS if mag.max() == 0 else mag.max())
    num, den = np.sum(ind * xt), np.sum(xt) + EPS
    c = num / den
    s = np.sqrt(np.sum((ind - c) ** 2 * xt) / den)
    return c / (fs / 2.0), s / (fs / 2.0)


def ref_flux(mag, prev):
    return np.sum((mag / np.sum(mag + EPS) - prev / np.sum(prev + EPS)) ** 2)


def ref_rolloff(mag, c=0.90):
    energy = np.sum(mag ** 2)
    a = np.nonzero(np.cumsum(mag ** 2) + EPS > c * energy)[0]
    return a[0] / float(len(mag)) if len(a) else 0.0


def ref_fbank(fs, nfft, lowfreq=133.33, linc=200 / 3, logsc=1.0711703, nlin=13, nlog=27):
    total = nlin + nlog
    freqs = np.zeros(total + 2)
    freqs[:nlin] = lowfreq + np.arange(nlin) * linc
    freqs[nlin:] = freqs[nlin - 1] * logsc ** np.arange(1, nlog + 3)
    heights = 2.0 / (freqs[2:] - freqs[0:-2])
    fbank = np.zeros((total, nfft))
    nfreqs = np.arange(nfft) / (1.0 * nfft) * fs
    for i in range(total):
        lo, c, hi = freqs[i], freqs[i + 1], freqs[i + 2]
        lid = np.arange(np.floor(lo * nfft / fs) + 1, np.floor(c * nfft / fs) + 1, dtype=int)
        rid = np.arange(np.floor(c * nfft / fs) + 1, np.floor(hi * nfft / fs) + 1, dtype=int)
        fbank[i][lid] = heights[i] / (c - lo) * (nfreqs[lid] - lo)
        fbank[i][rid] = heights[i] / (hi - c) * (hi - nfreqs[rid])
    return fbank


def ref_chroma(mag, fs, nfft):
    freqs = np.array([((f + 1) * fs) / (2 * nfft) for f in range(nfft)])
    num_chroma = np.round(12.0 * np.log2(freqs / 27.5)).astype(int)
    per = np.zeros((num_chroma.shape[0],))
    for u in np.unique(num_chroma):
        idx = np.nonzero(num_chroma == u)
        per[idx] = idx[0].shape
    spec = mag ** 2
    assert num_chroma.max() < num_chroma.shape[0]
    C = np.zeros((num_chroma.shape[0],))
    C[num_chroma] = spec
    C /= per[num_chroma]
    new_d = int(np.ceil(C.shape[0] / 12.0) * 12)
    C2 = np.zeros((new_d,))
    C2[0:C.shape[0]] = C
    out = np.sum(C2.reshape(new_d // 12, 12), axis=0)
    return out / (EPS if spec.sum() == 0 else spec.sum())


def ref_features(signal, fs=16000, window=800, step=400):
    signal = np.asarray(signal, np.float64)
    signal = signal - signal.mean()
    signal = signal / (np.abs(signal).max() + 1e-10)
    nfft = window // 2
    fbank = ref_fbank(fs, nfft)
    rows, pos, prev_mag, prev_vec = [], 0, None, None
    while pos + window - 1 < len(signal):
        x = signal[pos:pos + window]
        pos += step
        mag = np.abs(fft(x))[:nfft] / nfft
        if prev_mag is None:
            prev_mag = mag.copy()
        v = [ref_zcr(x), np.sum(x ** 2) / len(x), ref_block_entropy(x), *ref_centroid_spread(mag, fs),
             ref_block_entropy(mag), ref_flux(mag, prev_mag), ref_rolloff(mag)]
        v += list(dct(np.log10(mag @ fbank.T + EPS), type=2, norm="ortho")[:13])
        chroma = ref_chroma(mag, fs, nfft)
        v = np.array(v + list(chroma) + [chroma.std()])
        delta = np.zeros_like(v) if prev_vec is None else v - prev_vec
        rows.append(np.concatenate([v, delta]))
        prev_vec, prev_mag = v, mag.copy()
    return np.array(rows)


# --- tests -----------------------------------------------------------------

def _signal(seconds=1.2, fs=16000):
    """A tone with harmonics, then exact silence, then noise: every branch (zero spectra) is hit."""
    t = np.arange(int(0.5 * fs)) / fs
    tone = sum(0.3 / k * np.sin(2 * np.pi * 220 * k * t) for k in range(1, 6))
    noise = 0.1 * np.random.default_rng(0).normal(size=int((seconds - 0.7) * fs))
    return np.concatenate([tone, np.zeros(int(0.2 * fs)), noise]).astype(np.float32)


def _compare(x):
    ours = short_term_features(x).numpy()
    ref = ref_features(x)
    assert ours.shape == ref.shape == (1 + (len(x) - 800) // 400, 68)
    scale = np.maximum(np.abs(ref).max(0), 1e-3)               # per-feature scale
    np.testing.assert_allclose(ours / scale, ref / scale, atol=2e-5, rtol=0)
    np.testing.assert_allclose(short_term_summary(x).numpy(), ref.mean(0), rtol=1e-4, atol=1e-6)
    return ours, ref


def test_matches_pyaudioanalysis_reference_on_synthetic_signal():
    ours, ref = _compare(_signal())
    assert len(FEATURE_NAMES) == 34 and len(SUMMARY_NAMES) == 68
    # frames 20..26 lie inside the 0.2 s of zeros, a constant after DC removal: no zero crossing,
    # no change of spectrum from one frame to the next
    silent = ours[21:27]
    assert np.all(silent[:, FEATURE_NAMES.index("zcr")] == 0.0)
    np.testing.assert_allclose(silent[:, FEATURE_NAMES.index("spectral_flux")], 0.0, atol=1e-12)
    tone = ours[3]
    assert abs(tone[FEATURE_NAMES.index("spectral_centroid")] * 8000 - 220) < 400
    assert tone[FEATURE_NAMES.index("zcr")] == pytest.approx(2 * 220 / 16000, rel=0.2)


@pytest.mark.data
def test_matches_pyaudioanalysis_reference_on_emodb(data_dir):
    from emozoo.data.audio import load_audio
    x, _ = load_audio(corpus_dir(data_dir, "emodb") / "wav" / "03a01Fa.flac", 16000)
    _compare(x)


def test_scale_invariant_and_deterministic():
    x = _signal().astype(np.float64)   # (float32 rounding of the exact silence would move its log10 MFCCs)
    a = short_term_summary(x).numpy()
    np.testing.assert_allclose(short_term_summary(0.1 * x).numpy(), a, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(short_term_summary(x).numpy(), a)


def test_bad_inputs():
    with pytest.raises(FeatureError, match="too short"):
        short_term_summary(np.zeros(799, np.float32))
    with pytest.raises(FeatureError, match="mono"):
        short_term_features(np.zeros((2, 1600), np.float32))
    with pytest.raises(FeatureError, match="sample_rate"):
        short_term_features(np.zeros(1600, np.float32), 0)


@pytest.mark.data
def test_matches_the_pyaudioanalysis_package_on_emodb(data_dir):
    """The library itself (optional: ``pip install --no-deps pyAudioAnalysis==0.3.14``; its
    ShortTermFeatures module needs only numpy, scipy, matplotlib and tqdm)."""
    stf = pytest.importorskip("pyAudioAnalysis.ShortTermFeatures",
                              reason="pyAudioAnalysis not installed (pip install --no-deps pyAudioAnalysis==0.3.14)")
    from emozoo.data.audio import load_audio
    x, _ = load_audio(corpus_dir(data_dir, "emodb") / "wav" / "03a01Fa.flac", 16000)
    # pyAudioAnalysis takes int16-scaled samples and divides them by 2**15 itself
    ref, names = stf.feature_extraction(x.astype(np.float64) * 2 ** 15, 16000, 800, 400, deltas=True)
    ref = ref.T
    assert list(names) == FEATURE_NAMES + [f"delta {n}" for n in FEATURE_NAMES]
    ours = short_term_features(x).numpy()
    assert ours.shape == ref.shape
    scale = np.maximum(np.abs(ref).max(0), 1e-3)
    np.testing.assert_allclose(ours / scale, ref / scale, atol=2e-5, rtol=0)
