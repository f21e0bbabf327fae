"""Face arrays of the face CNN: 48x48 grey crops with MTCNN landmarks, and subject-disjoint splits.

Yousefi, Thorstad & Agichtein, "Learning Facial Emotion Representations across Cultures"
(Section 3): per-culture corpora of posed faces (here JAFFE = Japanese posers, CK+48 = American
posers) on the emotions both share (label set ``6basic``), and a benchmark corpus (TFD in the
paper, FER2013 here) with official splits.

A *face store* is one ``faces.npz`` (``numpy.savez_compressed``, read with ``allow_pickle=False``)
plus ``extract.json`` under ``tfrecords/face_cnn_<corpus>/``:

* ``x``: uint8 ``[N, 48, 48, 1]`` grey faces (0..255);
* ``y``: int32 ``[N]`` class index into ``classes``;
* ``classes``, ``subject``, ``clip_id``, ``source``, ``split``: unicode string arrays;
* ``landmarks``: float32 ``[N, 5, 2]`` MTCNN keypoints in crop pixels (order :data:`LANDMARKS`),
  NaN where MTCNN found no face.

Cropping (``pipelines/face_cnn_prepare.py`` builds the stores):

* JAFFE (256x256 portraits): the largest MTCNN face, square of the box's longer side
  (:class:`emozoo.features.face.FaceCropper`, margin 0, as the Dface / FER2013 framing), 48 px;
* CK+48: the images are already 48x48 face crops; they are used as they are, and MTCNN runs on a
  border-padded, 4x upscaled copy only to find the landmarks;
* FER2013: 48x48 crops used as they are (no landmarks needed: no saliency statistics on it).

This module imports numpy only (the training runner also runs under Keras' JAX backend).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from emozoo.errors import DataDirError, SchemaError, SplitError

SIZE = 48
CLASSES_6 = ("angry", "disgust", "fear", "happy", "sad", "surprise")
FER_CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
LANDMARKS = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
CULTURES = {"jaffe": "japanese", "ckplus": "american"}
STORE_FIELDS = ("x", "y", "classes", "subject", "clip_id", "source", "split", "landmarks")


def store_dir(corpus: str, root: str | os.PathLike = "tfrecords") -> Path:
    return Path(root) / f"face_cnn_{corpus}"


def load_faces(path: str | os.PathLike) -> dict:
    """A face store (folder or ``faces.npz``) as a dict of arrays (no pickle)."""
    path = Path(path)
    npz = path / "faces.npz" if path.is_dir() else path
    if not npz.exists():
        raise DataDirError(f"{npz} does not exist; build it with: EMOZOO_DATA_DIR=../shared/data "
                           "python pipelines/face_cnn_prepare.py")
    with np.load(npz, allow_pickle=False) as z:
        missing = [k for k in STORE_FIELDS if k not in z.files]
        if missing:
            raise SchemaError(f"{npz} lacks {missing}; rebuild it with pipelines/face_cnn_prepare.py")
        data = {k: z[k] for k in z.files}
    if data["x"].ndim != 4 or data["x"].shape[1:] != (SIZE, SIZE, 1) or data["x"].dtype != np.uint8:
        raise SchemaError(f"{npz}: x must be uint8 [N, {SIZE}, {SIZE}, 1], got {data['x'].dtype} {data['x'].shape}")
    return data


def save_faces(path: str | os.PathLike, data: dict, info: dict) -> Path:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    missing = [k for k in STORE_FIELDS if k not in data]
    if missing:
        raise SchemaError(f"face store needs {missing}")
    np.savez_compressed(path / "faces.npz", **{k: np.asarray(v) for k, v in data.items()})
    (path / "extract.json").write_text(json.dumps(info, indent=1))
    return path


def subject_disjoint_split(subjects, seed: int, fractions=(0.6, 0.2, 0.2)) -> dict:
    """One random subject-disjoint train/validation/test allocation (Section 4.1.1: "5 different
    random allocations of samples to train, validation and test sets", by subject here because
    CK+ holds several frames per sequence and every corpus several images per poser).

    Subjects are shuffled with ``numpy.random.default_rng(seed)`` and cut by ``fractions``
    (each part gets at least one subject). Returns ``{"train", "valid", "test"}`` -> sorted row
    indices.
    """
    subjects = np.asarray(subjects)
    if len(fractions) != 3 or abs(sum(fractions) - 1.0) > 1e-6 or min(fractions) <= 0:
        raise SplitError(f"fractions must be three positive numbers summing to 1, got {fractions}")
    uniq = np.unique(subjects)
    if len(uniq) < 3:
        raise SplitError(f"a subject-disjoint train/valid/test split needs >= 3 subjects, got {len(uniq)}")
    order = np.random.default_rng(seed).permutation(uniq)
    n = len(order)
    n_test = max(1, int(round(fractions[2] * n)))
    n_valid = max(1, int(round(fractions[1] * n)))
    n_train = n - n_test - n_valid
    if n_train < 1:
        raise SplitError(f"{n} subjects are too few for fractions {fractions}")
    parts = {"train": order[:n_train], "valid": order[n_train:n_train + n_valid],
             "test": order[n_train + n_valid:]}
    return {k: np.flatnonzero(np.isin(subjects, v)) for k, v in parts.items()}


def official_split(split_column) -> dict:
    """FER2013's official splits: ``train`` (Training), ``valid`` (PublicTest), ``test`` (PrivateTest)."""
    split_column = np.asarray(split_column)
    parts = {k: np.flatnonzero(split_column == k) for k in ("train", "valid", "test")}
    empty = [k for k, v in parts.items() if len(v) == 0]
    if empty:
        raise SplitError(f"FER2013 store has no rows in split(s) {empty}")
    return parts


# ----------------------------------------------------------------------------- building stores
def _crop_culture_image(path: str, corpus: str, cropper) -> tuple[np.ndarray, np.ndarray, str]:
    from emozoo.data.image import load_image
    from emozoo.features.face import detect_faces, landmarks_in_crop

    marks = np.full((len(LANDMARKS), 2), np.nan, np.float32)
    rgb = load_image(path, grey=False)
    if corpus == "ckplus":
        face = cropper.full(rgb)                       # already a 48x48 face crop
        # MTCNN misses faces that fill the whole frame: pad with the border pixels, upscale 4x
        pad, up = 16, 4
        big = np.repeat(np.repeat(np.pad(rgb, ((pad, pad), (pad, pad), (0, 0)), mode="edge"), up, axis=0), up, axis=1)
        boxes = detect_faces(big, min_face_size=20)
        if boxes:
            for j, k in enumerate(LANDMARKS):
                if k in boxes[0].landmarks:
                    x, y = boxes[0].landmarks[k]
                    marks[j] = ((x / up - pad) * SIZE / rgb.shape[1], (y / up - pad) * SIZE / rgb.shape[0])
        return face, marks, "full"
    boxes = detect_faces(rgb, min_face_size=cropper.min_face_size)
    if not boxes:
        return cropper.full(rgb), marks, "full"
    face = cropper.crop_box(rgb, boxes[0])
    lm = landmarks_in_crop(boxes[0], cropper.margin, SIZE)
    for j, k in enumerate(LANDMARKS):
        if k in lm:
            marks[j] = lm[k]
    return face, marks, "detected"


def build_culture_store(corpus: str, data_dir: str | os.PathLike, out: str | os.PathLike,
                        limit: int = 0) -> Path:
    """Crop JAFFE or CK+48 (6basic emotions only) into a face store with landmarks."""
    from emozoo.data.corpora.base import load_manifest
    from emozoo.features.face import FaceCropper

    if corpus not in CULTURES:
        raise SchemaError(f"culture corpus must be one of {sorted(CULTURES)}, got {corpus!r}")
    rows = [r for r in load_manifest(corpus, data_dir=data_dir) if r.emotion in CLASSES_6]
    if limit:
        rows = rows[:limit]
    cropper = FaceCropper(size=SIZE, margin=0.0, policy="full")
    xs, ms, src = [], [], []
    for r in rows:
        face, marks, source = _crop_culture_image(r.path, corpus, cropper)
        xs.append(face)
        ms.append(marks)
        src.append(source)
    data = {"x": np.stack(xs).astype(np.uint8), "y": np.asarray([CLASSES_6.index(r.emotion) for r in rows], np.int32),
            "classes": np.asarray(CLASSES_6), "subject": np.asarray([r.speaker for r in rows]),
            "clip_id": np.asarray([r.clip_id for r in rows]), "source": np.asarray(src),
            "split": np.asarray([""] * len(rows)), "landmarks": np.stack(ms).astype(np.float32)}
    found = int(np.isfinite(data["landmarks"][:, 0, 0]).sum())
    info = {"corpus": corpus, "culture": CULTURES[corpus], "label_set": "6basic", "classes": list(CLASSES_6),
            "images": len(rows), "subjects": int(len(np.unique(data["subject"]))), "landmarks_found": found,
            "cropper": cropper.config(),
            "command": "EMOZOO_DATA_DIR=../shared/data python pipelines/face_cnn_prepare.py"}
    return save_faces(out, data, info)


def build_fer2013_store(data_dir: str | os.PathLike, out: str | os.PathLike, limit: int = 0) -> Path:
    """FER2013's 48x48 crops with the official splits (7 classes)."""
    from emozoo.data.corpora.base import load_manifest
    from emozoo.data.image import load_image

    rows = list(load_manifest("fer2013", data_dir=data_dir))
    if limit:
        rows = rows[:limit]
    x = np.empty((len(rows), SIZE, SIZE, 1), np.uint8)
    for i, r in enumerate(rows):
        x[i] = load_image(r.path, grey=True, size=SIZE)
    data = {"x": x, "y": np.asarray([FER_CLASSES.index(r.emotion) for r in rows], np.int32),
            "classes": np.asarray(FER_CLASSES), "subject": np.asarray([""] * len(rows)),
            "clip_id": np.asarray([r.clip_id for r in rows]), "source": np.asarray(["full"] * len(rows)),
            "split": np.asarray([r.split for r in rows]),
            "landmarks": np.full((len(rows), len(LANDMARKS), 2), np.nan, np.float32)}
    info = {"corpus": "fer2013", "label_set": "fer2013", "classes": list(FER_CLASSES), "images": len(rows),
            "splits": {k: int((data["split"] == k).sum()) for k in ("train", "valid", "test")},
            "command": "EMOZOO_DATA_DIR=../shared/data python pipelines/face_cnn_prepare.py"}
    return save_faces(out, data, info)
