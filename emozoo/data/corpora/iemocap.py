"""IEMOCAP (Interactive Emotional Dyadic Motion Capture), English, USC SAIL.

Reads the official ``IEMOCAP_full_release`` folder as distributed by USC::

    IEMOCAP_full_release/
      Session1/ .. Session5/
        dialog/
          EmoEvaluation/Ses01F_impro01.txt        one file per dialogue (read)
          EmoEvaluation/Categorical/, Attribute/, Self-evaluation/   (ignored)
          transcriptions/Ses01F_impro01.txt
          avi/DivX/Ses01F_impro01.avi              (or avi/Ses01F_impro01.avi)
        sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav

An ``EmoEvaluation`` file starts with header lines (``% [START_TIME - END_TIME]
TURN_NAME EMOTION [V, A, D]``), then one block per turn::

    [6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, 2.5000, 2.5000]
    C-E2:<TAB>Neutral;<TAB>()
    C-E4:<TAB>Neutral; Frustration;<TAB>(comment)
    A-E3:<TAB>val 3; act 2; dom  2;<TAB>()

The block header gives start-end (seconds in the dialogue), the turn name, the
consensus emotion code and the consensus [valence, activation, dominance]. ``C-``
lines are one annotator's categorical votes (several emotions separated by
``;``), ``A-`` lines one annotator's 1-5 ratings. Transcription lines read
``Ses01F_impro01_F000 [006.2901-008.2357]: Excuse me.``; lines of names that
are not evaluated turns (``M_LAUGHTER``, ``..._MXX0``) are skipped.

One row per evaluated turn:

* ``clip_id`` the turn name, ``path`` its sentence wav, ``paths`` the dialogue's
  avi when present (``dialog/avi/DivX/``, else ``dialog/avi/``);
* ``label`` the consensus code, ``emotion`` its harmonised name (``xxx``, no
  consensus, is unlabelled "");
* ``speaker`` ``Ses0<n><F|M>``: session plus the letter of the turn's last name
  part (``..._F000`` is the female actor, whoever wore the markers), ``gender``;
* ``dialogue_id`` / ``turn_index`` (order by start time), ``transcript``;
* ``split`` "" -- sessions define the protocols (leave-one-session-out);
* ``label_dist`` the annotators' categorical votes mapped by
  :data:`ANNOTATOR_LABELS`, each annotator's vote split equally among the
  emotions listed (self-evaluations ``C-F1``/``C-M1`` count as annotators);
* ``extras`` session, start, end, valence, activation, dominance,
  annotator_dims ([val, act, dom] per ``A-`` line, ``None`` for a blank value),
  valence_level / arousal_level (:func:`arousal_valence_levels` of the consensus
  valence / activation, seed 003; a finite consensus value off the 1-5 scale is
  binned as 1 or 5, its raw value kept), improvised (False for ``scriptNN`` dialogues).

Use ``Manifest.with_label_set("4class", keep_unlabelled=True)`` for the usual
neutral/happy/angry/sad classes (excited merged into happy) with frustrated and
the rest kept as unlabelled context rows.

Label harmonisation (:data:`emozoo.data.labels.CORPUS_LABELS`): ang angry,
hap happy, exc excited, sad sad, neu neutral, fru frustrated, sur surprise,
fea fear, dis disgust, oth other, xxx unlabelled.
"""
from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path
from typing import Iterable, Iterator

from emozoo.data.corpora.base import CorpusReader, register
from emozoo.data.labels import harmonise
from emozoo.data.manifest import ManifestRow
from emozoo.errors import CorpusLayoutError, LabelError

SESSION_DIR = re.compile(r"^Session(\d+)$")
TURN_HEADER = re.compile(
    r"^\[(?P<start>\d+(?:\.\d*)?)\s*-\s*(?P<end>\d+(?:\.\d*)?)\]\s+(?P<turn>\S+)\s+(?P<code>\S+)\s+"
    r"\[(?P<vad>[^\]]*)\]\s*$"
)
CATEGORICAL = re.compile(r"^C-(?P<annotator>[^:\s]+):\s*(?P<labels>[^()]*?)\s*(?:\((?P<comment>.*)\))?\s*$")
DIMENSIONAL = re.compile(
    r"^A-(?P<annotator>[^:\s]+):\s*val\s*(?P<val>[^;\s]*)\s*;\s*act\s*(?P<act>[^;\s]*)\s*;"
    r"\s*dom\s*(?P<dom>[^;\s]*)\s*;?\s*(?:\((?P<comment>.*)\))?\s*$"
)
TRANSCRIPT = re.compile(r"^(?P<turn>\S+)\s+\[[^\]]*\]:\s?(?P<text>.*)$")
TURN_SUFFIX = re.compile(r"^(?P<gender>[FM])\d+$")

#: IEMOCAP annotators' categorical names -> harmonised emotions (``label_dist``).
ANNOTATOR_LABELS = {
    "Neutral": "neutral", "Neutral state": "neutral", "Frustration": "frustrated",
    "Anger": "angry", "Happiness": "happy", "Excited": "excited", "Sadness": "sad",
    "Surprise": "surprise", "Fear": "fear", "Disgust": "disgust", "Other": "other",
}
GENDERS = {"F": "female", "M": "male"}


def arousal_valence_levels(value: float) -> int:
    """Three levels of a 1-5 IEMOCAP rating, as seed 003 bins them.

    ``[1, 2]`` -> 0 (low), ``(2, 4)`` -> 1 (mid), ``[4, 5]`` -> 2 (high).

    >>> [arousal_valence_levels(v) for v in (2.0, 2.5, 4.0)]
    [0, 1, 2]
    """
    v = float(value)
    if math.isnan(v) or not 1.0 <= v <= 5.0:
        raise LabelError(f"iemocap rating {value!r} is outside the 1-5 scale; pass a valence/activation/dominance value")
    if v <= 2.0:
        return 0
    if v < 4.0:
        return 1
    return 2


@dataclasses.dataclass
class EvaluatedTurn:
    """One turn block of an ``EmoEvaluation`` file."""

    name: str
    start: float
    end: float
    code: str
    vad: tuple[float, float, float]
    votes: list[tuple[str, tuple[str, ...]]] = dataclasses.field(default_factory=list)
    dims: list[tuple[str, list[float | None]]] = dataclasses.field(default_factory=list)

    @property
    def gender_letter(self) -> str:
        return self.name.rsplit("_", 1)[-1][0]

    def label_dist(self, where: str) -> dict[str, float]:
        """Annotators' votes as ``{emotion: share}``, each annotator weighing 1."""
        dist: dict[str, float] = {}
        voters = [emotions for _, emotions in self.votes if emotions]
        for emotions in voters:
            names = list(dict.fromkeys(_annotator_emotion(e, where) for e in emotions))
            for name in names:
                dist[name] = dist.get(name, 0.0) + 1.0 / (len(names) * len(voters))
        return dict(sorted(dist.items()))


def _annotator_emotion(name: str, where: str) -> str:
    if name in ANNOTATOR_LABELS:
        return ANNOTATOR_LABELS[name]
    if re.match(r"^Other\b", name):  # "Other:annoyed" carries a free-text description
        return "other"
    raise LabelError(f"iemocap: {where}: unknown annotator emotion {name!r}; known: {sorted(ANNOTATOR_LABELS)}")


def _number(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise CorpusLayoutError(f"iemocap: {where}: {text!r} is not a number") from None


def parse_emo_evaluation(path: Path) -> list[EvaluatedTurn]:
    """The turn blocks of one ``dialog/EmoEvaluation/<dialogue>.txt`` file, in file order."""
    turns: list[EvaluatedTurn] = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for i, raw in enumerate(f, 1):
            line = raw.strip()
            where = f"{path}:{i}"
            if not line or line.startswith("%"):
                continue
            if line.startswith("["):
                m = TURN_HEADER.match(line)
                vad = m and [p.strip() for p in m["vad"].split(",")]
                if not m or len(vad) != 3:
                    raise CorpusLayoutError(
                        f"iemocap: {where}: malformed turn line {line!r}; expected "
                        "'[start - end]<TAB>turn<TAB>code<TAB>[val, act, dom]'")
                if not TURN_SUFFIX.match(m["turn"].rsplit("_", 1)[-1]):
                    raise CorpusLayoutError(
                        f"iemocap: {where}: turn name {m['turn']!r} does not end in _F<nnn> or _M<nnn>")
                turns.append(EvaluatedTurn(
                    m["turn"], _number(m["start"], where), _number(m["end"], where), m["code"],
                    tuple(_number(v, where) for v in vad)))
                continue
            if not turns:
                raise CorpusLayoutError(f"iemocap: {where}: annotation line {line!r} before any turn line")
            if m := CATEGORICAL.match(line):
                emotions = tuple(e.strip() for e in m["labels"].split(";") if e.strip())
                turns[-1].votes.append((m["annotator"], emotions))
            elif m := DIMENSIONAL.match(line):
                dims = [_number(m[k], where) if m[k] else None for k in ("val", "act", "dom")]
                turns[-1].dims.append((m["annotator"], dims))
            else:
                raise CorpusLayoutError(
                    f"iemocap: {where}: malformed line {line!r}; expected 'C-<annotator>:<TAB>Emotion;<TAB>()' "
                    "or 'A-<annotator>:<TAB>val v; act a; dom d;<TAB>()'")
    names = [t.name for t in turns]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise CorpusLayoutError(f"iemocap: {path}: turns {dup} appear more than once")
    return turns


def parse_transcriptions(path: Path) -> dict[str, str]:
    """``{name: text}`` of one ``dialog/transcriptions/<dialogue>.txt`` ({} when the file is absent)."""
    if not path.is_file():
        return {}
    out: dict[str, str] = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if m := TRANSCRIPT.match(line.strip()):
                out[m["turn"]] = m["text"].strip()
    return out


@register
class IEMOCAP(CorpusReader):
    """Reader of the official IEMOCAP release (see the module docstring for the layout).

    Args:
        root: the ``IEMOCAP_full_release`` folder (default ``<data_dir>/IEMOCAP_full_release``).
        data_dir: data directory used when ``root`` is None.
        sessions: session numbers to read (default: every ``SessionN`` folder present).
        require_media: raise :class:`CorpusLayoutError` listing the sentence wavs
            that are missing; by default rows keep the expected path.

    Example:
        >>> m = IEMOCAP("/data/IEMOCAP_full_release").read()  # doctest: +SKIP
        >>> m.where(speaker="Ses01F").with_label_set("4class")  # doctest: +SKIP
    """

    name = "iemocap"
    folder = "IEMOCAP_full_release"
    modality = "audio"
    culture = "english"
    language = "en"
    licence = "USC IEMOCAP licence (research, non-commercial)"
    source = "sail.usc.edu/iemocap"

    def __init__(self, root=None, *, data_dir=None, sessions: Iterable[int] | None = None,
                 require_media: bool = False):
        super().__init__(root, data_dir=data_dir)
        self.sessions = None if sessions is None else sorted({int(s) for s in sessions})
        self.require_media = require_media

    def session_dirs(self) -> dict[int, Path]:
        found = {int(m[1]): p for p in self.root.iterdir()
                 if p.is_dir() and (m := SESSION_DIR.match(p.name))}
        if self.sessions is not None:
            missing = [s for s in self.sessions if s not in found]
            if missing:
                raise CorpusLayoutError(
                    f"iemocap: no Session{missing[0]} folder under {self.root} (asked for sessions "
                    f"{self.sessions}); copy the full release or ask only for {sorted(found)}")
            found = {s: found[s] for s in self.sessions}
        if not found:
            raise CorpusLayoutError(
                f"iemocap: no Session1..Session5 folders under {self.root}; point root at the "
                "IEMOCAP_full_release folder of the official release")
        return dict(sorted(found.items()))

    def _rows(self) -> Iterator[ManifestRow]:
        rows: list[ManifestRow] = []
        for n, session in self.session_dirs().items():
            evaluations = self.require(session / "dialog" / "EmoEvaluation", f"Session{n} EmoEvaluation folder")
            for path in sorted(evaluations.glob("*.txt")):
                if path.is_file() and not path.name.startswith("."):
                    rows.extend(self._dialogue_rows(n, session, path))
        if self.require_media:
            missing = [r.path for r in rows if not Path(r.path).is_file()]
            if missing:
                shown = "\n  ".join(missing[:10]) + (f"\n  ... and {len(missing) - 10} more" if len(missing) > 10 else "")
                raise CorpusLayoutError(
                    f"iemocap: {len(missing)} sentence wav files are missing under {self.root}:\n  {shown}\n"
                    "extract sentences/wav of every session, or read with require_media=False")
        yield from rows

    def _dialogue_rows(self, n: int, session: Path, path: Path) -> Iterator[ManifestRow]:
        dialogue = path.stem
        turns = parse_emo_evaluation(path)
        transcripts = parse_transcriptions(session / "dialog" / "transcriptions" / path.name)
        avis = [session / "dialog" / "avi" / sub / f"{dialogue}.avi" for sub in ("DivX", "")]
        paths = next(((str(avi),) for avi in avis if avi.is_file()), ())
        order = sorted(turns, key=lambda t: (t.start, t.end, t.name))
        for index, turn in enumerate(order):
            where = f"{path} turn {turn.name}"
            valence, activation, dominance = turn.vad
            extras = {
                "session": n, "start": turn.start, "end": turn.end,
                "valence": valence, "activation": activation, "dominance": dominance,
                "annotator_dims": [dims for _, dims in turn.dims],
                "valence_level": _level(valence, where), "arousal_level": _level(activation, where),
                "improvised": "_script" not in dialogue,
            }
            try:
                emotion = harmonise("iemocap", turn.code)
            except LabelError as exc:
                raise LabelError(f"{where}: {exc}") from None
            letter = turn.gender_letter
            yield self.row(
                turn.name,
                path=str(session / "sentences" / "wav" / dialogue / f"{turn.name}.wav"),
                paths=paths, label=turn.code, emotion=emotion,
                speaker=f"Ses{n:02d}{letter}", gender=GENDERS[letter],
                dialogue_id=dialogue, turn_index=index, transcript=transcripts.get(turn.name, ""),
                split="", label_dist=turn.label_dist(where), extras=extras,
            )


def _level(value: float, where: str) -> int:
    """Level of a consensus rating; finite values off the 1-5 scale are binned as 1 or 5."""
    try:
        return arousal_valence_levels(min(max(value, 1.0), 5.0) if math.isfinite(value) else value)
    except LabelError as exc:
        raise CorpusLayoutError(f"{where}: {exc}") from None
