"""Frame-level log-Mel filterbank ("Fbank") and FFT spectrogram features in TensorFlow (``tf.signal``).

Pure TF ops, so the same functions run eagerly, inside ``tf.data`` and inside
an exported SavedModel (tested). Defaults follow seed 003 (Liang et al. 2019,
CT-GAN, section IV-B "Multi-modality Features"): 25 ms window, 10 ms shift,
128 values per frame, at 16 kHz; models read fixed-width crops of 128 frames
(:func:`crop_frames`).

Framing (the definition the parity tests reproduce with NumPy and librosa):
frame ``t`` is ``x[t * hop : t * hop + win]`` with ``win = round(rate * win_ms / 1000)``
(400 samples) and ``hop = round(rate * hop_ms / 1000)`` (160), for
``t = 0 .. 1 + (n - win) // hop - 1`` (no padding, a signal shorter than one
window is zero-padded to one frame); each frame is multiplied by a periodic
Hann window of ``win`` samples, zero-padded at its end to ``fft_length``
(default the next power of two, 512) and transformed by a real FFT.

* :func:`log_mel`: ``log(P @ M + eps)``, ``P`` the power spectrum
  ``|X|^2`` (257 bins), ``M`` TensorFlow's HTK-Mel triangular filterbank
  (``tf.signal.linear_to_mel_weight_matrix``: ``n_mels`` triangles equally
  spaced on ``mel = 1127 ln(1 + f / 700)`` between ``fmin`` and ``fmax``,
  unit peak, the DC bin excluded).
* :func:`log_spectrogram`: the 128-bin "FFT" feature: power bins 0..255 of the
  512-point FFT averaged in adjacent pairs (128 linear bands of 62.5 Hz from
  0 to 8 kHz; the Nyquist bin is dropped), then ``log(. + eps)``.

Example:

>>> import numpy as np
>>> x = np.sin(2 * np.pi * 440 * np.arange(16000) / 16000).astype("float32")
>>> log_mel(x).shape
TensorShape([98, 128])
"""
from __future__ import annotations

import tensorflow as tf

from emozoo.errors import FeatureError


def _frame_params(sample_rate, win_ms: float, hop_ms: float, fft_length: int | None) -> tuple[int, int, int]:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
        raise FeatureError(f"sample_rate must be a positive Python int (Hz), got {sample_rate!r}")
    win = int(round(sample_rate * win_ms / 1000.0))
    hop = int(round(sample_rate * hop_ms / 1000.0))
    if win < 2 or hop < 1:
        raise FeatureError(f"win_ms={win_ms}, hop_ms={hop_ms} at {sample_rate} Hz give a window of {win} "
                           f"and a hop of {hop} samples; both must be at least 1 (window 2)")
    if fft_length is None:
        fft_length = 1 << (win - 1).bit_length()
    if fft_length < win:
        raise FeatureError(f"fft_length {fft_length} is shorter than the window ({win} samples)")
    return win, hop, int(fft_length)


def num_frames(num_samples: int, sample_rate: int = 16000, *, win_ms: float = 25.0, hop_ms: float = 10.0) -> int:
    """Frames :func:`log_mel` / :func:`log_spectrogram` give for ``num_samples`` samples."""
    win, hop, _ = _frame_params(sample_rate, win_ms, hop_ms, None)
    return 1 + max(int(num_samples) - win, 0) // hop


def power_spectrogram(waveform, sample_rate: int = 16000, *, win_ms: float = 25.0, hop_ms: float = 10.0,
                      fft_length: int | None = None) -> tf.Tensor:
    """``|STFT|^2`` ``[..., frames, fft_length // 2 + 1]`` of a float waveform ``[..., samples]``."""
    win, hop, fft_length = _frame_params(sample_rate, win_ms, hop_ms, fft_length)
    x = tf.convert_to_tensor(waveform)
    if x.dtype not in (tf.float32, tf.float64, tf.float16, tf.bfloat16):
        raise FeatureError(f"waveform must be float samples in [-1, 1], got dtype {x.dtype.name}")
    x = tf.cast(x, tf.float32)
    if x.shape.rank == 0:
        raise FeatureError("waveform must have a time axis ([..., samples]), got a scalar")
    short = tf.maximum(win - tf.shape(x)[-1], 0)
    pad = tf.concat([tf.zeros([tf.rank(x) - 1, 2], tf.int32), [[0, short]]], axis=0)
    x = tf.pad(x, pad)
    stft = tf.signal.stft(x, frame_length=win, frame_step=hop, fft_length=fft_length,
                          window_fn=tf.signal.hann_window, pad_end=False)
    return tf.math.square(tf.abs(stft))


def log_mel(waveform, sample_rate: int = 16000, *, n_mels: int = 128, win_ms: float = 25.0,
            hop_ms: float = 10.0, fft_length: int | None = None, fmin: float = 20.0,
            fmax: float | None = None, eps: float = 1e-6) -> tf.Tensor:
    """Log-Mel energies ``[..., frames, n_mels]`` of a float waveform ``[..., samples]``.

    Frames are Hann-windowed, ``win_ms`` long every ``hop_ms``; the power
    spectrum is mapped onto ``n_mels`` triangular Mel filters between ``fmin``
    and ``fmax`` (default Nyquist), then ``log(energy + eps)``. A waveform
    shorter than one window is zero-padded to one frame.

    Args:
        waveform: float samples ``[..., samples]`` (a batch is fine).
        sample_rate: Hz (Python int).
        n_mels: Mel bands (seed 003: 128).
        win_ms, hop_ms: window and shift (seed 003: 25 ms, 10 ms).
        fft_length: FFT size, default the next power of two of the window.
        fmin, fmax: band edges in Hz (``fmax`` default ``sample_rate / 2``).
        eps: floor added before the log (silence gives ``log(eps)``, never -inf).
    """
    _frame_params(sample_rate, win_ms, hop_ms, fft_length)
    fmax = sample_rate / 2.0 if fmax is None else float(fmax)
    if not 0.0 <= fmin < fmax <= sample_rate / 2.0:
        raise FeatureError(f"need 0 <= fmin < fmax <= sample_rate / 2, got fmin={fmin}, fmax={fmax}, "
                           f"sample_rate={sample_rate!r}")
    if n_mels < 1:
        raise FeatureError(f"n_mels must be >= 1, got {n_mels}")
    power = power_spectrogram(waveform, sample_rate, win_ms=win_ms, hop_ms=hop_ms, fft_length=fft_length)
    mel = tf.signal.linear_to_mel_weight_matrix(n_mels, power.shape[-1], sample_rate, fmin, fmax)
    return tf.math.log(tf.tensordot(power, mel, 1) + eps)


def log_spectrogram(waveform, sample_rate: int = 16000, *, n_bins: int = 128, win_ms: float = 25.0,
                    hop_ms: float = 10.0, fft_length: int | None = None, eps: float = 1e-6) -> tf.Tensor:
    """The 128-bin log FFT spectrogram ``[..., frames, n_bins]`` (seed 003's "FFT" feature).

    The ``fft_length // 2`` lowest power bins (the Nyquist bin dropped) are
    averaged in groups of ``fft_length // 2 // n_bins`` adjacent bins, giving
    ``n_bins`` equal-width linear bands from 0 Hz to Nyquist; then
    ``log(. + eps)``. With the defaults (512-point FFT) each band is two bins,
    62.5 Hz wide.
    """
    power = power_spectrogram(waveform, sample_rate, win_ms=win_ms, hop_ms=hop_ms, fft_length=fft_length)
    half = int(power.shape[-1]) - 1
    if n_bins < 1 or half % n_bins:
        raise FeatureError(f"n_bins={n_bins} must divide fft_length // 2 = {half}")
    group = half // n_bins
    p = power[..., :half]
    p = tf.reshape(p, tf.concat([tf.shape(p)[:-1], [n_bins, group]], axis=0))
    return tf.math.log(tf.reduce_mean(p, axis=-1) + eps)


def crop_frames(frames, width: int = 128, *, mode: str = "center", seed=None) -> tf.Tensor:
    """A fixed-width crop ``[width, dims]`` of a frame sequence ``[frames, dims]`` (seed 003: 128 frames).

    Longer sequences are cropped (``center``, ``start`` or ``random`` offset,
    the last for training; ``seed`` a ``[2]`` int tensor makes it stateless and
    reproducible); shorter ones are zero-padded at the end. Works on tensors
    inside ``tf.data`` and graphs.
    """
    if mode not in ("center", "start", "random"):
        raise FeatureError(f"mode must be 'center', 'start' or 'random', got {mode!r}")
    if width < 1:
        raise FeatureError(f"width must be >= 1, got {width}")
    x = tf.convert_to_tensor(frames)
    if x.shape.rank is not None and x.shape.rank != 2:
        raise FeatureError(f"frames must be [frames, dims], got shape {x.shape}")
    n = tf.shape(x)[0]
    extra = tf.maximum(n - width, 0)
    if mode == "start":
        start = tf.constant(0)
    elif mode == "center":
        start = extra // 2
    elif seed is not None:
        start = tf.random.stateless_uniform([], seed, 0, extra + 1, dtype=tf.int32)
    else:
        start = tf.random.uniform([], 0, extra + 1, dtype=tf.int32)
    x = x[start:start + width]
    x = tf.pad(x, [[0, width - tf.shape(x)[0]], [0, 0]])
    return tf.ensure_shape(x, [width, x.shape[-1]])


def functionals(frames) -> tf.Tensor:
    """Per-clip summary ``[..., 2 * dims]``: mean then standard deviation over frames (axis -2)."""
    frames = tf.convert_to_tensor(frames, tf.float32)
    if frames.shape.rank is not None and frames.shape.rank < 2:
        raise FeatureError(f"functionals needs [..., frames, dims], got shape {frames.shape}")
    mean, var = tf.nn.moments(frames, axes=[-2])
    return tf.concat([mean, tf.sqrt(var)], axis=-1)


def crop_dataset(store, split=None, *, feature: str = "fbank", width: int = 128, mode: str = "random",
                 seed: int = 0, batch_size: int | None = 32, labelled_only: bool = True, shuffle: bool = False,
                 keep_meta=()) -> tf.data.Dataset:
    """``(crops [B, width, bins], labels [B])`` (plus a meta dict) from a frame-level store.

    Every clip of an ``fbank`` / ``spectrogram`` store (:mod:`emozoo.extract`) gives
    one fixed-width crop per pass (:func:`crop_frames`): ``mode="random"`` for
    training (a new window each epoch, reproducible from ``seed``), ``"center"``
    for evaluation.

    Args:
        store: the store folder (``tfrecords/iemocap_fbank``).
        split: store split(s), None for all.
        feature: the frame-level feature.
        width: frames per crop (seed 003: 128).
        labelled_only: drop clips with label -1.
        keep_meta: manifest columns returned as a third element (``speaker``, ``culture``).
    """
    from emozoo.data.tfrecord import load_spec, read_store
    from emozoo.errors import SchemaError
    spec = load_spec(store)
    if feature not in spec.names or not spec[feature].variable or len(spec[feature].shape) != 2:
        raise SchemaError(f"store {store} has no frame-level feature {feature!r} ([frames, bins]); "
                          f"it has {spec.names}")
    ds = read_store(store, split, features=[feature, "label", *keep_meta])
    if labelled_only:
        ds = ds.filter(lambda ex: ex["label"] >= 0)
    if shuffle:
        ds = ds.shuffle(10_000, seed=seed, reshuffle_each_iteration=True)
    if mode == "random":
        # one stateless seed per example from a seeded random stream that changes every epoch
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        ds = tf.data.Dataset.zip((ds, seeds))

        def crop(ex, s):
            s = tf.cast(s % (2 ** 31 - 1), tf.int32)
            return _to_xy(ex, crop_frames(ex[feature], width, mode="random", seed=s), keep_meta)
    else:
        def crop(ex):
            return _to_xy(ex, crop_frames(ex[feature], width, mode=mode), keep_meta)
    ds = ds.map(crop, num_parallel_calls=tf.data.AUTOTUNE)
    if batch_size:
        ds = ds.batch(batch_size)
    return ds.prefetch(tf.data.AUTOTUNE)


def _to_xy(ex, x, keep_meta):
    if keep_meta:
        return x, ex["label"], {k: ex[k] for k in keep_meta}
    return x, ex["label"]
