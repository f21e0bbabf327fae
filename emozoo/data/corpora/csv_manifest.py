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

Encoding: UTF-8 (with or without a byte-order mark) unless ``encoding`` (``--encoding``) names
another. A file that is not UTF-8 is read as Windows-1252 / Latin-1 (what spreadsheet programs
save) and a warning on the ``emozoo.data`` logger says so; a file with NUL bytes is not a CSV.

Example::

    path,label,speaker,culture
    clips/a.wav,angry,s1,german
"""
from __future__ import annotations

import codecs
import csv
import io
import json
import logging
import os
from pathlib import Path
from typing import Mapping

from emozoo.data.corpora.base import CorpusReader, register
from emozoo.data.labels import EMOTIONS
from emozoo.data.manifest import Manifest
from emozoo.errors import LabelError, ManifestError

log = logging.getLogger("emozoo.data")


def load_label_map(label_map: Mapping[str, str] | str | os.PathLike | None) -> dict:
    """A label map (``{"wut": "angry"}``) given as a mapping or as the path of a JSON object file.

    Raises :class:`~emozoo.errors.ManifestError` (one line) when the file is missing, not JSON,
    or not an object of strings.
    """
    if label_map is None:
        return {}
    where = "label map"
    if isinstance(label_map, (str, os.PathLike)):
        where = f"--label-map {label_map}"
        path = Path(label_map).expanduser()
        if not path.is_file():
            raise ManifestError(f"{where}: no such file; give a JSON object file such as {{\"wut\": \"angry\"}}")
        try:
            label_map = json.loads(path.read_text(encoding="utf-8-sig"))
        except UnicodeDecodeError as exc:
            raise ManifestError(f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start}); "
                                "give a JSON object file such as {\"wut\": \"angry\"}") from None
        except json.JSONDecodeError as exc:
            raise ManifestError(f"{where}: not JSON ({exc.msg}, line {exc.lineno} column {exc.colno}); "
                                "give a JSON object such as {\"wut\": \"angry\"}") from None
    if not isinstance(label_map, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                     for k, v in label_map.items()):
        raise ManifestError(f"{where}: must be a JSON object of label -> emotion strings such as "
                            f"{{\"wut\": \"angry\"}}; got {type(label_map).__name__} {str(label_map)[:60]!r}")
    return dict(label_map)


def read_csv_text(path: str | os.PathLike, encoding: str | None = None) -> tuple[str, str]:
    """The text of CSV ``path`` and the encoding it was read with (see the module docstring)."""
    path = Path(path)
    raw = path.read_bytes()
    if encoding:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ManifestError(f"--encoding {encoding!r} is not an encoding Python knows "
                                "(e.g. utf-8, cp1252, latin-1)") from None
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ManifestError(f"{path}: not {encoding} ({exc.reason} at byte {exc.start}); "
                                "pass the file's encoding with --encoding") from None
    else:
        try:
            text, encoding = raw.decode("utf-8-sig"), "utf-8"
        except UnicodeDecodeError as exc:
            first = f"byte 0x{raw[exc.start]:02x} at offset {exc.start}"
            try:
                text, encoding = raw.decode("cp1252"), "cp1252"
            except UnicodeDecodeError:
                text, encoding = raw.decode("latin-1"), "latin-1"
            log.warning("%s is not UTF-8 (%s): read it as %s; pass --encoding to choose another or save the "
                        "file as UTF-8", path, first,
                        "Windows-1252 (Latin-1)" if encoding == "cp1252" else "Latin-1 (ISO-8859-1)")
    if "\x00" in text:
        raise ManifestError(f"{path}: holds NUL bytes; a manifest CSV is a text file (path,label,...)")
    return text, encoding


def read_manifest_csv(path: str | os.PathLike, *, corpus: str | None = None,
                      label_map: Mapping[str, str] | str | None = None, encoding: str | None = None) -> Manifest:
    """Read a manifest CSV into a :class:`Manifest` (see module docstring).

    Args:
        path: the CSV file.
        corpus: corpus name of its rows (default the file's stem).
        label_map: a mapping or the path of a JSON object mapping the CSV's labels to emotions.
        encoding: the file's text encoding; default UTF-8, falling back to Windows-1252/Latin-1
            with a warning.

    Example:
        >>> m = read_manifest_csv("my_corpus.csv", label_map={"wut": "angry"})  # doctest: +SKIP
    """
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise ManifestError(f"manifest CSV {path} does not exist")
    label_map = load_label_map(label_map)
    corpus = corpus or path.stem
    rows = []
    text, _ = read_csv_text(path, encoding)
    with io.StringIO(text, newline="") as f:
        reader = csv.DictReader(f)
        cols = set(reader.fieldnames or ())
        if not {"path", "label"} <= cols:
            raise ManifestError(f"{path}: a manifest CSV needs columns 'path' and 'label'; it has {sorted(cols)}")
        for n, rec in _records(reader, path):
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


def _records(reader, path):
    """``(line number, record)`` of a ``csv.DictReader``; a malformed CSV is a ManifestError."""
    n = 1
    try:
        for n, rec in enumerate(reader, 2):
            yield n, rec
    except csv.Error as exc:
        raise ManifestError(f"{path}:{n + 1}: not a valid CSV line ({exc})") from None


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

    def __init__(self, root=None, *, data_dir=None, corpus: str | None = None, label_map=None,
                 encoding: str | None = None):
        super().__init__(root, data_dir=data_dir)
        self.corpus, self.label_map, self.encoding = corpus, label_map, encoding

    def read(self) -> Manifest:
        return read_manifest_csv(self.root, corpus=self.corpus, label_map=self.label_map, encoding=self.encoding)
