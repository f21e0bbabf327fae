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

Execution (issue 21, ``docs/performance.md`` section 3): an eager call runs one cached
``tf.function`` per feature, parameter set and input rank, traced once for any length and batch
size (its concrete function is called directly), so per-clip calls never run op by op; inside a
graph (``tf.data`` map, ``tf.function``, SavedModel, Keras) the ops are built inline. The window
and the Mel matrix are numpy constants built once per parameter set; frames are flattened to
``[frames, win]`` for one FFT and one Mel product, computed as 8 runs of consecutive filters over
the bins they cover (:func:`band_groups`: 4.3 k instead of 32.9 k multiply-adds per frame at the
defaults).

Example:

>>> import numpy as np
>>> x = np.sin(2 * np.pi * 440 * np.arange(16000) / 16000).astype("float32")
>>> log_mel(x).shape
TensorShape([98, 128])
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from emozoo.errors import FeatureError

MEL_GROUPS = 8  # consecutive-filter groups of the banded Mel product (measured: 8 beats 1, 4 and 16)


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


# --- how a call runs -----------------------------------------------------------------------------
# Every public function below validates its Python arguments, then either
# * builds its ops inline when it is called inside a graph (tf.data map, tf.function, SavedModel,
#   a Keras model's compiled step), or
# * when called eagerly, runs one cached ``tf.function`` per (feature, parameters, input rank) whose
#   input signature leaves every dimension unknown, so clips of any length (and any batch size)
#   reuse one graph: per-clip calls never run op by op (``_graph_fn``, traced once).
# The constants (window, Mel matrix) are numpy arrays built once per parameter set.

@dataclass(frozen=True)
class _Plan:
    kind: str                      # "power", "mel" or "spectrogram"
    sample_rate: int
    win: int
    hop: int
    fft_length: int
    n_out: int = 0                 # n_mels / n_bins
    fmin: float = 0.0
    fmax: float = 0.0
    eps: float = 0.0

    @property
    def dims(self) -> int:
        return self.fft_length // 2 + 1 if self.kind == "power" else self.n_out


@functools.lru_cache(maxsize=None)
def _window(win: int) -> np.ndarray:
    """Periodic Hann window of ``win`` samples (``tf.signal.hann_window``'s values)."""
    with tf.init_scope():
        return tf.signal.hann_window(win, periodic=True).numpy()


@functools.lru_cache(maxsize=None)
def _mel_matrix(n_mels: int, n_bins: int, sample_rate: int, fmin: float, fmax: float) -> np.ndarray:
    with tf.init_scope():
        return tf.signal.linear_to_mel_weight_matrix(n_mels, n_bins, sample_rate, fmin, fmax).numpy()


def band_groups(matrix: np.ndarray, groups: int = MEL_GROUPS) -> tuple[tuple[int, int, int, int], ...]:
    """Split a triangular filterbank ``[bins, filters]`` into ``groups`` runs of consecutive filters.

    Returns ``(first_bin, end_bin, first_filter, end_filter)`` per run: the run's filters are zero
    outside ``[first_bin, end_bin)``, so ``power @ matrix`` equals the concatenation of the runs'
    products ``power[:, first_bin:end_bin] @ matrix[first_bin:end_bin, first_filter:end_filter]``
    with about ``groups`` times fewer multiply-adds (Mel filters are narrow bands).
    """
    n_filters = matrix.shape[1]
    edges = np.linspace(0, n_filters, min(groups, n_filters) + 1).round().astype(int)
    out = []
    for a, b in zip(edges[:-1], edges[1:]):
        rows = np.flatnonzero(np.any(matrix[:, a:b] != 0, axis=1))
        lo, hi = (int(rows[0]), int(rows[-1]) + 1) if rows.size else (0, 1)
        out.append((lo, hi, int(a), int(b)))
    return tuple(out)


def banded_matmul(power: tf.Tensor, matrix: np.ndarray, groups) -> tf.Tensor:
    """``power [F, bins] @ matrix [bins, filters]`` computed run by run (see :func:`band_groups`)."""
    if len(groups) == 1:
        return tf.linalg.matmul(power, tf.constant(matrix))
    parts = [tf.linalg.matmul(power[:, lo:hi], tf.constant(matrix[lo:hi, a:b])) for lo, hi, a, b in groups]
    return tf.concat(parts, axis=-1)


def _features(plan: _Plan, x: tf.Tensor) -> tf.Tensor:
    """The ops of one feature on a float32 waveform ``[..., samples]`` -> ``[..., frames, dims]``."""
    short = tf.maximum(plan.win - tf.shape(x)[-1], 0)
    pad = tf.concat([tf.zeros([tf.rank(x) - 1, 2], tf.int32), [[0, short]]], axis=0)
    frames = tf.signal.frame(tf.pad(x, pad), plan.win, plan.hop)           # [..., T, win]
    lead = tf.shape(frames)[:-1]
    flat = tf.reshape(frames, [-1, plan.win]) * tf.constant(_window(plan.win))   # [F, win]
    spec = tf.signal.rfft(flat, [plan.fft_length])                          # [F, fft // 2 + 1]
    power = tf.math.square(tf.math.real(spec)) + tf.math.square(tf.math.imag(spec))
    if plan.kind == "mel":
        matrix = _mel_matrix(plan.n_out, plan.fft_length // 2 + 1, plan.sample_rate, plan.fmin, plan.fmax)
        out = tf.math.log(banded_matmul(power, matrix, band_groups(matrix)) + plan.eps)
    elif plan.kind == "spectrogram":
        half = plan.fft_length // 2
        bands = tf.reshape(power[:, :half], [-1, plan.n_out, half // plan.n_out])
        out = tf.math.log(tf.reduce_mean(bands, axis=-1) + plan.eps)
    else:
        out = power
    out = tf.reshape(out, tf.concat([lead, [plan.dims]], axis=0))
    if not tf.executing_eagerly():
        out.set_shape(frames.shape[:-1].concatenate([plan.dims]))
    return out


@functools.lru_cache(maxsize=None)
def _graph_fn(plan: _Plan, rank: int):
    """The cached ``tf.function`` that eager calls of ``plan`` on rank-``rank`` inputs run (traced once)."""
    return tf.function(functools.partial(_features, plan),
                       input_signature=[tf.TensorSpec([None] * rank, tf.float32)])


@functools.lru_cache(maxsize=None)
def _concrete_fn(plan: _Plan, rank: int):
    """The concrete function of :func:`_graph_fn` (calling it skips the signature binding: ~0.3 ms a call)."""
    return _graph_fn(plan, rank).get_concrete_function()


def _run(plan: _Plan, waveform) -> tf.Tensor:
    if isinstance(waveform, np.ndarray) and tf.executing_eagerly():
        if waveform.dtype.kind != "f":
            raise FeatureError(f"waveform must be float samples in [-1, 1], got dtype {waveform.dtype}")
        x = tf.constant(np.asarray(waveform, np.float32))
        rank = x.shape.rank
    else:
        x = tf.convert_to_tensor(waveform)
        if x.dtype not in (tf.float32, tf.float64, tf.float16, tf.bfloat16):
            raise FeatureError(f"waveform must be float samples in [-1, 1], got dtype {x.dtype.name}")
        if x.dtype != tf.float32:
            x = tf.cast(x, tf.float32)
        rank = x.shape.rank
    if rank == 0:
        raise FeatureError("waveform must have a time axis ([..., samples]), got a scalar")
    if tf.executing_eagerly():
        return _concrete_fn(plan, rank)(x)
    return _features(plan, x)


def power_spectrogram(waveform, sample_rate: int = 16000, *, win_ms: float = 25.0, hop_ms: float = 10.0,
                      fft_length: int | None = None) -> tf.Tensor:
    """``|STFT|^2`` ``[..., frames, fft_length // 2 + 1]`` of a float waveform ``[..., samples]``."""
    win, hop, fft_length = _frame_params(sample_rate, win_ms, hop_ms, fft_length)
    return _run(_Plan("power", sample_rate, win, hop, fft_length), waveform)


def log_mel(waveform, sample_rate: int = 16000, *, n_mels: int = 128, win_ms: float = 25.0,
            hop_ms: float = 10.0, fft_length: int | None = None, fmin: float = 20.0,
            fmax: float | None = None, eps: float = 1e-6) -> tf.Tensor:
    """Log-Mel energies ``[..., frames, n_mels]`` of a float waveform ``[..., samples]``.

    Frames are Hann-windowed, ``win_ms`` long every ``hop_ms``; the power
    spectrum is mapped onto ``n_mels`` triangular Mel filters between ``fmin``
    and ``fmax`` (default Nyquist), then ``log(energy + eps)``. A waveform
    shorter than one window is zero-padded to one frame. Eager calls run one
    cached graph per parameter set (any length, traced once); calls inside a
    graph build the ops inline.

    Args:
        waveform: float samples ``[..., samples]`` (a batch is fine).
        sample_rate: Hz (Python int).
        n_mels: Mel bands (seed 003: 128).
        win_ms, hop_ms: window and shift (seed 003: 25 ms, 10 ms).
        fft_length: FFT size, default the next power of two of the window.
        fmin, fmax: band edges in Hz (``fmax`` default ``sample_rate / 2``).
        eps: floor added before the log (silence gives ``log(eps)``, never -inf).
    """
    win, hop, fft_length = _frame_params(sample_rate, win_ms, hop_ms, fft_length)
    fmax = sample_rate / 2.0 if fmax is None else float(fmax)
    if not 0.0 <= fmin < fmax <= sample_rate / 2.0:
        raise FeatureError(f"need 0 <= fmin < fmax <= sample_rate / 2, got fmin={fmin}, fmax={fmax}, "
                           f"sample_rate={sample_rate!r}")
    if isinstance(n_mels, bool) or not isinstance(n_mels, (int, np.integer)) or n_mels < 1:
        raise FeatureError(f"n_mels must be an int >= 1, got {n_mels!r}")
    return _run(_Plan("mel", sample_rate, win, hop, fft_length, int(n_mels), float(fmin), fmax, float(eps)),
                waveform)


def log_spectrogram(waveform, sample_rate: int = 16000, *, n_bins: int = 128, win_ms: float = 25.0,
                    hop_ms: float = 10.0, fft_length: int | None = None, eps: float = 1e-6) -> tf.Tensor:
    """The 128-bin log FFT spectrogram ``[..., frames, n_bins]`` (seed 003's "FFT" feature).

    The ``fft_length // 2`` lowest power bins (the Nyquist bin dropped) are
    averaged in groups of ``fft_length // 2 // n_bins`` adjacent bins, giving
    ``n_bins`` equal-width linear bands from 0 Hz to Nyquist; then
    ``log(. + eps)``. With the defaults (512-point FFT) each band is two bins,
    62.5 Hz wide.
    """
    win, hop, fft_length = _frame_params(sample_rate, win_ms, hop_ms, fft_length)
    half = fft_length // 2
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1 or half % n_bins:
        raise FeatureError(f"n_bins={n_bins} must divide fft_length // 2 = {half}")
    return _run(_Plan("spectrogram", sample_rate, win, hop, fft_length, int(n_bins), eps=float(eps)), waveform)


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
