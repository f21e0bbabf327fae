"""Video reading (frames and audio track) and writing, with PyAV (FFmpeg).

Frames come back as uint8 ``[T, H, W, C]`` (RGB, or one luma channel with
``grey=True``) together with each frame's presentation time in seconds from the
stream's start. ``fps`` sub-samples: a frame is kept when its time reaches the
next sampling instant ``k / fps``, so a 25 fps clip read at ``fps=12.5`` keeps
every second frame; asking for more than the source rate keeps every frame
(frames are never duplicated).

:func:`write_video` writes MP4: H.264 through ``libx264`` when this FFmpeg build
has it (it does in the PyAV 18 wheels), else MPEG-4 part 2 (``mpeg4``, always
built in), both ``yuv420p`` (so width and height must be even), with an optional
AAC audio track. Both codecs are lossy: flat regions survive within a couple of
grey levels, fine texture does not.

Example:

>>> frames, times = read_video("clip.mp4", fps=5, grey=True)   # doctest: +SKIP
>>> audio, rate = read_video_audio("clip.mp4")                  # doctest: +SKIP
"""
from __future__ import annotations

import math
import os
from fractions import Fraction
from pathlib import Path

import numpy as np

from emozoo.data.audio import _NoAudioStream, _decode_pyav, _finish, _open_source
from emozoo.errors import VideoDecodeError

_AAC_RATES = (7350, 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000,
              88200, 96000)
_EPS = 1e-6


def _open_container(path):
    """Check ``path`` and open it with PyAV; VideoDecodeError on any failure."""
    import av

    if isinstance(path, (bytes, bytearray, memoryview)):
        raise TypeError("video functions take a path, not bytes")
    name, file_path, _ = _open_source(path, VideoDecodeError)
    try:
        return name, av.open(str(file_path), mode="r")
    except Exception as exc:
        raise VideoDecodeError(
            f"{name}: cannot open video ({type(exc).__name__}: {exc}); the file is corrupt, "
            "truncated or not a video: re-export it or drop it from the manifest") from exc


def _video_stream(container, name):
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams}) or ["none"]
        raise VideoDecodeError(f"{name}: has no video stream (streams: {', '.join(kinds)}); "
                               "for audio-only files use emozoo.data.audio.load_audio")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return stream


def _frame_time(frame, stream, index: int) -> float:
    """Seconds from the stream start; falls back to index / average rate without pts."""
    if frame.pts is not None and frame.time_base is not None:
        start = stream.start_time or 0
        return float((frame.pts - start) * frame.time_base)
    rate = float(stream.average_rate or stream.guessed_rate or 25)
    return index / rate


def _frame_array(frame, grey: bool) -> np.ndarray:
    if grey:
        return frame.to_ndarray(format="gray")[:, :, None]
    return frame.to_ndarray(format="rgb24")


def read_video(path: str | os.PathLike, *, fps: float | None = None, max_frames: int | None = None,
               grey: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Decode the first video stream of ``path`` into frames and their times.

    Args:
        path: video file (mp4, avi, mkv, mov, webm ...).
        fps: sampling rate in frames per second; ``None`` keeps every frame.
        max_frames: stop after this many kept frames (``None``: no limit).
        grey: one luma channel (``C = 1``) instead of RGB (``C = 3``).

    Returns:
        ``(frames, times)``: uint8 ``[T, H, W, C]`` and float64 ``[T]`` seconds.

    Raises:
        VideoDecodeError: missing/empty/corrupt file, no video stream, or no
            frame could be decoded.
    """
    if fps is not None and not (isinstance(fps, (int, float, np.integer, np.floating))
                                and not isinstance(fps, bool) and fps > 0):
        raise ValueError(f"fps must be None or a positive number, got {fps!r}")
    if max_frames is not None and (isinstance(max_frames, bool) or not isinstance(
            max_frames, (int, np.integer)) or max_frames < 1):
        raise ValueError(f"max_frames must be None or a positive integer, got {max_frames!r}")
    name, container = _open_container(path)
    frames, times = [], []
    try:
        with container:
            stream = _video_stream(container, name)
            next_time = 0.0
            for index, frame in enumerate(container.decode(stream)):
                t = _frame_time(frame, stream, index)
                if fps is not None:
                    if t + _EPS < next_time:
                        continue
                    # the next sampling instant strictly after this frame's
                    next_time = (math.floor(t * fps + _EPS) + 1) / fps
                frames.append(_frame_array(frame, grey))
                times.append(t)
                if max_frames is not None and len(frames) >= max_frames:
                    break
    except VideoDecodeError:
        raise
    except Exception as exc:
        if not frames:
            raise VideoDecodeError(f"{name}: cannot decode video ({type(exc).__name__}: {exc}); "
                                   "re-export it or drop it from the manifest") from exc
        # A damaged tail: keep the frames decoded so far (as players do).
    if not frames:
        raise VideoDecodeError(f"{name}: no video frame could be decoded; re-export it or drop it")
    return np.stack(frames), np.asarray(times, dtype=np.float64)


def read_video_audio(path: str | os.PathLike, target_rate: int | None = 16000) -> tuple[np.ndarray, int]:
    """Decode the audio track of a video, down-mixed to mono and resampled.

    Silent tracks are returned as they are (no silence check, unlike
    :func:`emozoo.data.audio.load_audio`). For MP4 the length is trimmed to the
    track's declared duration, removing AAC's padding.

    Args:
        path: video file with an audio stream.
        target_rate: output rate in Hz; ``None`` keeps the track's rate.

    Returns:
        ``(samples, rate)``: float32 ``[n]`` in [-1, 1].

    Raises:
        VideoDecodeError: missing/corrupt file, no audio stream, no samples or
            NaN/inf samples.
    """
    if isinstance(path, (bytes, bytearray, memoryview)):
        raise TypeError("read_video_audio takes a path, not bytes")
    name, file_path, _ = _open_source(path, VideoDecodeError)
    try:
        data, rate = _decode_pyav(file_path, path)
    except _NoAudioStream as exc:
        raise VideoDecodeError(f"{name}: {exc}; this video has no sound track, so use its "
                               "frames only (or pick another clip)") from exc
    except Exception as exc:
        raise VideoDecodeError(f"{name}: cannot decode the audio track ({type(exc).__name__}: "
                               f"{exc}); re-export the file or drop it from the manifest") from exc
    return _finish(data, rate, name, target_rate=target_rate, mono=True, allow_silent=True,
                   silence_threshold=0.0, dtype=np.float32, error_cls=VideoDecodeError)


def _duration(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1e6
    return None


def middle_frame(path: str | os.PathLike, *, grey: bool = False) -> np.ndarray:
    """The frame shown at half the video's duration (a cheap key frame for a clip).

    For a clip of ``T`` constant-rate frames this is frame ``T // 2``. Seeks to
    the preceding key frame when the duration is known, so long videos are not
    decoded from the start.

    Args:
        path: video file.
        grey: one luma channel instead of RGB.

    Returns:
        uint8 ``[H, W, C]``.

    Raises:
        VideoDecodeError: as :func:`read_video`.
    """
    name, container = _open_container(path)
    try:
        with container:
            stream = _video_stream(container, name)
            duration = _duration(container, stream)
            if duration is None or duration <= 0:
                frames, _ = read_video(path, grey=grey)
                return frames[len(frames) // 2]
            middle = duration / 2
            start = stream.start_time or 0
            container.seek(start + int(middle / stream.time_base), stream=stream, backward=True)
            chosen = None
            for index, frame in enumerate(container.decode(stream)):
                if _frame_time(frame, stream, index) > middle + _EPS:
                    break
                chosen = frame
            if chosen is not None:
                return _frame_array(chosen, grey)
    except VideoDecodeError:
        raise
    except Exception as exc:
        raise VideoDecodeError(f"{name}: cannot decode video ({type(exc).__name__}: {exc}); "
                               "re-export it or drop it from the manifest") from exc
    # The seek landed after the middle (odd index): decode from the start instead.
    frames, times = read_video(path, grey=grey)
    return frames[int(np.searchsorted(times, duration / 2 + _EPS, side="right")) - 1]


def video_info(path: str | os.PathLike) -> dict:
    """Read a video's stream parameters without decoding it.

    Args:
        path: video file.

    Returns:
        ``{"width", "height", "fps", "frames", "duration", "codec", "has_audio",
        "sample_rate", "audio_channels"}``; ``frames`` is the container's count,
        or ``round(duration * fps)`` when the container has none; ``sample_rate``
        and ``audio_channels`` are None without audio.

    Raises:
        VideoDecodeError: missing/corrupt file or no video stream.
    """
    name, container = _open_container(path)
    with container:
        stream = _video_stream(container, name)
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else None
        duration = _duration(container, stream)
        frames = int(stream.frames or 0)
        if not frames and duration is not None and fps:
            frames = int(round(duration * fps))
        audio = container.streams.audio[0] if container.streams.audio else None
        return {
            "width": int(stream.codec_context.width), "height": int(stream.codec_context.height),
            "fps": fps, "frames": frames, "duration": duration,
            "codec": stream.codec_context.name, "has_audio": audio is not None,
            "sample_rate": int(audio.rate) if audio is not None else None,
            "audio_channels": int(audio.codec_context.channels) if audio is not None else None,
        }


def default_video_codec() -> str:
    """``"libx264"`` when this FFmpeg build can encode it, else ``"mpeg4"``."""
    import av

    return "libx264" if "libx264" in av.codecs_available else "mpeg4"


def write_video(path: str | os.PathLike, frames: np.ndarray, fps: float = 25,
                audio: np.ndarray | None = None, sample_rate: int = 16000,
                codec: str | None = None) -> Path:
    """Write frames (and optionally a sound track) as a video file, MP4 by default.

    Args:
        path: output file; the container follows the extension (``.mp4``,
            ``.mkv``, ``.mov`` ...). Its folder must exist.
        frames: uint8 ``[T, H, W, 3]`` RGB or ``[T, H, W, 1]`` grey; ``H`` and
            ``W`` even (``yuv420p``).
        fps: frame rate (frame ``i`` is shown at ``i / fps`` s).
        audio: optional float waveform in [-1, 1], ``[n]`` (mono) or
            ``[n, 2]`` (stereo), encoded as AAC.
        sample_rate: rate of ``audio`` in Hz (an AAC rate: 8000, 16000, 22050,
            44100, 48000 ...).
        codec: video encoder; ``None`` picks :func:`default_video_codec`.

    Returns:
        The written path.
    """
    import av

    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] not in (1, 3):
        raise ValueError(f"frames must be uint8 [T, H, W, 3] or [T, H, W, 1], got {frames.dtype} "
                         f"{frames.shape}")
    t, h, w, _ = frames.shape
    if t == 0:
        raise ValueError("frames is empty: a video needs at least one frame")
    if h % 2 or w % 2:
        raise ValueError(f"frame size {h}x{w} must be even (yuv420p); crop or pad one row/column")
    if not fps or fps <= 0:
        raise ValueError(f"fps must be positive, got {fps!r}")
    rate = Fraction(fps).limit_denominator(1001) if isinstance(fps, float) else Fraction(int(fps))
    if audio is not None:
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim == 1:
            audio = audio[:, None]
        if audio.ndim != 2 or audio.shape[1] not in (1, 2) or audio.shape[0] == 0:
            raise ValueError(f"audio must be [n] or [n, 2] with n > 0, got shape {audio.shape}")
        if sample_rate not in _AAC_RATES:
            raise ValueError(f"sample_rate {sample_rate} is not an AAC rate; use one of {_AAC_RATES}")
    codec = codec or default_video_codec()
    path = Path(path)
    if frames.shape[-1] == 1:
        frames = np.repeat(frames, 3, axis=-1)
    with av.open(str(path), mode="w") as container:
        video = container.add_stream(codec, rate=rate)
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        sound = None
        if audio is not None:
            sound = container.add_stream("aac", rate=int(sample_rate))
            sound.layout = "mono" if audio.shape[1] == 1 else "stereo"
        for i in range(t):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frames[i]), format="rgb24")
            frame.pts = i
            frame.time_base = 1 / rate
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if sound is not None:
            planar = np.ascontiguousarray(np.clip(audio, -1.0, 1.0).T)
            chunk = 1024
            for start in range(0, planar.shape[1], chunk):
                block = np.ascontiguousarray(planar[:, start:start + chunk])
                frame = av.AudioFrame.from_ndarray(block, format="fltp", layout=sound.layout.name)
                frame.sample_rate = int(sample_rate)
                frame.pts = start
                frame.time_base = Fraction(1, int(sample_rate))
                container.mux(sound.encode(frame))
            container.mux(sound.encode(None))
    return path
