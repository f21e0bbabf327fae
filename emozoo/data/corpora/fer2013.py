"""FER2013 (ICML 2013 facial-expression challenge), 48x48 grey web faces.

Two releases are read:

* image folders (the copy here): ``fer2013/{train,validation,test}/<emotion>/*.jpg``
  = Training (28 709), PublicTest (3 589), PrivateTest (3 589);
* the Kaggle CSV ``fer2013.csv`` (columns ``emotion,pixels,Usage``; emotion codes
  0..6 = angry, disgust, fear, happy, sad, surprise, neutral). Its rows have no
  file: ``path`` is ``fer2013.csv#<row>`` and :func:`csv_image` decodes one.

Official splits map to ``train`` / ``valid`` / ``test``.
"""
import csv
import functools
from pathlib import Path

import numpy as np

from emozoo.data.corpora._common import IMAGE_EXTS, files_with
from emozoo.data.corpora.base import CorpusReader, register
from emozoo.data.labels import CORPUS_LABELS, FER2013_CODES, harmonise
from emozoo.errors import CorpusLayoutError, LabelError

FOLDER_SPLITS = {"train": ("train", "Training"), "validation": ("valid", "PublicTest"),
                 "test": ("test", "PrivateTest")}
USAGE_SPLITS = {"Training": "train", "PublicTest": "valid", "PrivateTest": "test"}


@register
class FER2013(CorpusReader):
    name = "fer2013"
    folder = "fer2013"
    modality = "image"
    culture = "mixed"
    language = ""
    licence = "research use (Kaggle ICML 2013 challenge terms)"
    source = "Kaggle: challenges-in-representation-learning-facial-expression-recognition-challenge"

    def _rows(self):
        csv_path = self.root / "fer2013.csv"
        if csv_path.exists() and not any((self.root / f).is_dir() for f in FOLDER_SPLITS):
            yield from self._csv_rows(csv_path)
            return
        for folder, (split, usage) in FOLDER_SPLITS.items():
            base = self.root / folder
            if not base.is_dir():
                raise CorpusLayoutError(f"fer2013: missing split folder {base} (or give fer2013.csv)")
            for emo_dir in sorted(p for p in base.iterdir() if p.is_dir()):
                if emo_dir.name not in CORPUS_LABELS["fer2013"]:
                    raise LabelError(f"fer2013: folder {emo_dir} is not one of {sorted(CORPUS_LABELS['fer2013'])}")
                for path in files_with(emo_dir, IMAGE_EXTS):
                    yield self.row(f"{folder}/{emo_dir.name}/{path.stem}", path=str(path),
                                   label=emo_dir.name, emotion=harmonise("fer2013", emo_dir.name),
                                   split=split, extras={"usage": usage})

    def _csv_rows(self, csv_path: Path):
        with open(csv_path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            need = {"emotion", "pixels", "Usage"}
            if not need <= set(reader.fieldnames or ()):
                raise CorpusLayoutError(f"fer2013: {csv_path} needs columns {sorted(need)}, has {reader.fieldnames}")
            for i, rec in enumerate(reader):
                try:
                    code = int(rec["emotion"])
                    label = FER2013_CODES[code]
                except (ValueError, IndexError):
                    raise LabelError(f"fer2013: {csv_path} row {i + 2}: emotion {rec['emotion']!r} "
                                     "is not a code 0..6") from None
                usage = rec["Usage"]
                if usage not in USAGE_SPLITS:
                    raise CorpusLayoutError(f"fer2013: {csv_path} row {i + 2}: Usage {usage!r} not in {sorted(USAGE_SPLITS)}")
                yield self.row(f"csv/{i:05d}", path=f"{csv_path}#{i}", label=str(code),
                               emotion=harmonise("fer2013", label), split=USAGE_SPLITS[usage],
                               extras={"usage": usage})


@functools.lru_cache(maxsize=2)
def _csv_pixels(csv_path: str) -> list:
    with open(csv_path, newline="", encoding="utf-8") as f:
        return [rec["pixels"] for rec in csv.DictReader(f)]


def csv_image(path: str) -> np.ndarray:
    """Decode the 48x48 uint8 image of a ``fer2013.csv#<row>`` path."""
    csv_path, _, idx = path.rpartition("#")
    if not csv_path or not idx.isdigit():
        raise CorpusLayoutError(f"{path!r} is not a fer2013.csv#<row> reference")
    pixels = _csv_pixels(csv_path)[int(idx)].split()
    if len(pixels) != 48 * 48:
        raise CorpusLayoutError(f"{path}: {len(pixels)} pixel values, expected 2304 (48x48)")
    return np.asarray(pixels, dtype=np.uint8).reshape(48, 48, 1)
