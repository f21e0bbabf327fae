"""Audio loading, resampling, cropping and segmentation, in NumPy and in tf.data.

One entry point, :func:`load_audio`, turns any supported file (or its bytes) into
a float32 waveform in [-1, 1] at the requested sample rate:

======================  ===================================================
container (sniffed)     decoders tried, in order
======================  ===================================================
WAV (RIFF/WAVE)         ``tf.audio.decode_wav`` (16-bit PCM only), then
                        soundfile (24/32-bit, float, u8, ADPCM, mu-law,
                        WAVE_FORMAT_EXTENSIBLE), then PyAV
FLAC, OGG, AIFF, RF64   soundfile, then PyAV
anything else           PyAV (mp3, m4a/aac, audio track of mp4/avi/mkv ...)
======================  ===================================================

The container is recognised from the file's first bytes, not its extension, so
a mis-named file still decodes. Resampling is :func:`scipy.signal.resample_poly`
with the exact rational factor ``target/orig`` reduced by their gcd, so it is
deterministic and frequency-preserving (tested with a 440 Hz sine).

Every failure is an :class:`~emozoo.errors.AudioDecodeError` whose message names
the file and says what to do: missing file, empty file, undecodable bytes (with
each decoder's own message), no samples, NaN/inf samples, silent audio.

Example:

>>> x, rate = load_audio("emodb/wav/03a01Fa.flac")          # doctest: +SKIP
>>> rate, x.dtype, x.shape                                   # doctest: +SKIP
(16000, dtype('float32'), (32000,))
"""
from __future__ import annotations

import io
import math
import os
import struct
from pathlib import Path
from typing import Callable, Union

import numpy as np
import scipy.signal
import tensorflow as tf

from emozoo.errors import AudioDecodeError

AudioSource = Union[str, os.PathLike, bytes, bytearray, memoryview]

_SNIFF_BYTES = 4096
_CROP_MODES = ("center", "start", "random")
_PAD_MODES = ("constant", "wrap")


# --------------------------------------------------------------------------- source handling


def _describe(source: AudioSource) -> str:
    """A short name of ``source`` for error messages."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return f"<{len(source)} bytes in memory>"
    return str(source)


def _open_source(source: AudioSource, error_cls: type = AudioDecodeError):
    """Check ``source`` and return ``(name, path_or_None, head_bytes)``.

    Raises ``error_cls`` when the path does not exist, is not a file, or the file
    or buffer is empty.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        name = _describe(source)
        if not data:
            raise error_cls(f"{name}: the buffer is empty (0 bytes); pass the file's content "
                            "or its path")
        return name, None, data[:_SNIFF_BYTES]
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"source must be a path (str/PathLike) or bytes, got {type(source).__name__}")
    path = Path(source)
    name = str(path)
    if not path.exists():
        raise error_cls(f"{name}: no such file; check the path (and EMOZOO_DATA_DIR for corpus files)")
    if not path.is_file():
        raise error_cls(f"{name}: is not a regular file (a directory?); pass the path of a media file")
    size = path.stat().st_size
    if size == 0:
        raise error_cls(f"{name}: the file is empty (0 bytes); re-copy or re-export it, or drop it "
                        "from the manifest")
    with open(path, "rb") as f:
        head = f.read(_SNIFF_BYTES)
    return name, path, head


def _as_file(path: Path | None, source: AudioSource):
    """What decoders open: the path itself, or a fresh BytesIO over in-memory bytes."""
    return str(path) if path is not None else io.BytesIO(bytes(source))


def _read_bytes(path: Path | None, source: AudioSource) -> bytes:
    if path is None:
        return bytes(source)
    return path.read_bytes()


def sniff_container(head: bytes) -> str:
    """Recognise an audio container from a file's first bytes.

    Args:
        head: the first bytes of the file (at least 12 for RIFF/AIFF).

    Returns:
        ``"wav"``, ``"flac"``, ``"ogg"``, ``"aiff"``, ``"sndfile"`` (other
        libsndfile formats: RF64, W64, CAF, AU) or ``"other"`` (left to PyAV).
    """
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[:4] in (b"RF64", b"BW64", b"RIFX", b"caff", b".snd") or head[:4] == b"riff":
        return "sndfile"
    return "other"


def _wav_is_16bit_pcm(head: bytes) -> bool | None:
    """Whether a WAV header describes plain 16-bit PCM (what ``tf.audio.decode_wav`` reads).

    Returns None when the ``fmt `` chunk is not within ``head``.
    """
    pos = 12
    while pos + 8 <= len(head):
        chunk_id, chunk_size = head[pos:pos + 4], struct.unpack("<I", head[pos + 4:pos + 8])[0]
        if chunk_id == b"fmt ":
            if pos + 8 + 16 > len(head):
                return None
            audio_format, = struct.unpack("<H", head[pos + 8:pos + 10])
            bits, = struct.unpack("<H", head[pos + 22:pos + 24])
            # tf's reader accepts format 1 (PCM), 16 bits, fmt chunk of 16 or 18 bytes only.
            return audio_format == 1 and bits == 16 and chunk_size in (16, 18)
        pos += 8 + chunk_size + (chunk_size & 1)
    return None


# --------------------------------------------------------------------------- decoders
# Each returns (samples float32 [n, channels], sample_rate) or raises.


def _decode_tf_wav(path: Path | None, source: AudioSource):
    audio, rate = tf.audio.decode_wav(_read_bytes(path, source))
    return audio.numpy().astype(np.float32, copy=False), int(rate.numpy())


def _decode_soundfile(path: Path | None, source: AudioSource):
    import soundfile

    data, rate = soundfile.read(_as_file(path, source), dtype="float32", always_2d=True)
    return data, int(rate)


_PYAV_SCALE = {"u8": (128.0, 128.0), "s16": (0.0, 32768.0), "s32": (0.0, 2.0 ** 31),
               "s64": (0.0, 2.0 ** 63), "flt": (0.0, 1.0), "dbl": (0.0, 1.0)}


def _pyav_frame_to_array(frame) -> np.ndarray:
    """One PyAV AudioFrame as float32 ``[samples, channels]`` in [-1, 1]."""
    fmt = frame.format.name
    base = fmt[:-1] if fmt.endswith("p") else fmt
    if base not in _PYAV_SCALE:
        raise ValueError(f"unsupported PyAV sample format {fmt!r}")
    channels = frame.layout.nb_channels
    raw = frame.to_ndarray()
    if frame.format.is_planar:
        arr = raw.T  # (channels, n) -> (n, channels)
    else:
        arr = raw.reshape(-1, channels)
    offset, scale = _PYAV_SCALE[base]
    arr = arr.astype(np.float64 if base in ("s32", "s64", "dbl") else np.float32)
    if offset:
        arr = arr - offset
    if scale != 1.0:
        arr = arr / scale
    return arr.astype(np.float32, copy=False)


class _NoAudioStream(Exception):
    """Internal: the container holds no audio stream."""


def _decode_pyav(path: Path | None, source: AudioSource):
    """Decode the first audio stream of any container PyAV/FFmpeg can open.

    For MP4/MOV the decoded length is trimmed to the stream's declared duration,
    which removes the AAC encoder's padding of the last frame (exact there,
    unlike the bit-rate estimate of e.g. MP3 durations, which is not used).
    """
    import av

    with av.open(_as_file(path, source), mode="r") as container:
        if not container.streams.audio:
            kinds = sorted({s.type for s in container.streams}) or ["none"]
            raise _NoAudioStream(f"no audio stream (streams: {', '.join(kinds)})")
        stream = container.streams.audio[0]
        stream.thread_type = "AUTO"
        chunks, rate, channels = [], None, None
        for frame in container.decode(stream):
            arr = _pyav_frame_to_array(frame)
            if rate is None:
                rate, channels = int(frame.sample_rate), arr.shape[1]
            elif frame.sample_rate != rate or arr.shape[1] != channels:
                raise ValueError(f"the stream changes from {rate} Hz x{channels} to "
                                 f"{frame.sample_rate} Hz x{arr.shape[1]} mid-way")
            chunks.append(arr)
        if rate is None:  # no frame decoded: use the stream's declared parameters
            rate = int(stream.rate or stream.codec_context.sample_rate or 0)
            channels = max(1, int(stream.codec_context.channels or 1))
            return np.zeros((0, channels), np.float32), rate
        data = np.concatenate(chunks, axis=0)
        fmt_names = container.format.name.split(",")
        if stream.duration is not None and stream.time_base and {"mov", "mp4"} & set(fmt_names):
            declared = int(round(stream.duration * stream.time_base * rate))
            if 0 < declared < len(data):
                data = data[:declared]
    return data, rate


def _decoders_for(kind: str, head: bytes) -> list[tuple[str, Callable]]:
    if kind == "wav":
        chain = []
        if _wav_is_16bit_pcm(head) is not False:
            chain.append(("tf.audio.decode_wav", _decode_tf_wav))
        return chain + [("soundfile", _decode_soundfile), ("PyAV", _decode_pyav)]
    if kind in ("flac", "ogg", "aiff", "sndfile"):
        return [("soundfile", _decode_soundfile), ("PyAV", _decode_pyav)]
    return [("PyAV", _decode_pyav)]


def decode_audio(source: AudioSource) -> tuple[np.ndarray, int]:
    """Decode ``source`` as is: no down-mix, no resampling, no checks on the samples.

    Args:
        source: path (``str``/``PathLike``) or the file's bytes (``bytes`` are
            always content, never a path).

    Returns:
        ``(samples, sample_rate)``: float32 ``[n, channels]`` and the file's rate.

    Raises:
        AudioDecodeError: the file is missing or empty, or no decoder could read it.
    """
    name, path, head = _open_source(source)
    kind = sniff_container(head)
    failures = []
    for decoder_name, decoder in _decoders_for(kind, head):
        try:
            data, rate = decoder(path, source)
        except _NoAudioStream as exc:
            failures.append(f"{decoder_name}: {exc}")
            break
        except Exception as exc:  # each library raises its own types; all mean "cannot decode"
            message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            failures.append(f"{decoder_name}: {message.strip().splitlines()[-1]}")
            continue
        if rate <= 0:
            failures.append(f"{decoder_name}: reports sample rate {rate}")
            continue
        return np.ascontiguousarray(data, dtype=np.float32), rate
    raise AudioDecodeError(
        f"{name}: cannot decode audio ({kind} container sniffed from its first bytes); "
        f"{'; '.join(failures)}. The file is corrupt, truncated or not audio: re-export it "
        "(e.g. `ffmpeg -i in -ar 16000 out.wav`) or drop it from the manifest")


# --------------------------------------------------------------------------- signal helpers


def _check_rate(rate, what: str) -> int:
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer, float, np.floating)):
        raise TypeError(f"{what} must be a positive integer sample rate in Hz, got {rate!r}")
    if rate <= 0 or float(rate) != int(rate):
        raise ValueError(f"{what} must be a positive integer sample rate in Hz, got {rate!r}")
    return int(rate)


def resample(x: np.ndarray, orig_rate: int, target_rate: int) -> np.ndarray:
    """Resample along axis 0 by the exact rational factor ``target_rate / orig_rate``.

    Uses :func:`scipy.signal.resample_poly` with ``up = target/g``, ``down =
    orig/g`` (``g = gcd``), so the result is deterministic. The output has
    ``round(n * target_rate / orig_rate)`` samples (halves round up).

    Args:
        x: waveform ``[n]`` or ``[n, channels]`` (any float dtype; kept).
        orig_rate: sample rate of ``x`` in Hz.
        target_rate: wanted sample rate in Hz.

    Returns:
        The resampled waveform (``x`` itself when the rates are equal).
    """
    orig_rate = _check_rate(orig_rate, "orig_rate")
    target_rate = _check_rate(target_rate, "target_rate")
    x = np.asarray(x)
    if orig_rate == target_rate:
        return x
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
    g = math.gcd(orig_rate, target_rate)
    up, down = target_rate // g, orig_rate // g
    n = x.shape[0]
    out_len = (2 * n * up + down) // (2 * down)  # round half up, in exact integers
    if n == 0:
        return np.zeros((0,) + x.shape[1:], x.dtype)
    y = scipy.signal.resample_poly(x, up, down, axis=0)
    return np.ascontiguousarray(y[:out_len], dtype=x.dtype)


def downmix(x: np.ndarray) -> np.ndarray:
    """Average the channels of ``x`` ``[n, channels]`` into mono ``[n]`` (``[n]`` passes through).

    Args:
        x: waveform ``[n]`` or ``[n, channels]``.

    Returns:
        The mono waveform ``[n]`` (float32 unless ``x`` is float64).
    """
    x = np.asarray(x)
    if x.ndim == 1:
        return x
    if x.ndim != 2:
        raise ValueError(f"downmix expects [n] or [n, channels], got shape {x.shape}")
    dtype = x.dtype if np.issubdtype(x.dtype, np.floating) else np.float32
    return x.mean(axis=1, dtype=np.float64).astype(dtype)


def _offset(span: int, mode: str, rng) -> int:
    if mode == "start":
        return 0
    if mode == "center":
        return span // 2
    return int(np.random.default_rng(rng).integers(0, span + 1))


def crop_or_pad(x: np.ndarray, length: int, *, mode: str = "center", rng=None,
                pad_mode: str = "constant") -> np.ndarray:
    """Crop or pad ``x`` along axis 0 to exactly ``length`` samples.

    Args:
        x: array ``[n, ...]``.
        length: wanted number of samples (>= 1).
        mode: where the kept window / the original signal sits: ``"center"``
            (crop the middle, pad both sides equally, one extra on the right),
            ``"start"`` (keep the beginning, pad at the end) or ``"random"``
            (uniform offset; training-time augmentation).
        rng: seed or :class:`numpy.random.Generator` for ``mode="random"``.
        pad_mode: ``"constant"`` (zeros) or ``"wrap"`` (repeat the signal).

    Returns:
        Array ``[length, ...]`` of ``x``'s dtype.
    """
    if mode not in _CROP_MODES:
        raise ValueError(f"mode must be one of {_CROP_MODES}, got {mode!r}")
    if pad_mode not in _PAD_MODES:
        raise ValueError(f"pad_mode must be one of {_PAD_MODES}, got {pad_mode!r}")
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
        raise ValueError(f"length must be a positive integer, got {length!r}")
    x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError("crop_or_pad needs an array with at least one dimension")
    n = x.shape[0]
    if n == length:
        return x.copy()
    if n > length:
        start = _offset(n - length, mode, rng)
        return x[start:start + length].copy()
    if n == 0 and pad_mode == "wrap":
        raise ValueError("cannot wrap-pad an empty array; use pad_mode='constant'")
    left = _offset(length - n, mode, rng)
    widths = [(left, length - n - left)] + [(0, 0)] * (x.ndim - 1)
    return np.pad(x, widths, mode=pad_mode)


def segment(x: np.ndarray, length: int, hop: int, *, pad_last: bool = True) -> np.ndarray:
    """Cut ``x`` into windows of ``length`` samples every ``hop`` samples.

    Windows start at 0, hop, 2*hop, ...; a window that would run past the end is
    kept, zero-padded, only when ``pad_last`` (so every sample lands in some
    window when ``hop <= length``). Samples between windows (``hop > length``)
    are skipped.

    Args:
        x: array ``[n, ...]``.
        length: window length in samples (>= 1).
        hop: step between window starts in samples (>= 1).
        pad_last: keep a zero-padded last window covering the tail.

    Returns:
        Array ``[k, length, ...]``; ``k`` may be 0 (short input, ``pad_last=False``).
    """
    for value, what in ((length, "length"), (hop, "hop")):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{what} must be a positive integer, got {value!r}")
    x = np.asarray(x)
    if x.ndim == 0:
        raise ValueError("segment needs an array with at least one dimension")
    n = x.shape[0]
    full = 0 if n < length else 1 + (n - length) // hop
    covered = (full - 1) * hop + length if full else 0
    add_last = pad_last and covered < n and full * hop < n
    k = full + int(add_last)
    if k == 0:
        return np.zeros((0, length) + x.shape[1:], x.dtype)
    needed = (k - 1) * hop + length
    if needed > n:
        x = np.pad(x, [(0, needed - n)] + [(0, 0)] * (x.ndim - 1))
    windows = np.lib.stride_tricks.sliding_window_view(x, length, axis=0)[::hop][:k]
    # sliding_window_view puts the window axis last: move it back to position 1.
    return np.ascontiguousarray(np.moveaxis(windows, -1, 1))


# --------------------------------------------------------------------------- load_audio


def _finish(data: np.ndarray, rate: int, name: str, *, target_rate: int | None, mono: bool,
            allow_silent: bool, silence_threshold: float, dtype, error_cls=AudioDecodeError):
    """Checks, down-mix, resampling and clipping shared by load_audio and video.read_video_audio."""
    if data.shape[0] == 0:
        raise error_cls(f"{name}: contains no audio samples (empty, {rate} Hz); re-export the "
                        "file or drop it from the manifest")
    bad = int(np.count_nonzero(~np.isfinite(data)))
    if bad:
        raise error_cls(f"{name}: {bad} of {data.size} samples are NaN/inf; the file is corrupt or "
                        "was written from invalid floats: re-export it or drop it")
    peak = float(np.max(np.abs(data)))
    if peak < silence_threshold and not allow_silent:
        raise error_cls(
            f"{name}: is silent (peak |x| = {peak:.3g} < silence_threshold={silence_threshold:g}); "
            "drop the clip, or pass allow_silent=True to load it anyway")
    if mono:
        data = downmix(data)
    if target_rate is not None and target_rate != rate:
        data = resample(data, rate, target_rate)
        rate = target_rate
    data = np.clip(data, -1.0, 1.0)
    return np.ascontiguousarray(data, dtype=dtype), rate


def load_audio(source: AudioSource, target_rate: int | None = 16000, *, mono: bool = True,
               allow_silent: bool = False, silence_threshold: float = 1e-4,
               dtype=np.float32) -> tuple[np.ndarray, int]:
    """Decode an audio file (or its bytes) into a float waveform in [-1, 1].

    See the module docstring for which decoder reads which container.

    Args:
        source: path (``str``/``PathLike``) or the file's content as ``bytes``
            (``bytes`` are never taken for a path; decode a path first).
        target_rate: output sample rate in Hz; ``None`` keeps the file's rate.
        mono: average the channels (down-mix) and return ``[n]``; else ``[n, channels]``.
        allow_silent: return silent audio instead of raising.
        silence_threshold: audio whose peak absolute value is below this is silent.
        dtype: floating output dtype.

    Returns:
        ``(samples, sample_rate)``; samples clipped to [-1, 1] (resampling can
        overshoot full-scale input slightly; float files with values beyond 1 are
        clipped too).

    Raises:
        AudioDecodeError: missing/empty/undecodable file, no samples, NaN/inf
            samples, or silent audio without ``allow_silent``.
    """
    if target_rate is not None:
        target_rate = _check_rate(target_rate, "target_rate")
    if not np.issubdtype(np.dtype(dtype), np.floating):
        raise ValueError(f"dtype must be a floating dtype, got {np.dtype(dtype)}")
    if silence_threshold < 0:
        raise ValueError(f"silence_threshold must be >= 0, got {silence_threshold}")
    data, rate = decode_audio(source)
    return _finish(data, rate, _describe(source), target_rate=target_rate, mono=mono,
                   allow_silent=allow_silent, silence_threshold=silence_threshold, dtype=dtype)


def audio_info(path: str | os.PathLike) -> dict:
    """Read an audio file's header: rate, channels, length, without decoding it all.

    Args:
        path: the audio (or video) file.

    Returns:
        ``{"sample_rate": int, "channels": int, "frames": int, "duration": float}``;
        ``frames`` is the number of samples per channel (for compressed
        containers read by PyAV it comes from the declared duration, so it can
        be an estimate, e.g. for MP3).

    Raises:
        AudioDecodeError: missing/empty file, or no reader understands it.
    """
    name, file_path, head = _open_source(path)
    if file_path is None:
        raise TypeError("audio_info takes a path, not bytes")
    failures = []
    if sniff_container(head) != "other":
        try:
            import soundfile

            info = soundfile.info(str(file_path))
            return {"sample_rate": int(info.samplerate), "channels": int(info.channels),
                    "frames": int(info.frames), "duration": info.frames / info.samplerate}
        except Exception as exc:
            failures.append(f"soundfile: {exc}")
    try:
        import av

        with av.open(str(file_path)) as container:
            if not container.streams.audio:
                raise _NoAudioStream("no audio stream")
            stream = container.streams.audio[0]
            rate = int(stream.rate or stream.codec_context.sample_rate)
            if stream.duration is not None and stream.time_base:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / 1e6
            else:
                duration = 0.0
            frames = int(round(duration * rate))
            return {"sample_rate": rate, "channels": int(stream.codec_context.channels),
                    "frames": frames, "duration": frames / rate if rate else 0.0}
    except Exception as exc:
        failures.append(f"PyAV: {exc}")
    raise AudioDecodeError(f"{name}: cannot read the audio header; {'; '.join(failures)}. "
                           "The file is corrupt or not audio")


# --------------------------------------------------------------------------- tf.data helpers


def tf_load_audio(path: tf.Tensor, target_rate: int | None = 16000, *,
                  allow_silent: bool = False) -> tf.Tensor:
    """:func:`load_audio` for a scalar string tensor, usable inside ``tf.data`` ``map``.

    Wraps :func:`load_audio` in :func:`tf.py_function` (it calls
    ``tf.audio.decode_wav`` eagerly, which ``tf.numpy_function`` does not allow),
    so it runs in Python: not serialisable into a SavedModel, holds the GIL.

    Args:
        path: scalar ``tf.string`` tensor holding a file path.
        target_rate: output rate in Hz (``None`` keeps each file's rate; then the
            rate is lost, so prefer a fixed rate in pipelines).
        allow_silent: passed to :func:`load_audio`.

    Returns:
        float32 mono waveform tensor of shape ``[None]``. A decode failure
        surfaces as a ``tf.errors`` exception carrying the AudioDecodeError message.
    """

    def _load(p):
        x, _ = load_audio(os.fsdecode(p.numpy()), target_rate, allow_silent=allow_silent)
        return x

    x = tf.py_function(_load, [path], tf.float32)
    x.set_shape([None])
    return x


def tf_crop_or_pad(x: tf.Tensor, length: int, random: bool = False, seed: int | None = None) -> tf.Tensor:
    """Crop or zero-pad ``x`` along axis 0 to ``length``, in pure TF ops (graph/tf.data safe).

    The centred version matches :func:`crop_or_pad` with ``mode="center"``.

    Args:
        x: tensor ``[n, ...]`` with known rank.
        length: wanted number of samples (>= 1).
        random: random crop offset / random placement of a short signal
            (augmentation); otherwise centred.
        seed: op-level seed for the random offset.

    Returns:
        Tensor ``[length, ...]`` of ``x``'s dtype, with the static shape set.
    """
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
        raise ValueError(f"length must be a positive integer, got {length!r}")
    x = tf.convert_to_tensor(x)
    if x.shape.rank is None or x.shape.rank < 1:
        raise ValueError(f"tf_crop_or_pad needs a tensor of known rank >= 1, got shape {x.shape}")
    length = int(length)
    n = tf.shape(x)[0]
    diff = length - n
    span = tf.abs(diff)
    if random:
        offset = tf.random.uniform([], 0, span + 1, dtype=tf.int32, seed=seed)
    else:
        offset = span // 2
    start = tf.where(diff < 0, offset, 0)
    x = x[start:start + tf.minimum(n, length)]
    left = tf.where(diff > 0, offset, 0)
    right = tf.maximum(diff, 0) - left
    paddings = tf.concat([[[left, right]], tf.zeros([x.shape.rank - 1, 2], tf.int32)], axis=0)
    x = tf.pad(x, paddings)
    x.set_shape([length] + x.shape.as_list()[1:])
    return x


# --------------------------------------------------------------------------- streaming


def stream_audio(path: str | os.PathLike, block_seconds: float = 10.0):
    """Decode an audio file block by block: mono float32 blocks at the file's own rate.

    Memory stays at one block whatever the file's length (a 60-minute recording is never held
    whole): libsndfile formats (WAV, FLAC, OGG, AIFF, RF64 ...) are read with
    ``soundfile.SoundFile.blocks``; anything else (mp3, m4a, the audio track of a video) frame
    by frame with PyAV. Channels are averaged (:func:`downmix`); no resampling (resample each
    window you cut, so that block edges leave no filter seams).

    Args:
        path: the audio file.
        block_seconds: length of the blocks read from soundfile (PyAV yields its own frames).

    Yields:
        ``(block, sample_rate)``: float32 ``[n]`` and the file's rate.

    Raises:
        AudioDecodeError: missing / empty / undecodable file, or NaN/inf samples.
    """
    name, file_path, head = _open_source(path)
    if file_path is None:
        raise TypeError("stream_audio takes a path, not bytes")
    if block_seconds <= 0:
        raise ValueError(f"block_seconds must be > 0, got {block_seconds}")
    failures = []
    if sniff_container(head) != "other":
        try:
            import soundfile
            sf = soundfile.SoundFile(str(file_path))
        except Exception as exc:
            failures.append(f"soundfile: {exc}")
        else:
            with sf:
                rate = int(sf.samplerate)
                for block in sf.blocks(blocksize=max(1, int(block_seconds * rate)), dtype="float32",
                                       always_2d=True):
                    if not np.all(np.isfinite(block)):
                        raise AudioDecodeError(f"{name}: NaN/inf samples; the file is corrupt")
                    yield np.clip(downmix(block), -1.0, 1.0), rate
            return
    try:
        import av
        container = av.open(str(file_path), mode="r")
    except Exception as exc:
        failures.append(f"PyAV: {exc}")
        raise AudioDecodeError(f"{name}: cannot decode audio; {'; '.join(failures)}. The file is corrupt, "
                               "truncated or not audio") from None
    with container:
        if not container.streams.audio:
            raise AudioDecodeError(f"{name}: no audio stream")
        stream = container.streams.audio[0]
        rate = None
        for frame in container.decode(stream):
            arr = _pyav_frame_to_array(frame)
            if rate is None:
                rate = int(frame.sample_rate)
            elif frame.sample_rate != rate:
                raise AudioDecodeError(f"{name}: the stream changes rate from {rate} to {frame.sample_rate} Hz")
            if not np.all(np.isfinite(arr)):
                raise AudioDecodeError(f"{name}: NaN/inf samples; the file is corrupt")
            yield np.clip(downmix(arr), -1.0, 1.0), rate
