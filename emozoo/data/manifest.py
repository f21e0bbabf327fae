"""One manifest format for every corpus.

A corpus reader turns an on-disk release into :class:`ManifestRow` objects; a
:class:`Manifest` holds them, summarises them and writes/reads them as CSV or
JSONL so a user can bring a new corpus without code (see
:mod:`emozoo.data.corpora.csv_manifest`).
"""
from __future__ import annotations

import collections
import csv
import dataclasses
import json
import os
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from emozoo.errors import ManifestError

# Columns in the order they are written. ``paths`` holds further files of the
# same clip (e.g. the video of an audio clip), joined by ';' in CSV.
COLUMNS = (
    "clip_id", "corpus", "path", "paths", "label", "emotion", "speaker", "gender",
    "culture", "language", "dialogue_id", "turn_index", "transcript", "split",
    "label_dist", "extras",
)


@dataclasses.dataclass(frozen=True)
class ManifestRow:
    """One clip (utterance, image or video) of a corpus.

    Attributes:
        clip_id: unique id within the corpus (e.g. ``03a01Wa``).
        corpus: registered corpus name (``emodb``).
        path: the primary media file (audio, image or video); "" for text-only
            or feature-only corpora.
        paths: further files of the same clip (video beside audio, ...).
        label: the corpus's original label string, as it appears in the release.
        emotion: harmonised emotion name from :data:`emozoo.data.labels.EMOTIONS`,
            or "" for unlabelled clips (AMI, IEMOCAP ``xxx``).
        speaker: speaker/subject id, prefixed with the corpus where ids could clash.
        gender: "male" / "female" / "" when unknown.
        culture: culture code (``german``, ``mandarin``, ``english``, ``japanese``, ...).
        language: ISO 639-1 code of the spoken language ("" for faces).
        dialogue_id / turn_index: for conversational corpora (turn_index -1 otherwise).
        transcript: the spoken text, where the corpus gives it.
        split: official split ("train"/"valid"/"test"), "" when the corpus has none.
        label_dist: annotator-level label distribution ``{emotion: share}`` (fuzzy
            labels, seed 003), empty when the corpus has none.
        extras: other per-clip facts (intensity, valence/arousal ...), JSON-serialisable.
    """

    clip_id: str
    corpus: str
    path: str = ""
    paths: tuple = ()
    label: str = ""
    emotion: str = ""
    speaker: str = ""
    gender: str = ""
    culture: str = ""
    language: str = ""
    dialogue_id: str = ""
    turn_index: int = -1
    transcript: str = ""
    split: str = ""
    label_dist: dict = dataclasses.field(default_factory=dict)
    extras: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if not self.clip_id:
            raise ManifestError("a manifest row needs a non-empty clip_id")
        if not self.corpus:
            raise ManifestError(f"row {self.clip_id!r} needs a corpus name")

    @property
    def labelled(self) -> bool:
        return bool(self.emotion)

    def to_flat(self) -> dict:
        """Row as a dict of strings, as written to CSV."""
        out = {}
        for name in COLUMNS:
            value = getattr(self, name)
            if name == "paths":
                value = ";".join(value)
            elif name in ("label_dist", "extras"):
                value = json.dumps(value, sort_keys=True, ensure_ascii=False) if value else ""
            out[name] = str(value)
        return out

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["paths"] = list(self.paths)
        return d

    @classmethod
    def from_mapping(cls, m: dict, *, where: str = "") -> "ManifestRow":
        """Build a row from a CSV/JSON mapping; unknown keys go to ``extras``."""
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs, extras = {}, {}
        for key, value in m.items():
            if key is None:
                raise ManifestError(f"{where}: more values than columns")
            if key in known:
                kwargs[key] = value
            elif value not in ("", None):
                extras[key] = value
        try:
            if isinstance(kwargs.get("paths"), str):
                kwargs["paths"] = tuple(p for p in kwargs["paths"].split(";") if p)
            elif "paths" in kwargs:
                kwargs["paths"] = tuple(kwargs["paths"] or ())
            if "turn_index" in kwargs:
                kwargs["turn_index"] = int(kwargs["turn_index"] if kwargs["turn_index"] not in ("", None) else -1)
            for name in ("label_dist", "extras"):
                if isinstance(kwargs.get(name), str):
                    kwargs[name] = json.loads(kwargs[name]) if kwargs[name] else {}
                elif kwargs.get(name) is None and name in kwargs:
                    kwargs[name] = {}
        except (ValueError, json.JSONDecodeError) as exc:
            raise ManifestError(f"{where}: bad value ({exc})") from exc
        if extras:
            kwargs["extras"] = {**kwargs.get("extras", {}), **extras}
        for key in ("clip_id", "corpus", "path", "label", "emotion", "speaker", "gender",
                    "culture", "language", "dialogue_id", "transcript", "split"):
            if key in kwargs and kwargs[key] is None:
                kwargs[key] = ""
        return cls(**kwargs)


class Manifest(Sequence):
    """An ordered, immutable list of :class:`ManifestRow` with summaries and I/O."""

    def __init__(self, rows: Iterable[ManifestRow], *, name: str = ""):
        self._rows = list(rows)
        self.name = name
        seen = set()
        for row in self._rows:
            key = (row.corpus, row.clip_id)
            if key in seen:
                raise ManifestError(f"duplicate clip_id {row.clip_id!r} in corpus {row.corpus!r}")
            seen.add(key)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return Manifest(self._rows[i], name=self.name)
        return self._rows[i]

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[ManifestRow]:
        return iter(self._rows)

    def __add__(self, other: "Manifest") -> "Manifest":
        return Manifest(list(self) + list(other), name="+".join(n for n in (self.name, other.name) if n))

    def __repr__(self) -> str:
        return f"Manifest(name={self.name!r}, rows={len(self)})"

    # -- selection -------------------------------------------------------
    def filter(self, predicate: Callable[[ManifestRow], bool]) -> "Manifest":
        return Manifest((r for r in self._rows if predicate(r)), name=self.name)

    def where(self, **equals) -> "Manifest":
        """Rows whose attributes equal the given values (a list/set means 'any of')."""
        def ok(row):
            for key, want in equals.items():
                have = getattr(row, key)
                if isinstance(want, (list, tuple, set, frozenset)):
                    if have not in want:
                        return False
                elif have != want:
                    return False
            return True
        return self.filter(ok)

    def with_label_set(self, label_set: str, *, keep_unlabelled: bool = False) -> "Manifest":
        """Rows whose emotion maps into ``label_set``; others dropped (or kept unlabelled)."""
        from emozoo.data.labels import get_label_set

        ls = get_label_set(label_set)
        rows = []
        for r in self._rows:
            if r.emotion and ls.maps(r.emotion):
                rows.append(dataclasses.replace(r, emotion=ls.harmonise(r.emotion)))
            elif keep_unlabelled:
                rows.append(dataclasses.replace(r, emotion=""))
        return Manifest(rows, name=f"{self.name}[{label_set}]")

    # -- summaries -------------------------------------------------------
    def counts(self, key: str) -> "collections.Counter[str]":
        return collections.Counter(str(getattr(r, key)) for r in self._rows)

    def speakers(self) -> list[str]:
        return sorted({r.speaker for r in self._rows if r.speaker})

    def summary(self) -> dict:
        """Counts per label, emotion, speaker, culture, split, corpus (for ``inspect``)."""
        s = {"clips": len(self)}
        for key in ("corpus", "label", "emotion", "speaker", "gender", "culture", "split"):
            s[key] = dict(sorted(self.counts(key).items()))
        dialogues = {r.dialogue_id for r in self._rows if r.dialogue_id}
        if dialogues:
            s["dialogues"] = len(dialogues)
        return s

    # -- I/O -------------------------------------------------------------
    def to_csv(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS)
            w.writeheader()
            for r in self._rows:
                w.writerow(r.to_flat())
        os.replace(tmp, path)
        return path

    def to_jsonl(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            for r in self._rows:
                f.write(json.dumps(r.to_json(), ensure_ascii=False) + "\n")
        os.replace(tmp, path)
        return path

    @classmethod
    def from_jsonl(cls, path: str | os.PathLike) -> "Manifest":
        rows = []
        with open(path, encoding="utf-8") as f:
            for i, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    m = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ManifestError(f"{path}:{i}: not JSON ({exc})") from exc
                rows.append(ManifestRow.from_mapping(m, where=f"{path}:{i}"))
        return cls(rows, name=Path(path).stem)
