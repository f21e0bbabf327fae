"""Long recordings (calls, meetings, interviews) predicted window by window, in bounded memory.

:func:`windows` cuts a recording into windows of ``window`` seconds every ``hop`` seconds while
it is decoded block by block (:func:`emozoo.data.audio.stream_audio`): at most one window plus
one decoded block is in memory, whatever the recording's length, and the time is linear in it.
:func:`predict_windows` runs a zoo speech model on every window; a window that carries no
speech (silence, a DC offset, noise: :func:`emozoo.zoo.input_checks.check_speech`) gives a row
with no prediction and the reason, so the timeline shows the pauses of a conversation.

Windows start at 0, ``hop``, ``2 hop`` ... The last window ends at the recording's end, so it
can be shorter than ``window`` (it is refused when under the 0.25 s minimum); a recording shorter
than one window gives one window.

Example:

>>> import emozoo
>>> from emozoo.zoo.windows import predict_windows
>>> model = emozoo.load("ssgan_speech")                                     # doctest: +SKIP
>>> for row in predict_windows(model, "meeting.flac", window=3, hop=1.5):   # doctest: +SKIP
...     print(row["start"], row["end"], row["prediction"], row["refused"])
0.0 3.0 neutral None
"""
from __future__ import annotations

import os
from typing import Iterator

import numpy as np

from emozoo.errors import EmozooError, SchemaError


def windows(path: str | os.PathLike, window: float, hop: float, *,
            block_seconds: float = 10.0) -> Iterator[tuple[float, float, np.ndarray, int]]:
    """``(start_s, end_s, samples, sample_rate)`` of every window of an audio file.

    Args:
        path: the audio file (any format :func:`emozoo.data.audio.stream_audio` reads).
        window: window length in seconds (> 0).
        hop: distance between window starts in seconds (0 < hop; hop > window skips audio).
        block_seconds: how much audio is decoded at a time.

    Yields:
        the window's start and end in seconds, its mono float32 samples at the file's rate, the rate.
    """
    from emozoo.data.audio import stream_audio

    if not (window > 0 and hop > 0):
        raise SchemaError(f"window and hop must be > 0 seconds, got window={window}, hop={hop}")
    buf = np.zeros(0, np.float32)
    buf_start = 0            # sample index of buf[0]
    k = 0                    # index of the next window
    total = 0
    rate = None
    for block, r in stream_audio(path, block_seconds):
        if rate is None:
            rate = r
            win, step = max(1, int(round(window * rate))), max(1, int(round(hop * rate)))
        buf = np.concatenate([buf, block]) if buf.size else block
        total += block.size
        while k * step + win <= total:                       # a full window is decoded
            s = k * step
            yield s / rate, (s + win) / rate, buf[s - buf_start:s - buf_start + win].copy(), rate
            k += 1
            drop = min(k * step, total) - buf_start          # keep from the next window's start on
            if drop > 0:
                buf, buf_start = buf[drop:], buf_start + drop
    if rate is None:
        return
    s = k * step
    # the tail: the audio after the last full window (or the whole of a recording shorter than one
    # window), unless the previous window already reached the end
    if s < total and (k == 0 or (k - 1) * step + win < total):
        yield s / rate, total / rate, buf[s - buf_start:total - buf_start].copy(), rate


def predict_windows(model, path: str | os.PathLike, window: float = 3.0, hop: float = 1.5) -> Iterator[dict]:
    """One row per window of a recording: ``{"start", "end", "prediction", "probabilities", "refused"}``.

    Args:
        model: a zoo speech model (``emozoo.load("baseline_emodb_is10")``, ``"ssgan_speech"`` ...):
            anything with ``labels`` and ``predict_waveform(wav, sample_rate)``.
        path: the recording.
        window, hop: seconds (``3`` and ``1.5``: windows overlap by half).

    Yields:
        dicts; ``prediction`` / ``probabilities`` (``{label: p}``) are None and ``refused`` says
        why when the window carries no speech.
    """
    if not hasattr(model, "predict_waveform"):
        raise SchemaError(f"{getattr(model, 'card', {}).get('name', type(model).__name__)} does not take audio: "
                          "windows are for speech models (e.g. baseline_emodb_is10, ssgan_speech)")
    for start, end, wav, rate in windows(path, window, hop):
        row = {"start": round(start, 3), "end": round(end, 3), "prediction": None, "probabilities": None,
               "refused": None}
        try:
            p = model.predict_waveform(wav, rate)
        except EmozooError as exc:
            msg = str(exc)
            row["refused"] = msg.split(": ", 1)[1] if msg.startswith("waveform (") else msg
        else:
            row["prediction"] = model.labels[int(np.argmax(p))]
            row["probabilities"] = {k: float(v) for k, v in zip(model.labels, p)}
        yield row


def plot_timeline(rows: list[dict], labels, out_path: str | os.PathLike, title: str = "") -> None:
    """Draw the emotion timeline of :func:`predict_windows` rows into a PNG (matplotlib, Agg).

    Top: each class's probability at the centre of each window (refused windows leave gaps);
    bottom: the predicted class as a coloured band per hop, grey where the window was refused.
    """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not rows:
        raise SchemaError("no window to plot")
    labels = list(labels)
    colours = plt.get_cmap("tab10")
    centres = np.array([(r["start"] + r["end"]) / 2 for r in rows])
    fig, (ax, band) = plt.subplots(2, 1, figsize=(max(8, min(24, len(rows) * 0.08)), 4.5), sharex=True,
                                   gridspec_kw={"height_ratios": [4, 1]})
    for i, k in enumerate(labels):
        y = np.array([r["probabilities"][k] if r["probabilities"] else np.nan for r in rows])
        ax.plot(centres, y, color=colours(i % 10), label=k, lw=1.2)
    ax.set_ylim(0, 1)
    ax.set_ylabel("probability")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    if title:
        ax.set_title(title)
    for j, r in enumerate(rows):
        left = r["start"] if j == 0 else (rows[j - 1]["start"] + rows[j - 1]["end"] + r["start"] + r["end"]) / 4
        right = r["end"] if j == len(rows) - 1 else (r["start"] + r["end"] + rows[j + 1]["start"] + rows[j + 1]["end"]) / 4
        c = "lightgrey" if r["prediction"] is None else colours(labels.index(r["prediction"]) % 10)
        band.axvspan(left, right, color=c, lw=0)
    band.set_yticks([])
    band.set_xlabel("time (s)   (grey: no speech, refused)")
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)
    plt.close(fig)
