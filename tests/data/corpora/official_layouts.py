"""Tiny corpora written at test time in the exact official layouts of corpora we cannot ship.

Each ``make_*_release(root, ...)`` writes the release's own folder structure and
text formats *into* ``root`` (``root`` plays the release folder:
``IEMOCAP_full_release``, ``CHEAVD2``, ``AFEW``, ``amicorpus``), with tiny media
(WAV via soundfile, 32x32 three-frame AVI/MP4 via PyAV), and returns a record of
what it wrote so tests can assert exact counts and values. Contents are
deterministic. Reuse them in other tests::

    from tests.data.corpora.official_layouts import make_iemocap_release
    release = make_iemocap_release(tmp_path, sessions=(1, 2), dialogues_per_session=1)
    IEMOCAP(release.root).read()
"""
from __future__ import annotations

import dataclasses
import functools
import io
from pathlib import Path
from typing import Sequence

import av
import numpy as np
import soundfile

# -- media -------------------------------------------------------------------


def write_wav(path: Path, seconds: float = 0.05, sample_rate: int = 16000, channels: int = 1,
              seed: int = 0) -> Path:
    """A short low-level noise WAV (16-bit PCM)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = max(1, round(seconds * sample_rate))
    signal = np.random.default_rng(seed).uniform(-0.1, 0.1, (frames, channels)).astype(np.float32)
    soundfile.write(str(path), signal, sample_rate, subtype="PCM_16")
    return path


@functools.lru_cache(maxsize=None)
def _video_bytes(container: str, frames: int, size: int, fps: int) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            image = np.full((size, size, 3), 40 * i % 256, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buffer.getvalue()


def write_video(path: Path, frames: int = 3, size: int = 32, fps: int = 5) -> Path:
    """A tiny MPEG-4 video; the container (``avi`` or ``mp4``) follows the suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_video_bytes(path.suffix.lstrip(".").lower(), frames, size, fps))
    return path


def _write_text(path: Path, lines: Sequence[str], encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding=encoding)
    return path


# -- IEMOCAP -----------------------------------------------------------------

#: consensus code -> the annotators' categorical name (``C-`` lines).
IEMOCAP_CATEGORY_NAMES = {
    "neu": "Neutral", "fru": "Frustration", "ang": "Anger", "sad": "Sadness", "exc": "Excited",
    "hap": "Happiness", "sur": "Surprise", "fea": "Fear", "dis": "Disgust", "oth": "Other",
}
#: consensus codes given to turns in turn order (cycled across the whole release).
IEMOCAP_DEFAULT_CODES = ("neu", "fru", "ang", "sad", "exc", "hap", "xxx", "sur")
IEMOCAP_HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]"


@dataclasses.dataclass(frozen=True)
class IemocapTurn:
    """One evaluated turn as written into ``EmoEvaluation``, ``transcriptions`` and ``sentences/wav``.

    ``votes`` are ``(annotator, emotions)`` of the ``C-`` lines, ``dims``
    ``(annotator, (val, act, dom))`` of the ``A-`` lines; ``vad`` the consensus.
    """

    name: str
    dialogue: str
    session: int
    start: float
    end: float
    code: str
    vad: tuple[float, float, float]
    votes: tuple[tuple[str, tuple[str, ...]], ...]
    dims: tuple[tuple[str, tuple[int, int, int]], ...]
    transcript: str

    @property
    def speaker(self) -> str:
        return f"Ses{self.session:02d}{self.name.rsplit('_', 1)[1][0]}"

    @property
    def gender(self) -> str:
        return {"F": "female", "M": "male"}[self.name.rsplit("_", 1)[1][0]]

    def block(self) -> list[str]:
        """The turn's lines in the official ``EmoEvaluation`` format."""
        v, a, d = self.vad
        lines = [f"[{self.start:.4f} - {self.end:.4f}]\t{self.name}\t{self.code}\t[{v:.4f}, {a:.4f}, {d:.4f}]"]
        lines += [f"C-{who}:\t{' '.join(e + ';' for e in emotions)}\t()" for who, emotions in self.votes]
        lines += [f"A-{who}:\tval {dv}; act {da}; dom  {dd};\t()" for who, (dv, da, dd) in self.dims]
        return lines


@dataclasses.dataclass
class IemocapRelease:
    """What :func:`make_iemocap_release` wrote: turns by name, dialogues' turn names in time order."""

    root: Path
    turns: dict[str, IemocapTurn]
    dialogues: dict[str, list[str]]

    def wav(self, turn: str) -> Path:
        t = self.turns[turn]
        return self.root / f"Session{t.session}" / "sentences" / "wav" / t.dialogue / f"{turn}.wav"

    def avi(self, dialogue: str) -> Path:
        session = int(dialogue[3:5])
        return self.root / f"Session{session}" / "dialog" / "avi" / "DivX" / f"{dialogue}.avi"

    def emo_evaluation(self, dialogue: str) -> Path:
        session = int(dialogue[3:5])
        return self.root / f"Session{session}" / "dialog" / "EmoEvaluation" / f"{dialogue}.txt"


def iemocap_dialogue_names(session: int, count: int) -> list[str]:
    """``Ses0nF_impro01, Ses0nM_impro01, Ses0nF_script01_1, Ses0nM_script01_1, Ses0nF_impro02, ...``."""
    names = []
    for d in range(count):
        marker, pair = "FM"[d % 2], d // 2
        number = pair // 2 + 1
        kind = f"impro{number:02d}" if pair % 2 == 0 else f"script{number:02d}_1"
        names.append(f"Ses{session:02d}{marker}_{kind}")
    return names


def iemocap_votes(code: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Default ``C-`` lines of a turn: E1 votes the consensus, E2 adds a second emotion, F1 agrees.

    ``neu`` -> E1 Neutral; E2 Neutral; Frustration; F1 Neutral (label_dist neutral 5/6,
    frustrated 1/6); ``fru`` adds Anger instead; ``xxx`` (no consensus) -> Neutral /
    Frustration / Anger, one third each.
    """
    if code == "xxx":
        return (("E1", ("Neutral",)), ("E2", ("Frustration",)), ("F1", ("Anger",)))
    name = IEMOCAP_CATEGORY_NAMES[code]
    second = "Anger" if code == "fru" else "Frustration"
    return (("E1", (name,)), ("E2", (name, second)), ("F1", (name,)))


def iemocap_dims(k: int) -> tuple[tuple[str, tuple[int, int, int]], ...]:
    """Default ``A-`` lines of the k-th turn of the release: E3, E4 and self-evaluation F1."""
    e3 = (1 + k % 5, 1 + (k + 2) % 5, 1 + (k + 4) % 5)
    e4 = (1 + (k + 1) % 5, 1 + (k + 3) % 5, 1 + k % 5)
    return (("E3", e3), ("E4", e4), ("F1", (3, 3, 3)))


def make_iemocap_release(
    root: str | Path,
    sessions: Sequence[int] = (1, 2, 3, 4, 5),
    dialogues_per_session: int = 2,
    turns_per_dialogue: int = 4,
    *,
    codes: Sequence[str] = IEMOCAP_DEFAULT_CODES,
    wav: bool = True,
    video: bool = True,
    seconds: float = 0.05,
    sample_rate: int = 16000,
) -> IemocapRelease:
    """Write an ``IEMOCAP_full_release`` layout into ``root``.

    Per session ``Session<n>/``: ``dialogues_per_session`` dialogues (names from
    :func:`iemocap_dialogue_names`), each with ``turns_per_dialogue`` turns
    alternating female/male (``_F000, _M000, _F001, ...``) 3.1 s apart, 2.5 s
    long. Written per dialogue: ``dialog/EmoEvaluation/<d>.txt`` with the official
    header and blocks in turn-name order (all F turns, then all M turns: readers
    must sort by start time), decoy ``Categorical/``, ``Attribute/`` and
    ``Self-evaluation/`` files, ``dialog/transcriptions/<d>.txt`` in time order
    with a ``..._MXX0`` line and an ``M_LAUGHTER`` line that are no evaluated
    turns, ``sentences/wav/<d>/<turn>.wav`` (``wav``) and
    ``dialog/avi/DivX/<d>.avi`` (``video``).

    Consensus codes cycle through ``codes`` over the whole release in turn
    order; votes come from :func:`iemocap_votes`, ratings from
    :func:`iemocap_dims`, the consensus [V, A, D] is the mean of E3 and E4.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    _write_text(root / "README.txt", ["IEMOCAP full release (test fixture)"])
    release = IemocapRelease(root, {}, {})
    k = 0
    for session in sessions:
        base = root / f"Session{session}"
        for dialogue in iemocap_dialogue_names(session, dialogues_per_session):
            turns = []
            for j in range(turns_per_dialogue):
                letter = "FM"[j % 2]
                start = 1.2345 + 3.1 * j
                code = codes[k % len(codes)]
                dims = iemocap_dims(k)
                vad = tuple((a + b) / 2 for a, b in zip(dims[0][1], dims[1][1]))
                turns.append(IemocapTurn(
                    name=f"{dialogue}_{letter}{j // 2:03d}", dialogue=dialogue, session=session,
                    start=round(start, 4), end=round(start + 2.5, 4), code=code, vad=vad,
                    votes=iemocap_votes(code), dims=dims,
                    transcript=f"Turn {j}: of {dialogue} [LAUGHTER].",
                ))
                k += 1
            release.dialogues[dialogue] = [t.name for t in turns]
            release.turns.update((t.name, t) for t in turns)
            write_iemocap_dialogue(base, dialogue, turns)
            for t in turns if wav else ():
                write_wav(release.wav(t.name), seconds, sample_rate)
            if video:
                write_video(release.avi(dialogue))
    return release


def write_iemocap_dialogue(session_dir: Path, dialogue: str, turns: Sequence[IemocapTurn]) -> None:
    """The text files of one dialogue: EmoEvaluation (+ decoys) and transcriptions."""
    evaluation = session_dir / "dialog" / "EmoEvaluation"
    lines = [IEMOCAP_HEADER, ""]
    for turn in sorted(turns, key=lambda t: t.name):
        lines += turn.block() + [""]
    _write_text(evaluation / f"{dialogue}.txt", lines)
    _write_text(evaluation / "Categorical" / f"{dialogue}_e1_cat.txt",
                [f"{t.name} :{IEMOCAP_CATEGORY_NAMES.get(t.code, 'Other')} state; ()" for t in turns])
    _write_text(evaluation / "Attribute" / f"{dialogue}_e3_atr.txt",
                [f"{t.name} :act {t.dims[0][1][1]}; val {t.dims[0][1][0]}; dom {t.dims[0][1][2]}; ()" for t in turns])
    _write_text(evaluation / "Self-evaluation" / f"{dialogue}.anvil", ["<annotation/>"])
    transcript = []
    for t in turns:
        transcript.append(f"{t.name} [{t.start:08.4f}-{t.end:08.4f}]: {t.transcript}")
    last = turns[-1].end if turns else 0.0
    transcript.append(f"{dialogue}_MXX0 [{last + 0.5:08.4f}-{last + 1.0:08.4f}]: Mm-hmm.")
    transcript.append(f"M_LAUGHTER [{last + 1.5:08.4f}-{last + 2.0:08.4f}]: [LAUGHTER]")
    _write_text(session_dir / "dialog" / "transcriptions" / f"{dialogue}.txt", transcript)


# -- CHEAVD 2.0 (MEC 2017) ------------------------------------------------------

CHEAVD_LABELS = ("angry", "anxious", "disgust", "happy", "neutral", "sad", "surprise", "worried")


@dataclasses.dataclass
class CheavdRelease:
    """What :func:`make_cheavd_release` wrote: ``clips[stem] = (split, label as written or "")``."""

    root: Path
    clips: dict[str, tuple[str, str]]


def make_cheavd_release(
    root: str | Path,
    *,
    train_per_label: int = 2,
    val_per_label: int = 1,
    test_clips: int = 3,
    list_suffix: str = ".txt",
    separator: str = ",",
    header: bool = False,
    label_case: str = "lower",
    test_labels: bool = False,
) -> CheavdRelease:
    """Write a CHEAVD 2.0 MEC 2017 layout into ``root``.

    ``train/`` and ``val/`` hold ``*_per_label`` clips of each of the eight emotions,
    numbered ``00001``..; even numbers ``.mp4``, odd ``.avi``. ``test/`` holds
    ``test_clips`` clips, labelled (``test.txt``, cycling the emotions) only when
    ``test_labels``. Lists ``train<list_suffix>`` / ``val<list_suffix>`` have one
    ``<file name><separator><label>`` line per clip, labels in ``label_case``
    (``lower`` / ``title`` / ``upper``), after a ``filename,label`` line when ``header``.
    A split with no clips gets neither folder nor list.
    """
    root = Path(root)
    case = {"lower": str.lower, "title": str.title, "upper": str.upper}[label_case]
    release = CheavdRelease(root, {})
    number = 0
    plan = (
        ("train", "train", [lab for _ in range(train_per_label) for lab in CHEAVD_LABELS]),
        ("val", "valid", [lab for _ in range(val_per_label) for lab in CHEAVD_LABELS]),
        ("test", "test", [CHEAVD_LABELS[i % len(CHEAVD_LABELS)] for i in range(test_clips)]),
    )
    for folder, split, labels in plan:
        labelled = split != "test" or test_labels
        lines = [f"filename{separator}label"] if header else []
        for label in labels:
            number += 1
            name = f"{number:05d}{'.mp4' if number % 2 == 0 else '.avi'}"
            write_video(root / folder / name)
            lines.append(f"{name}{separator}{case(label)}")
            release.clips[Path(name).stem] = (split, case(label) if labelled else "")
        if labels and labelled:
            _write_text(root / f"{folder}{list_suffix}", lines)
    return release


# -- AFEW (EmotiW 2017) -------------------------------------------------------

AFEW_EMOTIONS = ("Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise")


@dataclasses.dataclass
class AfewRelease:
    """What :func:`make_afew_release` wrote: ``clips[stem] = (split, emotion folder or "")``."""

    root: Path
    clips: dict[str, tuple[str, str]]


def make_afew_release(
    root: str | Path,
    *,
    train_per_emotion: int = 2,
    val_per_emotion: int = 1,
    test_clips: int = 2,
    auxiliary: bool = True,
) -> AfewRelease:
    """Write an AFEW EmotiW 2017 layout into ``root``.

    ``Train_AFEW/<Emotion>/<9-digit id>.avi`` and ``Val_AFEW/<Emotion>/...`` for
    the seven emotions, ``Test_AFEW/<id>.avi`` (``test_clips``, unlabelled), and
    with ``auxiliary`` the organisers' ``AlignedFaces_LBPTOP_Points/`` folders
    (face images, points text) in Train and Val.
    """
    root = Path(root)
    release = AfewRelease(root, {})
    number = 4620
    for folder, split, per in (("Train_AFEW", "train", train_per_emotion), ("Val_AFEW", "valid", val_per_emotion)):
        for emotion in AFEW_EMOTIONS:
            for _ in range(per):
                number += 1
                stem = f"{number * 10:09d}"
                write_video(root / folder / emotion / f"{stem}.avi")
                release.clips[stem] = (split, emotion)
                if auxiliary:
                    aux = root / folder / "AlignedFaces_LBPTOP_Points" / "Faces" / stem
                    aux.mkdir(parents=True, exist_ok=True)
                    (aux / "frame_det_00_000001.png").write_bytes(b"\x89PNG\r\n\x1a\n")
                    _write_text(root / folder / "AlignedFaces_LBPTOP_Points" / "Points" / f"{stem}.txt",
                                ["0.0 0.0"])
    for _ in range(test_clips):
        number += 1
        stem = f"{number * 10:09d}"
        write_video(root / "Test_AFEW" / f"{stem}.avi")
        release.clips[stem] = ("test", "")
    return release


# -- AMI ---------------------------------------------------------------------

AMI_DEFAULT_MEETINGS = ("ES2002a", "IS1000a", "TS3003a", "EN2001a", "IB4001", "IN1001")


@dataclasses.dataclass
class AmiRelease:
    """What :func:`make_ami_release` wrote: ``files[(meeting, stream)] = path``, durations in seconds."""

    root: Path
    files: dict[tuple[str, str], Path]
    durations: dict[str, float]


def make_ami_release(
    root: str | Path,
    meetings: Sequence[str] = AMI_DEFAULT_MEETINGS,
    streams: Sequence[str] = ("Mix-Headset",),
    *,
    seconds: float = 0.25,
    sample_rate: int = 16000,
) -> AmiRelease:
    """Write an ``amicorpus`` layout into ``root``: ``<meeting>/audio/<meeting>.<stream>.wav``.

    The i-th meeting lasts ``seconds * (i + 1)`` so durations differ; every
    stream of a meeting has that duration. A ``README`` file and a
    ``<meeting>/video/`` folder are written beside, as the download script can.
    """
    root = Path(root)
    release = AmiRelease(root, {}, {})
    _write_text(root / "README.txt", ["AMI Meeting Corpus (test fixture)"])
    for i, meeting in enumerate(meetings):
        duration = seconds * (i + 1)
        release.durations[meeting] = duration
        for stream in streams:
            path = root / meeting / "audio" / f"{meeting}.{stream}.wav"
            release.files[(meeting, stream)] = write_wav(path, duration, sample_rate, seed=i)
        (root / meeting / "video").mkdir(parents=True, exist_ok=True)
    return release
