"""Refuse inputs that carry no emotion before a zoo model labels them.

A classifier always answers: a 2 s DC offset, a one-sample clip, a noise image or a file of
control bytes get a confident-looking label. Every zoo predictor routes its inputs through the
checks here first, so the refusal is the same for every model of a kind and says why:

==================  ==========================================================================
input               refused when
==================  ==========================================================================
speech waveform     shorter than ``min_seconds`` (:data:`MIN_SPEECH_SECONDS`, 0.25 s, stated in
                    the message); NaN/inf samples; silent (peak below -80 dBFS); a DC offset with
                    nothing on top (the signal minus its mean is silent); no voiced frame
                    (:func:`voiced_frames`: fewer than :data:`MIN_VOICED_FRAMES` (10) 10 ms frames with
                    a periodicity in the 60-400 Hz F0 range)
image for a face    shorter side under the model's input size (48 px for the zoo's face models);
model               flat (pixel standard deviation under 2 grey levels)
conversation file   not text: NUL bytes, or more than 1 % of its characters are control
                    characters other than tab / newline / carriage return; over 16 MB
==================  ==========================================================================

A whole audio file longer than :data:`MAX_WHOLE_SECONDS` (60 s) is refused by the file
predictors with the hint to predict it in windows (``python -m emozoo.predict --window 3
--hop 1.5``, :func:`emozoo.zoo.windows.predict_windows`), which decodes it block by block.

The voicing test is the normalised autocorrelation of Boersma (1993, "Accurate short-term
analysis of the fundamental frequency and the harmonics-to-noise ratio of a sampled sound",
IFA Proceedings 17): a 40 ms frame is voiced when its energy is above -50 dBFS and the
normalised cross-correlation of the frame with itself shifted by one F0 period (60-400 Hz;
searched over 60-500 Hz, the peak must not sit at the 500 Hz edge, where low-pass noise decays
monotonically) exceeds 0.6. White, pink or brown noise, clicks and DC do not reach it; speech has hundreds of such
frames per second of voicing (checked on all 535 EmoDB clips: none refused). A pure tone is
periodic and passes: the check refuses signals without voice, it does not detect speech.

Example:

>>> from emozoo.zoo.input_checks import check_speech
>>> check_speech(np.full(32000, 0.5, np.float32), 16000, "dc.wav")     # doctest: +SKIP
Traceback (most recent call last):
emozoo.errors.InputRefused: dc.wav: a DC offset only (constant 0.500, nothing on top): no speech to classify
"""
from __future__ import annotations

import unicodedata

import numpy as np

from emozoo.errors import InputRefused

MIN_SPEECH_SECONDS = 0.25
MAX_WHOLE_SECONDS = 60.0
SILENCE_PEAK = 1e-4            # -80 dBFS, as emozoo.data.audio.load_audio's silence_threshold
MIN_VOICED_FRAMES = 10         # 100 ms of voicing at the 10 ms hop
VOICING_THRESHOLD = 0.6
VOICED_MIN_RMS = 10 ** (-50 / 20)
F0_RANGE = (60.0, 400.0)
FLAT_STD = 2.0
CONTROL_FRACTION = 0.01
MAX_TEXT_BYTES = 16 * 1024 * 1024    # a conversation file; the longest IEMOCAP dialogue is ~20 kB


def voiced_frames(wav: np.ndarray, sample_rate: int, *, frame_s: float = 0.04, hop_s: float = 0.01,
                  threshold: float = VOICING_THRESHOLD, enough: int | None = None) -> int:
    """How many frames of ``wav`` are voiced (periodic in the 60-400 Hz F0 range, above -50 dBFS).

    Args:
        wav: mono float waveform in [-1, 1].
        sample_rate: its rate in Hz.
        frame_s, hop_s: analysis frame and hop in seconds (40 ms, 10 ms).
        threshold: the normalised autocorrelation peak a voiced frame must exceed.
        enough: stop counting once this many voiced frames are found (``None``: count all).

    Returns:
        the number of voiced frames (an int >= 0; at most a block past ``enough`` when given).
    """
    x = np.asarray(wav, np.float32)
    n, hop = int(round(frame_s * sample_rate)), max(1, int(round(hop_s * sample_rate)))
    # lags of 500..60 Hz; a peak at the 500 Hz edge is a monotone decay (low-pass noise), not a period
    lo, hi = int(sample_rate / 500.0), int(np.ceil(sample_rate / F0_RANGE[0]))
    if x.size < n or hi >= n:
        return 0
    count = 0
    starts = np.arange(0, x.size - n + 1, hop)
    block = 64 if enough is not None else 512        # frames at a time: bounded memory on long clips
    for b in range(0, len(starts), block):
        if enough is not None and count >= enough:
            break
        idx = starts[b:b + block, None] + np.arange(n)[None]
        frames = x[idx].astype(np.float64)
        frames -= frames.mean(1, keepdims=True)
        rms = np.sqrt((frames ** 2).mean(1))
        keep = rms > VOICED_MIN_RMS
        if not keep.any():
            continue
        frames = frames[keep]
        size = 1 << int(np.ceil(np.log2(2 * n)))
        spec = np.fft.rfft(frames, size, axis=1)
        r = np.fft.irfft(spec * np.conj(spec), size, axis=1)[:, lo:hi + 1]      # sum_t x[t] x[t+l]
        sq = np.cumsum(np.pad(frames ** 2, ((0, 0), (1, 0))), axis=1)
        lags = np.arange(lo, hi + 1)
        head = sq[:, n - lags]                      # energy of x[0 : n-l]
        tail = sq[:, -1:] - sq[:, lags]             # energy of x[l : n]
        corr = r / np.sqrt(np.maximum(head * tail, 1e-20))
        peak = corr.argmax(1)
        count += int(np.count_nonzero((corr.max(1) > threshold) & (peak > 0)))
    return count


def check_speech(wav, sample_rate: int, name: str = "waveform", *,
                 min_seconds: float = MIN_SPEECH_SECONDS) -> np.ndarray:
    """Refuse a waveform that carries no speech; return it as float32 otherwise.

    Args:
        wav: mono waveform ``[samples]`` in [-1, 1].
        sample_rate: its rate in Hz.
        name: how the message names the input (a file path, ``"window 12.0-15.0 s"`` ...).
        min_seconds: the shortest clip accepted.

    Returns:
        ``wav`` as a float32 array.

    Raises:
        InputRefused: too short, NaN/inf, silent, DC only, or no voiced frame; the message says
            which and what the limit is.
    """
    x = np.asarray(wav, np.float32)
    if x.ndim != 1:
        raise InputRefused(f"{name}: a waveform must be mono [samples], got shape {x.shape}")
    seconds = x.size / float(sample_rate)
    if seconds < min_seconds:
        raise InputRefused(f"{name}: too short ({x.size} samples = {seconds:.3f} s at {sample_rate} Hz); "
                           f"the minimum is {min_seconds:g} s of speech")
    if not np.all(np.isfinite(x)):
        raise InputRefused(f"{name}: {int(np.count_nonzero(~np.isfinite(x)))} samples are NaN/inf")
    peak = float(np.max(np.abs(x)))
    if peak < SILENCE_PEAK:
        raise InputRefused(f"{name}: silent (peak |x| = {peak:.2g}, under -80 dBFS): no speech to classify")
    mean = float(x.mean(dtype=np.float64))
    if float(np.max(np.abs(x - mean))) < SILENCE_PEAK:
        raise InputRefused(f"{name}: a DC offset only (constant {mean:.3f}, nothing on top): no speech to classify")
    voiced = voiced_frames(x, sample_rate, enough=MIN_VOICED_FRAMES)
    if voiced < MIN_VOICED_FRAMES:
        raise InputRefused(f"{name}: no voiced speech ({voiced} voiced 10 ms frames, at least "
                           f"{MIN_VOICED_FRAMES} needed): noise, clicks or silence, no voice to classify")
    return x


def check_image(image, min_size: int, name: str = "image") -> np.ndarray:
    """Refuse an image smaller than ``min_size`` on its shorter side, or flat; return it.

    Args:
        image: uint8 ``[H, W]`` or ``[H, W, C]``.
        min_size: the model's input size (the smallest face side it classifies).
        name: how the message names the input.

    Raises:
        InputRefused: too small, or flat (one grey level).
    """
    arr = np.asarray(image)
    h, w = (arr.shape[:2] + (0, 0))[:2] if arr.ndim >= 2 else (0, 0)
    check_image_size(w, h, min_size, name)
    if float(arr.std()) < FLAT_STD:
        raise InputRefused(f"{name}: the image is flat (one grey level, std {float(arr.std()):.2f}): no face to classify")
    return arr


def check_image_size(width: int, height: int, min_size: int, name: str = "image") -> None:
    """Refuse an image whose shorter side is under ``min_size`` pixels (from its header, before decoding).

    Raises:
        InputRefused: the message gives the size and the model's minimum.
    """
    if min(width, height) < min_size:
        raise InputRefused(f"{name}: the image is {width}x{height} pixels, under this model's minimum of "
                           f"{min_size}x{min_size}: too small to hold a face")


def check_text_file(path) -> None:
    """Refuse a conversation file over :data:`MAX_TEXT_BYTES` before reading it (bounded memory)."""
    import os
    size = os.stat(path).st_size
    if size > MAX_TEXT_BYTES:
        raise InputRefused(f"{os.fspath(path)}: {size / 2 ** 20:.0f} MB, over the {MAX_TEXT_BYTES // 2 ** 20} MB a "
                           "conversation file may have; split it into conversations")


def check_text(raw: str, name: str = "text") -> str:
    """Refuse text that is not text: NUL characters, or over 1 % control characters.

    Tab, newline and carriage return are text; every other Unicode ``Cc`` character counts.

    Raises:
        InputRefused: the content is binary / control bytes.
    """
    if "\x00" in raw:
        raise InputRefused(f"{name}: not a text file (it holds NUL bytes); give a UTF-8 text, .json or .jsonl file")
    control = sum(1 for c in raw if c not in "\t\n\r" and unicodedata.category(c) == "Cc")
    if raw and control > CONTROL_FRACTION * len(raw):
        raise InputRefused(f"{name}: not a text file ({control} of {len(raw)} characters are control "
                           "characters); give a UTF-8 text, .json or .jsonl file")
    return raw
