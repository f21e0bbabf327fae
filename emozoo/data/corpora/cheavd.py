"""CHEAVD 2.0 (CASIA Chinese Natural Emotional Audio-Visual Database), Mandarin.

Reads the release distributed for the MEC 2017 challenge (Multimodal Emotion
Recognition Challenge, CCPR 2016/2017), movie and TV clips of Mandarin speakers::

    CHEAVD2/
      train/<clip>.mp4 | <clip>.avi      data folders, one per official split
      val/<clip>.mp4
      test/<clip>.mp4
      train.txt  (or train.csv)          label lists: '<clip filename>,<emotion>'
      val.txt    (or val.csv)
      test.txt   (or test.csv)           optional; without it test clips are unlabelled

A label-list line holds the clip's file name (with or without extension) and its
emotion, separated by a comma, a tab or spaces; an optional first header line
(``filename,label``, ``文件名,标签``) is skipped. Lists are read as UTF-8, else
GB18030. Emotions are MEC 2017's eight, matched case-insensitively: angry,
anxious, disgust, happy, neutral, sad, surprise, worried (harmonised as
themselves, :data:`emozoo.data.labels.CORPUS_LABELS`).

One row per clip: ``clip_id`` the file stem, ``split`` train/valid/test from the
folder, ``label`` as written in the list, ``emotion`` harmonised ("" for clips
that no list labels, e.g. the test set), ``speaker`` "" (the release names none).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from emozoo.data.corpora._common import VIDEO_EXTS, files_with, prefer_one_per_stem
from emozoo.data.corpora.base import CorpusReader, register
from emozoo.data.labels import harmonise
from emozoo.data.manifest import ManifestRow
from emozoo.errors import CorpusLayoutError, LabelError

#: (data folder, which is also the label list's stem; split) of the MEC 2017 release.
SPLITS = (("train", "train"), ("val", "valid"), ("test", "test"))
LIST_SUFFIXES = (".txt", ".csv")
HEADER_LABELS = {"label", "labels", "emotion", "emotions", "class", "category", "标签", "情感", "类别"}


def read_text(path: Path) -> str:
    """A label list as text: UTF-8 (with or without BOM), else GB18030 as Chinese tools write."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030")


def read_label_list(path: Path) -> list[tuple[str, str, int]]:
    """``(clip file name, label as written, line number)`` of one MEC 2017 label list."""
    entries: list[tuple[str, str, int]] = []
    for i, line in enumerate(read_text(path).splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        separator = "," if "," in line else "\t" if "\t" in line else None
        fields = [f.strip() for f in line.split(separator) if f.strip()]
        if len(fields) != 2:
            raise CorpusLayoutError(
                f"cheavd: {path}:{i}: expected '<clip filename>,<emotion>', got {line!r}")
        if not entries and fields[1].lower() in HEADER_LABELS:
            continue  # header line
        entries.append((Path(fields[0].replace("\\", "/")).name, fields[1], i))
    return entries


@register
class CHEAVD(CorpusReader):
    """Reader of CHEAVD 2.0 as distributed for MEC 2017 (layout in the module docstring).

    Args:
        root: the release folder holding ``train/``, ``val/``, ``test/`` and the
            label lists (default ``<data_dir>/CHEAVD2``).
        data_dir: data directory used when ``root`` is None.

    Example:
        >>> m = CHEAVD("/data/CHEAVD2").read()  # doctest: +SKIP
        >>> m.where(split="train").summary()["emotion"]  # doctest: +SKIP
    """

    name = "cheavd"
    folder = "CHEAVD2"
    modality = "video"
    culture = "mandarin"
    language = "zh"
    licence = "CASIA/MEC 2017 research agreement"
    source = "the MEC 2017 organisers (CASIA NLPR)"

    def label_list(self, stem: str) -> Path | None:
        found = [self.root / f"{stem}{s}" for s in LIST_SUFFIXES if (self.root / f"{stem}{s}").is_file()]
        if len(found) > 1:
            raise CorpusLayoutError(
                f"cheavd: both {found[0].name} and {found[1].name} under {self.root}; keep one label list")
        return found[0] if found else None

    def _rows(self) -> Iterator[ManifestRow]:
        if not any((self.root / folder).is_dir() for folder, _ in SPLITS):
            raise CorpusLayoutError(
                f"cheavd: none of train/, val/, test/ under {self.root}; point root at the MEC 2017 "
                "CHEAVD 2.0 release folder")
        for folder, split in SPLITS:
            yield from self._split_rows(folder, split)

    def _split_rows(self, folder: str, split: str) -> Iterator[ManifestRow]:
        data = self.root / folder
        listing = self.label_list(folder)
        if not data.is_dir():
            if listing is not None:
                raise CorpusLayoutError(f"cheavd: {listing.name} lists clips but {data} does not exist")
            return
        if listing is None and split != "test":
            raise CorpusLayoutError(
                f"cheavd: {data} has no label list; expected {folder}.txt or {folder}.csv beside it")
        clips = prefer_one_per_stem(files_with(data, VIDEO_EXTS), order=VIDEO_EXTS)
        by_name = {p.name: p for p in clips} | {p.stem: p for p in clips}
        labels: dict[Path, str] = {}
        for name, label, line in read_label_list(listing) if listing else ():
            where = f"{listing}:{line}"
            path = by_name.get(name)
            if path is None:
                raise CorpusLayoutError(f"cheavd: {where}: clip {name!r} is not in {data}")
            if path in labels:
                raise CorpusLayoutError(f"cheavd: {where}: clip {name!r} is listed twice")
            try:
                harmonise("cheavd", label.lower())
            except LabelError as exc:
                raise LabelError(f"cheavd: {where}: {exc}") from None
            labels[path] = label
        for path in clips:
            label = labels.get(path, "")
            yield self.row(path.stem, path=str(path), label=label,
                           emotion=harmonise("cheavd", label.lower()) if label else "", split=split)
