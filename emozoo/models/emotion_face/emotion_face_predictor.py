"""``emozoo.load("emotion_face")``: image -> MTCNN face -> face MobileNet -> normalisation -> head, with adaptation.

The zoo folder holds block 13 of the face MobileNet (fine-tuned or pretrained, by the design the
leave-one-corpus-out benchmark chose), the shipped normalisation statistics and the linear head
(:func:`~.emotion_face_head.export_head`, ~4.3 MB). Blocks 1-12 are loaded by the predictor from the
weights manager (:func:`emozoo.weights.path`, installed by ``python -m emozoo.weights install
face_mobilenet``); missing weights raise :class:`~emozoo.errors.WeightsError` naming that command
when the model is loaded.

Per image: the header check and the flat-image check shared by the zoo's face models
(:mod:`emozoo.zoo.input_checks`), the largest MTCNN face as a square 224x224 RGB crop (the crop
of the ``face_mobilenet`` stores and of the trunk caches the model was trained on), HSE
preprocessing, blocks 1-12, then the SavedModel. No face: :class:`~emozoo.errors.InputRefused`
("no face found"), or with ``no_face="full"`` (CLI ``--no-face full``) the whole image. Images
that are aligned face crops already (FER2013's 48x48 faces) are best read whole, without MTCNN,
as the FER2013 training faces were: ``crop="whole"`` (``emozoo.load("emotion_face")`` then
``model.crop = "whole"``).

Adaptation (seed 000's culture-specific normalisation, at deployment): the head was trained on
corpora each z-normalised with its own statistics; :meth:`EmotionFacePredictor.adapt` fits them on
unlabelled faces of a new corpus or culture (at least :attr:`~EmotionFacePredictor.min_faces`;
below :attr:`~EmotionFacePredictor.std_from` faces only the mean is adapted and the shipped
deviation kept: both numbers come from the LOCO benchmark, ``preprocessing.json``);
``predict(..., adapt="batch")`` adapts on the images predicted; :meth:`~EmotionFacePredictor.reset`
goes back; :meth:`~EmotionFacePredictor.save_adaptation` / :meth:`~EmotionFacePredictor.load_adaptation`
keep the statistics in a small ``.npz`` beside the user's data (never inside the zoo folder).

Example:

>>> import emozoo
>>> model = emozoo.load("emotion_face")                              # doctest: +SKIP
>>> model.predict_labels(["KA.HA1.29.tiff"])                         # doctest: +SKIP
['happy']
>>> model.adapt("my_faces/")                                         # doctest: +SKIP
>>> model.save_adaptation("my_faces/emotion_face_adaptation.npz")    # doctest: +SKIP
"""
from __future__ import annotations

import os

import numpy as np

from emozoo.errors import SchemaError
from emozoo.zoo.adaptation import AdaptationError, AdaptationFiles
from emozoo.zoo.predictor import NoFacePolicy, SavedModelPredictor, face_image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".gif", ".pgm", ".ppm")
_TRUNKS: dict = {}

__all__ = ["EmotionFacePredictor", "AdaptationError", "IMAGE_SUFFIXES"]


def _trunk(weights_name: str, trunk_output: str):
    """A compiled function uint8 crops ``[N, 224, 224, 3]`` -> block-12 output ``[N, 7, 7, 1024]``.

    The weights are located (:func:`emozoo.weights.path`) on every call, so missing weights raise
    :class:`~emozoo.errors.WeightsError` even when a trunk was built earlier in the process."""
    import keras
    import tensorflow as tf

    from emozoo import weights
    from emozoo.backbones.face.mobilenet import WEIGHTS_NAME, load_face_mobilenet, preprocess_faces

    if weights_name != WEIGHTS_NAME:
        raise SchemaError(f"emotion_face runs on the {WEIGHTS_NAME} backbone; preprocessing.json names {weights_name!r}")
    folder = os.path.realpath(weights.path(weights_name))
    key = (folder, trunk_output)
    if key not in _TRUNKS:
        net = load_face_mobilenet(folder, heads=False)
        sub = keras.Model(net.inputs, net.get_layer(trunk_output).output)
        _TRUNKS[key] = tf.function(lambda crops: sub(preprocess_faces(crops, "hse"), training=False),
                                   input_signature=[tf.TensorSpec([None, 224, 224, 3], tf.uint8)],
                                   reduce_retracing=True)
    return _TRUNKS[key]


class EmotionFacePredictor(AdaptationFiles, NoFacePolicy, SavedModelPredictor):
    """A loaded ``emotion_face`` model (``"input": "emotion_face_image"``).

    ``predict`` takes image file paths, one image array (uint8 ``[H, W]`` grey, ``[H, W, 1]`` or
    ``[H, W, 3]`` RGB, any size >= 48 px) or a list of such arrays, and returns probabilities
    ``[N, 7]`` (angry, disgust, fear, happy, sad, surprise, neutral).

    Attributes:
        labels: the class names in output order.
        adapted: how many faces the current statistics were fitted on (``None``: the shipped ones).
        min_faces: the fewest faces :meth:`adapt` accepts; std_from: from this many faces the
            deviation is adapted too (``None``: never), below it the mean only.
        no_face: ``"skip"`` (refuse an image without a face, the default) or ``"full"``.
        crop: ``"mtcnn"`` (the largest MTCNN face, the default) or ``"whole"`` (the whole image
            resized to 224: for aligned face crops such as FER2013's).
    """

    max_pixels = 1024 * 1024

    def __init__(self, folder: str | os.PathLike, card: dict, *, no_face: str = "skip"):
        super().__init__(folder, card)
        pre = self.preprocessing
        self.backbone = pre["backbone"]
        self._trunk = _trunk(self.backbone, pre["trunk_output"])      # WeightsError here when they are missing
        self.size = int(pre.get("crop_size", 224))
        self.min_side = int(pre.get("min_image_side", 48))
        self.min_faces = int(pre["min_adapt_faces"])
        self.std_from = None if pre.get("adapt_std_from") is None else int(pre["adapt_std_from"])
        self.shipped = (self._model.mean.numpy(), self._model.std.numpy())
        self.dim = int(self.shipped[0].shape[0])
        self._cropper = None
        self.no_face = no_face
        self.crop = "mtcnn"
        self.reset()

    # --- inputs (no_face: emozoo.zoo.predictor.NoFacePolicy) ---------------------------------------
    @property
    def crop(self) -> str:
        return self._crop_mode

    @crop.setter
    def crop(self, mode: str) -> None:
        if mode not in ("mtcnn", "whole"):
            raise SchemaError(f"crop must be 'mtcnn' (the largest face) or 'whole' (the image is a face crop "
                              f"already), got {mode!r}")
        self._crop_mode = mode

    def _crop(self, image: np.ndarray, name: str) -> np.ndarray:
        from emozoo.features.face import FaceCropper
        from emozoo.zoo.input_checks import check_image

        if self._cropper is None:
            self._cropper = FaceCropper(size=self.size, policy="error", colour="rgb")
        image = check_image(image, self.min_side, name)
        if self.crop == "whole":
            return self._cropper.full(image)
        return self._face_or_policy(self._cropper, image, name)

    def face(self, source) -> np.ndarray:
        """The uint8 ``[224, 224, 3]`` face crop of one image file or array (refusals as the class says)."""
        if not isinstance(source, (str, os.PathLike)):
            arr = np.asarray(source)
            if arr.dtype != np.uint8 or arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (1, 3)):
                raise SchemaError(f"an image array must be uint8 [H, W], [H, W, 1] or [H, W, 3], got {arr.dtype} "
                                  f"{arr.shape}")
            return self._crop(arr, f"image array {arr.shape[1]}x{arr.shape[0]}")
        return self._crop(face_image(source, self.min_side, self.max_pixels), os.fspath(source))

    @staticmethod
    def _items(inputs) -> list:
        if isinstance(inputs, (str, os.PathLike)):
            return [inputs]
        if isinstance(inputs, np.ndarray) and (inputs.ndim == 2 or (inputs.ndim == 3 and inputs.shape[-1] in (1, 3))):
            return [inputs]
        if isinstance(inputs, (list, tuple, np.ndarray)) and len(inputs):
            return list(inputs)
        raise SchemaError("give image file paths, one image array [H, W(, C)] or a list of them")

    def embeddings_of_crops(self, crops) -> np.ndarray:
        """The pooled 1024-d embeddings ``[N, 1024]`` of uint8 face crops ``[N, 224, 224, 3]``."""
        import tensorflow as tf

        crops = np.asarray(crops)
        if crops.dtype != np.uint8 or crops.ndim != 4 or crops.shape[1:] != (self.size, self.size, 3):
            raise SchemaError(f"crops must be uint8 [N, {self.size}, {self.size}, 3], got {crops.dtype} {crops.shape}")
        out = []
        for s in range(0, len(crops), 32):
            trunk = self._trunk(tf.constant(crops[s:s + 32]))
            out.append(self._model.serve_embedding(trunk)["embedding"].numpy())
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, self.dim), np.float32)

    def embeddings(self, inputs) -> np.ndarray:
        """The pooled embeddings ``[N, 1024]`` of image files / arrays (each cropped as :meth:`face`)."""
        return self.embeddings_of_crops(np.stack([self.face(i) for i in self._items(inputs)]))

    # --- prediction ---------------------------------------------------------------------------
    def predict_embeddings(self, emb, statistics=None) -> np.ndarray:
        """Probabilities of embeddings ``[N, 1024]`` normalised with ``statistics`` (default: the current ones)."""
        import tensorflow as tf

        from emozoo.models.emotion_face.emotion_face_head import normalise

        x = np.asarray(emb, np.float32)
        if x.ndim == 1:
            x = x[None]
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise SchemaError(f"embeddings must be [N, {self.dim}], got {x.shape}")
        mean, std = statistics if statistics is not None else self.statistics
        return self._model.serve_normalised(tf.constant(normalise(x, mean, std)))["probabilities"].numpy()

    def predict(self, inputs, sample_rate: int | None = None, adapt: str | None = None) -> np.ndarray:
        """Probabilities ``[N, 7]`` of image file(s) or array(s).

        Args:
            inputs: a path, a list of paths, one image array or a list of arrays.
            sample_rate: unused (the zoo's common signature).
            adapt: ``None`` (the current statistics) or ``"batch"``: normalise with the statistics
                of these faces (at least :attr:`min_faces`), for this call only.
        """
        if adapt not in (None, "batch"):
            raise SchemaError(f"adapt must be None or 'batch', got {adapt!r}")
        emb = self.embeddings(inputs)
        stats = self._fit(emb, "the batch") if adapt == "batch" else None
        return self.predict_embeddings(emb, stats)

    def predict_labels(self, inputs, sample_rate: int | None = None, adapt: str | None = None) -> list[str]:
        return [self.labels[i] for i in self.predict(inputs, adapt=adapt).argmax(-1)]

    # --- adaptation ---------------------------------------------------------------------------
    # statistics (each ``[1024]``) and reset() (to the shipped ones, the training faces pooled): AdaptationFiles
    def _fit(self, emb: np.ndarray, what: str):
        from emozoo.models.emotion_face.emotion_face_head import statistics

        if len(emb) < self.min_faces:
            raise AdaptationError(f"adaptation needs at least {self.min_faces} faces of the new corpus/culture; "
                                  f"{what} gave {len(emb)} usable")
        mean, std = statistics(emb)
        if self.std_from is None or len(emb) < self.std_from:
            std = self.shipped[1]          # too few faces for 1024 deviations: the mean only (LOCO rule)
        return mean, std

    def adapt(self, images) -> int:
        """Fit the normalisation statistics on unlabelled faces of a new corpus or culture.

        Args:
            images: a folder (its image files, recursively), a list of image paths, or a list of
                image arrays.

        Returns:
            the number of faces used. Images that are refused (no face, too small, flat, not an
            image) are skipped and counted in the error when too few remain.

        Raises:
            AdaptationError: fewer than :attr:`min_faces` usable faces.
        """
        from emozoo.errors import EmozooError

        return self._adapt_on(images, suffixes=IMAGE_SUFFIXES, files="image files", items="images",
                              accepts="a folder of images, a list of image files or of arrays", decode=self.face,
                              refused_by=EmozooError, refusal="refused (no face, too small, flat or unreadable)",
                              features=lambda crops: self.embeddings_of_crops(np.stack(crops)) if crops
                              else np.zeros((0, self.dim), np.float32))

    count_key = "faces"

    def _adaptation_meta(self) -> dict:
        return {"dim": self.dim}

    def _adaptation_mismatch(self, meta, mean, std):
        if meta.get("model") != self.card.get("name") or mean.shape != (self.dim,) or std.shape != mean.shape:
            return (f"statistics of {meta.get('model')} {list(mean.shape)}, this model "
                    f"({self.card.get('name')}) needs [{self.dim}]")
        return None
