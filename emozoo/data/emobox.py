"""EmoBox partitions: read them, match every entry to our corpus readers' clips, report the gaps.

EmoBox (Ma et al., 2024, "EmoBox: Multilingual Multi-corpus Speech Emotion Recognition Toolkit
and Benchmark") publishes, per corpus, ``<corpus>/<corpus>.jsonl`` (all clips),
``<corpus>/fold_K/<corpus>_{train,test}_fold_K.jsonl`` and ``<corpus>/label_map.json``. One
JSON object a line::

    {"key": "emodb-03a01Wa", "wav": "downloads/emodb/wav/03a01Wa.wav", "emo": "anger",
     "sample_rate": 16000, "length": 1.88, ...}

``wav`` points at EmoBox's own download layout, never at ours (our copies differ in format,
rate and folders), so entries are matched to clips by ``key`` only: the key is
``<corpus>-<clip id>`` and our readers' ``clip_id`` is the same id (case-insensitive: EmoBox
lower-cases CASIA's speaker names, ``casia-201-zhaozuoxiang-angry`` is our
``201-ZhaoZuoxiang-angry``).

Labels are EmoBox's: ``emo`` -> ``label_map.json`` -> EmoBox class name -> our harmonised emotion
(:data:`EMOBOX_CLASSES`), over all classes of the corpus (label sets ``emodb7``, ``casia6``,
``ravdess8``). The label map is looked up case-insensitively: EmoBox's EmoDB map has
``"Neutral"`` while its partition files write ``"neutral"`` (and spell boredom ``"boredem"``).
Every matched entry's EmoBox label is checked against the label our reader derives from the
file name; a disagreement is reported (it would mean the key points at another clip).

An entry without a clip (RAVDESS here lacks 16 of EmoBox's 1 440 files) is never dropped in
silence: :class:`MatchResult` lists it, :func:`emobox_folds` carries the list per fold and side,
and ``python -m emozoo.evaluate --protocol emobox`` prints and saves it beside the scores.
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Iterable, Sequence

from emozoo.data.labels import get_label_set
from emozoo.data.manifest import Manifest, ManifestRow
from emozoo.data.protocols import Split
from emozoo.errors import DataDirError, LabelError, ManifestError, SplitError

#: EmoBox class names (``label_map.json`` values) -> emozoo's harmonised emotions.
EMOBOX_CLASSES = {"Angry": "angry", "Boredom": "boredom", "Calm": "calm", "Disgust": "disgust",
                  "Fear": "fear", "Happy": "happy", "Neutral": "neutral", "Sad": "sad",
                  "Surprise": "surprise"}


@dataclasses.dataclass(frozen=True)
class EmoBoxCorpus:
    """What emozoo knows of one EmoBox corpus: its reader, label set and number of folds."""

    name: str
    label_set: str
    folds: int
    reader: str = ""

    @property
    def reader_name(self) -> str:
        return self.reader or self.name


CORPORA = {
    "emodb": EmoBoxCorpus("emodb", "emodb7", 5),
    "casia": EmoBoxCorpus("casia", "casia6", 4),
    "ravdess": EmoBoxCorpus("ravdess", "ravdess8", 6),
}


@dataclasses.dataclass(frozen=True)
class EmoBoxEntry:
    """One line of an EmoBox (or user) partition file."""

    key: str
    emo: str
    wav: str = ""
    sample_rate: int = 0
    length: float = 0.0
    speaker: str = ""
    source: str = ""
    line: int = 0

    @property
    def corpus(self) -> str:
        return self.key.split("-", 1)[0] if "-" in self.key else ""

    @property
    def clip_id(self) -> str:
        """The key without its ``<corpus>-`` prefix (our readers' clip id, up to case)."""
        return self.key.split("-", 1)[1] if "-" in self.key else self.key


def read_partition(path: str | os.PathLike) -> list[EmoBoxEntry]:
    """Read a partition file: EmoBox JSONL, or a CSV with ``key`` and ``emo`` columns.

    Optional fields: ``wav``, ``sample_rate``, ``length``, ``speaker`` (a user's file may give
    the speaker explicitly; EmoBox's does not, see :func:`speaker_of`). Raises
    :class:`ManifestError` naming the file and line of a malformed entry.
    """
    path = Path(path)
    if not path.is_file():
        raise DataDirError(f"partition file {path} does not exist")
    rows: list[tuple[int, dict]] = []
    if path.suffix.lower() == ".csv":
        import csv
        with path.open(newline="", encoding="utf-8") as f:
            rows = [(i + 2, dict(r)) for i, r in enumerate(csv.DictReader(f))]
    else:
        with path.open(encoding="utf-8") as f:
            for i, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ManifestError(f"{path}:{i}: not a JSON object ({exc.msg}); a partition file has "
                                        "one JSON object per line") from None
                if not isinstance(obj, dict):
                    raise ManifestError(f"{path}:{i}: expected a JSON object, got {type(obj).__name__}")
                rows.append((i, obj))
    out = []
    for i, obj in rows:
        key = str(obj.get("key") or "").strip()
        emo = obj.get("emo", obj.get("emotion", obj.get("label")))
        if not key:
            raise ManifestError(f"{path}:{i}: entry has no 'key'; every partition entry needs one "
                                "(e.g. 'emodb-03a01Wa')")
        if emo is None or str(emo).strip() == "":
            raise ManifestError(f"{path}:{i}: entry {key!r} has no 'emo' label")
        try:
            sr = int(float(obj.get("sample_rate") or 0))
            length = float(obj.get("length") or 0.0)
        except (TypeError, ValueError):
            raise ManifestError(f"{path}:{i}: entry {key!r} has a non-numeric sample_rate/length") from None
        out.append(EmoBoxEntry(key=key, emo=str(emo).strip(), wav=str(obj.get("wav") or ""), sample_rate=sr,
                               length=length, speaker=str(obj.get("speaker") or ""), source=str(path), line=i))
    if not out:
        raise ManifestError(f"partition file {path} holds no entry")
    return out


def emobox_root(data_dir: str | os.PathLike | None = None) -> Path:
    """``<data dir>/emobox`` (``EMOZOO_DATA_DIR`` unless ``data_dir`` is given)."""
    from emozoo import config
    root = config.data_dir(data_dir) / "emobox"
    if not root.is_dir():
        raise DataDirError(f"no EmoBox partitions at {root}: copy EmoBox's data/<corpus>/ folders (label_map.json, "
                           "<corpus>.jsonl, fold_K/) there, from github.com/emo-box/EmoBox")
    return root


def corpus_info(corpus: str) -> EmoBoxCorpus:
    try:
        return CORPORA[corpus]
    except KeyError:
        raise SplitError(f"no EmoBox support for corpus {corpus!r}; known: {sorted(CORPORA)}") from None


def load_label_map(path: str | os.PathLike) -> dict:
    """``label_map.json`` as ``{emo (lower-case): harmonised emotion}``.

    Raises :class:`LabelError` when a mapped class name is not one of :data:`EMOBOX_CLASSES`.
    """
    path = Path(path)
    if not path.is_file():
        raise DataDirError(f"EmoBox label map {path} does not exist")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path}: not JSON ({exc.msg})") from None
    out = {}
    for emo, cls in raw.items():
        if cls not in EMOBOX_CLASSES:
            raise LabelError(f"{path}: class {cls!r} (for {emo!r}) is not an EmoBox class emozoo knows: "
                             f"{sorted(EMOBOX_CLASSES)}")
        out[emo.lower()] = EMOBOX_CLASSES[cls]
    return out


def entry_emotion(entry: EmoBoxEntry, label_map: dict) -> str:
    """The harmonised emotion of an entry through EmoBox's label map (case-insensitive)."""
    try:
        return label_map[entry.emo.lower()]
    except KeyError:
        raise LabelError(f"{entry.source}:{entry.line}: label {entry.emo!r} of {entry.key!r} is not in the label "
                         f"map ({sorted(label_map)})") from None


def check_label_set(corpus: str, label_map: dict) -> tuple:
    """EmoBox's classes of ``corpus`` must be exactly our native label set's; returns its classes."""
    info = corpus_info(corpus)
    ours = get_label_set(info.label_set).classes
    theirs = set(label_map.values())
    if theirs != set(ours):
        raise LabelError(f"EmoBox's {corpus} classes {sorted(theirs)} differ from label set {info.label_set!r} "
                         f"{sorted(ours)}")
    return tuple(ours)


@dataclasses.dataclass
class MatchResult:
    """Entries of a partition matched to clips.

    Attributes:
        rows: matched clips in entry order, ``emotion`` set to EmoBox's label (mapped).
        missing: entries whose key names no clip of our copy.
        label_mismatch: ``(entry, row, emobox emotion)`` where EmoBox's label differs from ours.
        duplicates: keys given more than once (kept once in ``rows``).
    """

    rows: Manifest
    missing: list
    label_mismatch: list
    duplicates: list
    entries: int

    @property
    def complete(self) -> bool:
        return not self.missing and not self.label_mismatch

    def summary(self) -> dict:
        return {"entries": self.entries, "matched": len(self.rows), "missing": [e.key for e in self.missing],
                "label_mismatch": [{"key": e.key, "emobox": emo, "ours": r.emotion}
                                   for e, r, emo in self.label_mismatch],
                "duplicates": list(self.duplicates)}


def match_entries(entries: Sequence[EmoBoxEntry], manifest: Manifest, label_map: dict | None = None) -> MatchResult:
    """Match partition entries to ``manifest`` rows by key (``<corpus>-<clip_id>``, case-insensitive).

    With ``label_map`` each matched row takes EmoBox's label (checked against ours: a mismatch is
    listed in ``label_mismatch`` and the row is left out, since the key then names another clip).
    An entry whose key has no clip goes to ``missing``: never an error, never dropped silently.
    """
    index: dict[tuple, ManifestRow] = {}
    for r in manifest:
        index[(r.corpus.lower(), r.clip_id.lower())] = r
    rows, missing, mismatch, dups, seen = [], [], [], [], set()
    for e in entries:
        k = (e.corpus.lower(), e.clip_id.lower())
        if k in seen:
            dups.append(e.key)
            continue
        seen.add(k)
        row = index.get(k)
        if row is None:
            missing.append(e)
            continue
        if label_map is not None:
            emo = entry_emotion(e, label_map)
            if row.emotion and row.emotion != emo:
                mismatch.append((e, row, emo))
                continue
            row = dataclasses.replace(row, emotion=emo, extras={**row.extras, "emobox_key": e.key})
        rows.append(row)
    return MatchResult(Manifest(rows, name=manifest.name), missing, mismatch, dups, len(entries))


@dataclasses.dataclass
class EmoBoxFold:
    """One EmoBox fold matched to our clips; ``missing[side]`` lists entries without a clip."""

    index: int
    train: Manifest
    test: Manifest
    missing: dict
    entries: dict
    label_mismatch: dict

    @property
    def name(self) -> str:
        return f"emobox/fold_{self.index}"

    def split(self, valid: Manifest | None = None) -> Split:
        """As a :class:`Split` (train minus ``valid``, test). Not speaker-checked: EmoBox's EmoDB folds
        share speakers between train and test (see :mod:`emozoo.data.audit`)."""
        train = self.train
        if valid is not None and len(valid):
            ids = {(r.corpus, r.clip_id) for r in valid}
            train = train.filter(lambda r: (r.corpus, r.clip_id) not in ids)
        return Split(self.name, train, self.test, valid if valid is not None else Manifest([]))

    def report(self) -> dict:
        return {"fold": self.index, "entries": self.entries,
                "matched": {"train": len(self.train), "test": len(self.test)},
                "missing": {k: [e.key for e in v] for k, v in self.missing.items()},
                "label_mismatch": {k: len(v) for k, v in self.label_mismatch.items()}}


def partition_files(corpus: str, root: str | os.PathLike | None = None) -> list[tuple[int, Path, Path]]:
    """``[(k, train file, test file)]`` of every ``fold_k`` folder of ``<root>/<corpus>``."""
    base = Path(root) if root is not None else emobox_root()
    folder = base / corpus
    if not folder.is_dir():
        raise DataDirError(f"no EmoBox folder {folder}; expected {folder}/fold_K/{corpus}_{{train,test}}_fold_K.jsonl")
    out = []
    for d in sorted(folder.glob("fold_*"), key=lambda p: int(p.name.split("_")[1]) if p.name.split("_")[1].isdigit() else 0):
        k = d.name.split("_", 1)[1]
        if not k.isdigit():
            continue
        tr, te = d / f"{corpus}_train_fold_{k}.jsonl", d / f"{corpus}_test_fold_{k}.jsonl"
        for f in (tr, te):
            if not f.is_file():
                raise DataDirError(f"EmoBox fold folder {d} lacks {f.name}")
        out.append((int(k), tr, te))
    if not out:
        raise DataDirError(f"{folder} has no fold_K folders")
    return out


def emobox_folds(corpus: str, *, root: str | os.PathLike | None = None, manifest: Manifest | None = None,
                 data_dir: str | os.PathLike | None = None, strict: bool = False) -> tuple[list[EmoBoxFold], tuple]:
    """Every EmoBox fold of ``corpus`` matched to our clips, and the class names (label set order).

    Args:
        root: the EmoBox partitions folder (default ``<data dir>/emobox``).
        manifest: the corpus's clips (default: our reader of ``corpus`` over ``data_dir``).
        strict: raise :class:`SplitError` when any entry has no clip (default: report it).
    """
    info = corpus_info(corpus)
    base = Path(root) if root is not None else emobox_root(data_dir)
    label_map = load_label_map(base / corpus / "label_map.json")
    classes = check_label_set(corpus, label_map)
    if manifest is None:
        from emozoo.data.corpora import load_manifest
        manifest = load_manifest(info.reader_name, data_dir=data_dir)
    folds = []
    for k, tr, te in partition_files(corpus, base):
        res = {side: match_entries(read_partition(p), manifest, label_map) for side, p in (("train", tr), ("test", te))}
        bad = {s: r.label_mismatch for s, r in res.items() if r.label_mismatch}
        if bad:
            ex = next(iter(bad.values()))[0]
            raise LabelError(f"EmoBox {corpus} fold {k}: {sum(len(v) for v in bad.values())} entries whose EmoBox label "
                             f"differs from our reader's (e.g. {ex[0].key}: EmoBox {ex[2]!r}, ours {ex[1].emotion!r}); "
                             "the key matching is wrong for this corpus")
        fold = EmoBoxFold(k, res["train"].rows, res["test"].rows, {s: r.missing for s, r in res.items()},
                          {s: r.entries for s, r in res.items()}, {s: r.label_mismatch for s, r in res.items()})
        if strict and any(fold.missing.values()):
            raise SplitError(f"EmoBox {corpus} fold {k}: {sum(map(len, fold.missing.values()))} entries have no clip "
                             f"(e.g. {next(e.key for v in fold.missing.values() for e in v)})")
        folds.append(fold)
    if len(folds) != info.folds:
        raise SplitError(f"EmoBox {corpus}: found {len(folds)} folds under {base / corpus}, EmoBox has {info.folds}")
    return folds, classes


def missing_report(folds: Iterable[EmoBoxFold]) -> dict:
    """Entries without a clip over all folds: per fold and side, and the distinct keys."""
    folds = list(folds)
    keys = sorted({e.key for f in folds for v in f.missing.values() for e in v})
    return {"distinct_missing": len(keys), "keys": keys,
            "per_fold": {f.index: {s: len(v) for s, v in f.missing.items()} for f in folds},
            "test_entries": {f.index: f.entries["test"] for f in folds},
            "test_matched": {f.index: len(f.test) for f in folds}}


def format_missing(corpus: str, report: dict) -> str:
    if not report["distinct_missing"]:
        return f"EmoBox {corpus}: every entry has a clip"
    per = ", ".join(f"fold {k}: test {v['test']}/{report['test_entries'][k]} train {v['train']}"
                    for k, v in report["per_fold"].items())
    return (f"EmoBox {corpus}: {report['distinct_missing']} entries have no clip in our copy and are left out "
            f"of training and scoring ({per}); keys: {', '.join(report['keys'])}")
