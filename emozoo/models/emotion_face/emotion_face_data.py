"""The training data of ``emotion_face``: rows of several block-12 trunk caches as one table.

The caches are those of :mod:`emozoo.backbones.face.finetune` (``python pipelines/face_finetune.py
--build jaffe,ckplus,fer2013 --blocks 1``): per face, the output of the face MobileNet's block 12
(``[7, 7, 1024]`` float16) for the same crop as the ``face_mobilenet`` stores (JAFFE, CK+48: the
largest MTCNN face as a 224 RGB crop; FER2013: the whole 48x48 image resized to 224, its images
being aligned face crops). FER2013's cache is 3.4 GB: it is never loaded whole; the chunks are
memory-mapped and :meth:`FaceTrunks.gather` copies only the rows asked for.

Labels are mapped by class name onto the classes asked for (the 6 shared ones
:data:`SHARED6` for leave-one-corpus-out, FER2013's 7 :data:`FER7` for the published model);
rows of other classes are left out.

Example:

>>> t = FaceTrunks(("jaffe", "ckplus"), SHARED6)          # doctest: +SKIP
>>> t.gather(np.arange(4)).shape                           # doctest: +SKIP
(4, 7, 7, 1024)
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from emozoo.errors import SchemaError

CORPORA = ("jaffe", "ckplus", "fer2013")
SHARED6 = ("angry", "disgust", "fear", "happy", "sad", "surprise")
FER7 = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
REPO = Path(__file__).resolve().parents[3]
#: cache folder of each corpus under ``tfrecords/cache`` (``jaffe7``: JAFFE with its neutral faces,
#: label set 7basic, built by :func:`build_jaffe7`).
CACHE_NAMES = {"jaffe": "jaffe_face_mobilenet_top1", "ckplus": "ckplus_face_mobilenet_top1",
               "fer2013": "fer2013_face_mobilenet_top1", "jaffe7": "jaffe7basic_face_mobilenet_top1"}


def cache_root(repo: Path = REPO) -> Path:
    return Path(repo) / "tfrecords" / "cache"


class FaceTrunks:
    """Rows of the trunk caches of ``corpora`` whose class is in ``classes``, as one table.

    Attributes:
        y: labels in ``classes`` order; corpus, speaker, split, clip_id: per row (``corpus`` is the
            corpus name, ``jaffe7`` read as ``jaffe``).
        classes: the class names.

    Args:
        corpora: keys of :data:`CACHE_NAMES`.
        classes: class names kept, in label order.
        root: the folder holding the caches (default ``tfrecords/cache``).
        verify: check every chunk's sha256 against ``cache.json`` once (reads the files; this also
            warms the page cache).
    """

    def __init__(self, corpora, classes, root: Path | None = None, verify: bool = True):
        from emozoo.backbones.face.finetune import open_cache

        root = Path(root) if root else cache_root()
        self.classes = tuple(classes)
        self._chunks, ys, corpus, speaker, split, clip, where = [], [], [], [], [], [], []
        for name in corpora:
            if name not in CACHE_NAMES:
                raise SchemaError(f"unknown trunk cache {name!r}; known: {sorted(CACHE_NAMES)}")
            cache = open_cache(root / CACHE_NAMES[name])
            if cache.meta["settings"]["blocks"] != 1:
                raise SchemaError(f"{cache.folder}: a cache of block {13 - cache.meta['settings']['blocks']}; "
                                  "emotion_face fine-tunes block 13 only (--blocks 1)")
            names = np.array(cache.classes)[cache.y]
            keep = np.flatnonzero(np.isin(names, self.classes))
            start = 0
            offsets = []
            for f, n, digest in cache.meta["chunks"]:
                path = cache.folder / f
                if verify:
                    h = hashlib.sha256()
                    with open(path, "rb") as fh:
                        for block in iter(lambda: fh.read(1 << 24), b""):
                            h.update(block)
                    if h.hexdigest()[:16] != digest:
                        raise SchemaError(f"{path}: changed since the cache was built (sha256 differs); rebuild "
                                          f"{cache.folder}")
                arr = np.load(path, mmap_mode="r", allow_pickle=False)
                if arr.shape[0] != n or arr.shape[1:] != (7, 7, 1024):
                    raise SchemaError(f"{path}: shape {arr.shape}, cache.json says {n} rows of [7, 7, 1024]")
                offsets.append(start)
                self._chunks.append(arr)
                start += n
            first = len(self._chunks) - len(offsets)
            chunk_of = np.searchsorted(np.asarray(offsets), keep, side="right") - 1
            where.append(np.stack([first + chunk_of, keep - np.asarray(offsets)[chunk_of]], 1))
            ys.append(np.array([self.classes.index(c) for c in names[keep]], np.int64))
            label = "jaffe" if name == "jaffe7" else name
            corpus += [label] * len(keep)
            speaker.append(np.asarray(cache.speaker)[keep])
            split.append(np.asarray(cache.split)[keep])
            clip.append(np.asarray(cache.meta["rows"]["clip_id"])[keep])
        self.y = np.concatenate(ys)
        self.corpus = np.asarray(corpus)
        self.speaker = np.concatenate(speaker)
        self.split = np.concatenate(split)
        self.clip_id = np.concatenate(clip)
        self._where = np.concatenate(where).astype(np.int64)

    def __len__(self) -> int:
        return len(self.y)

    def gather(self, idx) -> np.ndarray:
        """Trunk rows ``[len(idx), 7, 7, 1024]`` float16, in the order of ``idx``."""
        idx = np.asarray(idx, np.int64)
        out = np.empty((len(idx), 7, 7, 1024), np.float16)
        w = self._where[idx]
        for c in np.unique(w[:, 0]):
            sel = np.flatnonzero(w[:, 0] == c)
            rows = w[sel, 1]
            order = np.argsort(rows, kind="stable")
            out[sel[order]] = self._chunks[c][rows[order]]
        return out


def build_jaffe7(repo: Path = REPO) -> Path:
    """The trunk cache of every JAFFE image with its 7 classes (neutral included; 213 faces, ~1 min).

    ``tfrecords/cache/jaffe7basic_face_mobilenet_top1`` (label set ``7basic``), built as the other
    caches (:func:`emozoo.backbones.face.finetune.build_trunk_cache`, MTCNN crop); reads the corpus
    from ``$EMOZOO_DATA_DIR``.
    """
    from emozoo.backbones.face.finetune import build_trunk_cache
    from emozoo.data.corpora import get_reader
    from emozoo.data.labels import get_label_set

    folder = cache_root(repo) / CACHE_NAMES["jaffe7"]
    manifest = get_reader("jaffe")().read().with_label_set("7basic")
    build_trunk_cache(manifest, folder, blocks=1, label_set="7basic", classes=get_label_set("7basic").classes)
    return folder
