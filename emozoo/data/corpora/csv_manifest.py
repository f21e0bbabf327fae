"""Any corpus through a manifest CSV: bring a new corpus without code.

Columns: ``path`` and ``label`` are required; optional ``clip_id`` (default:
the file's stem, must be unique), ``speaker``, ``gender``, ``culture``,
``language``, ``split``, ``corpus``, ``transcript``, ``dialogue_id``,
``turn_index``; any other column is kept in ``extras``. Relative paths are
resolved against the CSV's folder. Labels must be harmonised emotion names
(:data:`emozoo.data.labels.EMOTIONS`) or be mapped by ``label_map``
(``{"wut": "angry"}``, or a JSON file given on the command line); an empty
label means an unlabelled clip. An ``emotion`` column (as
:meth:`Manifest.to_csv` writes, beside the original ``label``) gives the
harmonised emotion directly, so a saved manifest reads back as it was.

Example::

    path,label,speaker,culture
    clips/a.wav,angry,s1,german
"""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Mapping

from emozoo.data.corpora.base import CorpusReader, register
from emozoo.data.labels import EMOTIONS
from emozoo.data.manifest import Manifest
from emozoo.errors import LabelError, ManifestError


def read_manifest_csv(path: str | os.PathLike, *, corpus: str | None = None,
                      label_map: Mapping[str, str] | str | None = None) -> Manifest:
    """Read a manifest CSV into a :class:`Manifest` (see module docstring)."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise ManifestError(f"manifest CSV {path} does not exist")
    if isinstance(label_map, (str, os.PathLike)):
        label_map = json.loads(Path(label_map).read_text())
    label_map = dict(label_map or {})
    corpus = corpus or path.stem
    rows = []
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        cols = set(reader.fieldnames or ())
        if not {"path", "label"} <= cols:
            raise ManifestError(f"{path}: a manifest CSV needs columns 'path' and 'label'; it has {sorted(cols)}")
        for n, rec in enumerate(reader, 2):
            if None in rec:
                raise ManifestError(f"{path}:{n}: more values than columns")
            media = rec.pop("path")
            if not media:
                raise ManifestError(f"{path}:{n}: empty path")
            media_path = Path(media) if os.path.isabs(media) else path.parent / media
            label = rec.pop("label").strip()
            given = (rec.pop("emotion", None) or "").strip()
            # A manifest written by emozoo (Manifest.to_csv) carries the harmonised
            # ``emotion`` next to the original ``label``: it wins over the label map.
            emotion = given if given else label_map.get(label, label)
            if emotion and emotion not in EMOTIONS:
                raise LabelError(
                    f"{path}:{n}: label {label!r} is not a harmonised emotion {EMOTIONS}; "
                    "pass a label map (e.g. --label-map map.json with {\"wut\": \"angry\"})")
            mapping = {k: v for k, v in rec.items() if v not in ("", None)}
            mapping.setdefault("clip_id", media_path.stem)
            mapping.setdefault("corpus", corpus)
            mapping.update(path=str(media_path.resolve()), label=label, emotion=emotion)
            rows.append(_row_from(mapping, f"{path}:{n}"))
    if not rows:
        raise ManifestError(f"{path}: no rows")
    return Manifest(rows, name=corpus)


def _row_from(mapping: dict, where: str):
    from emozoo.data.manifest import ManifestRow
    return ManifestRow.from_mapping(mapping, where=where)


@register
class CSVManifest(CorpusReader):
    """A corpus given as a manifest CSV; ``root`` is the CSV file."""

    name = "csv"
    folder = "manifest.csv"
    modality = "audio"
    licence = "as the user's corpus states"

    def __init__(self, root=None, *, data_dir=None, corpus: str | None = None, label_map=None):
        super().__init__(root, data_dir=data_dir)
        self.corpus, self.label_map = corpus, label_map

    def read(self) -> Manifest:
        return read_manifest_csv(self.root, corpus=self.corpus, label_map=self.label_map)
