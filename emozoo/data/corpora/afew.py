"""AFEW (Acted Facial Expressions in the Wild), English movie clips, as distributed for EmotiW 2017.

Layout of the EmotiW 2017 video-based emotion recognition release::

    AFEW/
      Train_AFEW/<Emotion>/<clip>.avi     Emotion: Angry Disgust Fear Happy Neutral Sad Surprise
      Val_AFEW/<Emotion>/<clip>.avi
      Test_AFEW/<clip>.avi                optional, unlabelled (sub-folders are searched too)

Folders whose names start with ``Aligned`` or ``LBPTOP`` (the organisers'
aligned faces, points and LBP-TOP features, e.g. ``AlignedFaces_LBPTOP_Points``)
are ignored; any other folder holding clips beside the emotion folders is a
:class:`~emozoo.errors.LabelError`, never a silent skip. Emotion folders are
matched case-insensitively and harmonised lower-cased
(:data:`emozoo.data.labels.CORPUS_LABELS`).

One row per clip: ``clip_id`` the file stem, ``label`` the emotion folder name,
``split`` train/valid/test, ``speaker`` "" (the release names no actors).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from emozoo.data.corpora._common import VIDEO_EXTS, files_with
from emozoo.data.corpora.base import CorpusReader, register
from emozoo.data.labels import CORPUS_LABELS, harmonise
from emozoo.data.manifest import ManifestRow
from emozoo.errors import CorpusLayoutError, LabelError

#: (folder, split) of the labelled EmotiW 2017 sets.
LABELLED_SPLITS = (("Train_AFEW", "train"), ("Val_AFEW", "valid"))
TEST_FOLDER = "Test_AFEW"
AUXILIARY_PREFIXES = ("Aligned", "LBPTOP")
EMOTION_FOLDERS = {name.lower(): name for name in CORPUS_LABELS["afew"]}


def is_auxiliary(folder: str) -> bool:
    """True for the organisers' feature folders (``AlignedFaces_LBPTOP_Points`` ...)."""
    return folder.startswith(AUXILIARY_PREFIXES)


@register
class AFEW(CorpusReader):
    """Reader of AFEW as distributed for EmotiW 2017 (layout in the module docstring).

    Args:
        root: the folder holding ``Train_AFEW/`` and ``Val_AFEW/`` (default ``<data_dir>/AFEW``).
        data_dir: data directory used when ``root`` is None.

    Example:
        >>> m = AFEW("/data/AFEW").read()  # doctest: +SKIP
        >>> m.where(split="valid").with_label_set("7basic")  # doctest: +SKIP
    """

    name = "afew"
    folder = "AFEW"
    modality = "video"
    culture = "english"
    language = "en"
    licence = "EmotiW/AFEW end-user licence (research, non-commercial)"
    source = "the EmotiW challenge organisers (sites.google.com/site/emotiwchallenge)"

    def _rows(self) -> Iterator[ManifestRow]:
        if not any((self.root / folder).is_dir() for folder, _ in LABELLED_SPLITS):
            raise CorpusLayoutError(
                f"afew: neither Train_AFEW/ nor Val_AFEW/ under {self.root}; point root at the folder "
                "where the EmotiW 2017 archives were extracted")
        for folder, split in LABELLED_SPLITS:
            if (self.root / folder).is_dir():
                yield from self._labelled_rows(self.root / folder, split)
        test = self.root / TEST_FOLDER
        if test.is_dir():
            for path in files_with(test, VIDEO_EXTS, "**/*"):
                if not any(is_auxiliary(part) for part in path.relative_to(test).parts[:-1]):
                    yield self.row(path.stem, path=str(path), split="test")

    def _labelled_rows(self, base: Path, split: str) -> Iterator[ManifestRow]:
        loose = files_with(base, VIDEO_EXTS)
        if loose:
            raise CorpusLayoutError(
                f"afew: {len(loose)} clips directly in {base} (e.g. {loose[0].name}); labelled clips "
                f"belong in emotion folders {sorted(EMOTION_FOLDERS.values())}")
        for folder in sorted(p for p in base.iterdir() if p.is_dir() and not is_auxiliary(p.name)):
            emotion_folder = EMOTION_FOLDERS.get(folder.name.lower())
            if emotion_folder is None:
                if files_with(folder, VIDEO_EXTS, "**/*"):
                    raise LabelError(
                        f"afew: {folder} holds clips but {folder.name!r} is not an AFEW emotion; known: "
                        f"{sorted(EMOTION_FOLDERS.values())} (rename it, or remove it from {base})")
                continue
            emotion = harmonise("afew", emotion_folder)
            for path in files_with(folder, VIDEO_EXTS):
                yield self.row(path.stem, path=str(path), label=folder.name, emotion=emotion, split=split)
