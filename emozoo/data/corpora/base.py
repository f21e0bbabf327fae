"""Corpus readers: an on-disk release -> a :class:`~emozoo.data.manifest.Manifest`.

Each corpus has one module in this package with a :class:`CorpusReader`
subclass registered under its name (TFDS-style builder). A reader knows the
folder it expects inside the data directory, how to read labels, speakers and
official splits from the release, and the modality of its clips.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

from emozoo import config
from emozoo.data.manifest import Manifest, ManifestRow
from emozoo.errors import CorpusLayoutError, DataDirError, UnknownCorpusError

_REGISTRY: dict[str, type["CorpusReader"]] = {}


def register(cls: type["CorpusReader"]) -> type["CorpusReader"]:
    """Class decorator registering a reader under ``cls.name``."""
    if not cls.name:
        raise TypeError(f"{cls.__name__} needs a name")
    _REGISTRY[cls.name] = cls
    return cls


def corpus_names() -> list[str]:
    _import_all()
    return sorted(_REGISTRY)


def get_reader(name: str) -> type["CorpusReader"]:
    _import_all()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownCorpusError(
            f"no corpus reader named {name!r}; known: {', '.join(sorted(_REGISTRY))} "
            "(any other corpus can be read from a manifest CSV: corpus 'csv' with --manifest)"
        ) from None


def load_manifest(name: str, root: str | os.PathLike | None = None, *,
                  data_dir: str | os.PathLike | None = None, **kwargs) -> Manifest:
    """Read corpus ``name`` from ``root`` (or ``<data_dir>/<default folder>``)."""
    reader_cls = get_reader(name)
    return reader_cls(root, data_dir=data_dir, **kwargs).read()


def _import_all() -> None:
    # Importing the package registers every reader module.
    import emozoo.data.corpora  # noqa: F401


class CorpusReader:
    """Base class of every corpus reader.

    Subclasses set the class attributes and implement :meth:`_rows`.

    Attributes:
        name: registry name.
        folder: default folder name inside the data directory.
        modality: ``audio``, ``image``, ``video``, ``text``, ``features`` or ``av``.
        culture / language: of the whole corpus, when it has one.
        licence: the corpus's stated terms, carried into model cards.
    """

    name: ClassVar[str] = ""
    folder: ClassVar[str] = ""
    modality: ClassVar[str] = ""
    culture: ClassVar[str] = ""
    language: ClassVar[str] = ""
    licence: ClassVar[str] = ""
    source: ClassVar[str] = ""

    def __init__(self, root: str | os.PathLike | None = None, *,
                 data_dir: str | os.PathLike | None = None):
        if root is None:
            base = config.data_dir(data_dir)
            root = base / self.folder
        self.root = Path(root).expanduser().resolve()
        if not self.root.exists():
            raise DataDirError(
                f"{self.name}: folder {self.root} does not exist. Get the corpus from "
                f"{self.source or 'its official source'} and place it there (see docs/datasets.md)"
            )

    def read(self) -> Manifest:
        rows = list(self._rows())
        if not rows:
            raise CorpusLayoutError(
                f"{self.name}: no clips found under {self.root}; expected the layout in docs/datasets.md"
            )
        return Manifest(rows, name=self.name)

    def _rows(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def row(self, clip_id: str, **kwargs) -> ManifestRow:
        """A row with the corpus-wide defaults filled in."""
        kwargs.setdefault("culture", self.culture)
        kwargs.setdefault("language", self.language)
        return ManifestRow(clip_id=clip_id, corpus=self.name, **kwargs)

    def require(self, path: Path, what: str) -> Path:
        if not path.exists():
            raise CorpusLayoutError(f"{self.name}: missing {what} at {path}")
        return path
