"""Dface embeddings of images and videos: MTCNN face crops -> the zoo's ``dface_fer2013`` ``embed``.

Seeds 000 and 003 describe a face by the last pooling layer of a DenseNet trained for facial
expressions, averaged over the clip's faces. emozoo's DenseNet-BC is trained here on FER2013
(:mod:`emozoo.models.dface`, ``pipelines/train_dface.py``) and published to the zoo as
``dface_fer2013``; this module runs it on the face crops of :mod:`emozoo.features.face`:

* an image (JAFFE, CK+48, FER2013 ...) -> its largest face, or the whole image when MTCNN finds
  none (policy ``full``: these corpora are face images) -> one embedding ``[D]``;
* a video -> frames sampled at ``fps`` (default 5) -> one crop per frame (policy ``previous``:
  a frame without a face repeats the previous frame's face, seed 003) -> the **mean** of the
  frame embeddings ``[D]``. A video with no face in any frame is a
  :class:`~emozoo.errors.FaceNotFound` failure, which ``python -m emozoo.extract`` lists.

The extractor registered as ``dface`` in :mod:`emozoo.features.registry` takes the manifest row
(``Extractor(input="row")``) and embeds a batch of rows in one SavedModel call.

Example:

>>> emb = DFaceEmbedder()                                              # doctest: +SKIP
>>> emb.embed_path("jaffe/KA.AN1.39.tiff").shape                        # doctest: +SKIP
(336,)
"""
from __future__ import annotations

import numpy as np

from emozoo.errors import FeatureError
from emozoo.features.face import CropEmbedder


class DFaceEmbedder(CropEmbedder):
    """Face crops -> Dface embeddings with the zoo SavedModel (checksums verified on load).

    Args:
        name: zoo model name.
        zoo_root: zoo folder (default ``saved_models/`` or ``$EMOZOO_ZOO_DIR``).
        image_policy / video_policy: no-face policies (:mod:`emozoo.features.face`) for images
            and for video frames.
        fps: video frame sampling rate.
        max_frames: at most this many sampled frames per video.
        batch_size: crops per SavedModel call.
    """

    def __init__(self, name: str = "dface_fer2013", zoo_root=None, *, image_policy: str = "full",
                 video_policy: str = "previous", fps: float = 5.0, max_frames: int | None = 300,
                 batch_size: int = 256):
        from emozoo.features.face import FaceCropper
        from emozoo.models.dface.dface_export import load_dface

        self.model, self.entry = load_dface(name, zoo_root)
        self.size = int(self.entry.get("image_size", 48))
        self.dim = int(self.entry["embedding_dim"])
        self.image_cropper = FaceCropper(size=self.size, policy=image_policy)
        self.video_cropper = FaceCropper(size=self.size, policy=video_policy)
        self.fps = fps
        self.max_frames = max_frames
        self.batch_size = int(batch_size)

    def config(self) -> str:
        return (f"zoo:{self.entry['path']};image:{self.image_cropper.config()};"
                f"video:{self.video_cropper.config()},fps={self.fps},max_frames={self.max_frames};mean")

    def embed_crops(self, crops: np.ndarray) -> np.ndarray:
        """uint8/float ``[N, S, S, 1]`` crops -> float32 ``[N, D]`` (the ``embed`` signature)."""
        import tensorflow as tf

        crops = np.asarray(crops)
        if crops.ndim != 4 or crops.shape[1:] != (self.size, self.size, 1):
            raise FeatureError(f"Dface takes [N, {self.size}, {self.size}, 1] crops, got {crops.shape}")
        out = [self.model.embed(tf.constant(crops[s:s + self.batch_size], tf.float32))["embedding"].numpy()
               for s in range(0, len(crops), self.batch_size)]
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)
