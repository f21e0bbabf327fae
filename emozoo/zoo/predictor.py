"""``emozoo.load(name)`` returns a :class:`Predictor`."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from emozoo.errors import EmozooError, ExportError, InputRefused, SchemaError


def speech_waveform(source, model_rate: int, sample_rate: int | None = None, *,
                    max_seconds: float | None = None) -> np.ndarray:
    """One file path or mono waveform as a checked float32 waveform at ``model_rate``.

    What every speech predictor calls before its features: files longer than ``max_seconds``
    (default :data:`emozoo.zoo.input_checks.MAX_WHOLE_SECONDS`) are refused from their header,
    before decoding, with the hint to predict them in windows; then
    :func:`emozoo.zoo.input_checks.check_speech` refuses clips that are too short, silent, DC or
    unvoiced.

    Raises:
        InputRefused: the clip is refused (the message says why).
        SchemaError: a waveform without ``sample_rate`` or not mono.
        AudioDecodeError: the file cannot be decoded.
    """
    from emozoo.data.audio import audio_info, load_audio, resample
    from emozoo.zoo.input_checks import MAX_WHOLE_SECONDS, check_speech

    max_seconds = MAX_WHOLE_SECONDS if max_seconds is None else max_seconds
    if isinstance(source, (str, os.PathLike)):
        name = os.fspath(source)
        seconds = audio_info(source)["duration"]
        if seconds > max_seconds:
            raise InputRefused(f"{name}: {seconds:.1f} s long, over the {max_seconds:g} s predicted whole; "
                               f"predict it in windows: python -m emozoo.predict --model M {name} --window 3 --hop 1.5 "
                               "(emozoo.zoo.windows.predict_windows)")
        wav, _ = load_audio(source, model_rate, allow_silent=True)
        return check_speech(wav, model_rate, name)
    if sample_rate is None:
        raise SchemaError(f"a waveform needs its sample_rate: predict(wave, sample_rate={model_rate})")
    wav = np.asarray(source, np.float32)
    if wav.ndim != 1:
        raise SchemaError(f"a waveform must be a mono [samples] array, got shape {wav.shape}")
    check_speech(wav, int(sample_rate), f"waveform ({wav.size} samples at {int(sample_rate)} Hz)")
    if int(sample_rate) != model_rate:
        wav = np.clip(resample(wav, int(sample_rate), model_rate), -1.0, 1.0)
    return wav


def face_image(source, min_side: int, max_pixels: int) -> np.ndarray:
    """One image file decoded (RGB uint8) for the zoo's face predictors, with bounded time and memory.

    The file's header is read first: :func:`emozoo.zoo.input_checks.check_image_size` refuses an
    image whose shorter side is under ``min_side``, and an image of more than ``max_pixels`` pixels
    is shrunk to that many while decoding (JPEG at a reduced DCT scale; aspect ratio kept). A file
    that is not an image goes to :func:`emozoo.data.image.load_image`, which says so.

    Args:
        source: the image file path.
        min_side: the shortest side accepted, in pixels.
        max_pixels: the most pixels decoded.

    Raises:
        InputRefused: the image is too small.
        ImageDecodeError: the file cannot be decoded.

    Example:

    >>> face_image("KA.HA1.29.tiff", 48, 1024 * 1024).shape       # doctest: +SKIP
    (256, 256, 3)
    """
    from emozoo.data.image import load_image
    from emozoo.zoo.input_checks import check_image_size

    name = os.fspath(source)
    max_side = None
    try:                                          # the header's size, before decoding any pixel
        from PIL import Image
        with Image.open(source) as img:
            width, height = img.size
    except Exception:                             # not an image: load_image says so clearly
        width = height = None
    if width is not None:
        check_image_size(width, height, min_side, name)
        if width * height > max_pixels:           # shrink while decoding, keeping the aspect ratio
            max_side = max(1, int(max(width, height) * (max_pixels / (width * height)) ** 0.5))
    return load_image(source, grey=False, max_side=max_side)


class SavedModelPredictor:
    """What every zoo predictor has: the SavedModel of ``folder``, its card, labels and preprocessing.

    Method packages derive their predictor kinds from it (:func:`register_predictor`).
    """

    def __init__(self, folder: str | os.PathLike, card: dict):
        import tensorflow as tf

        self.path = Path(folder)
        self.card = card
        self.labels = tuple(json.loads((self.path / "assets" / "labels.json").read_text()))
        self.preprocessing = json.loads((self.path / "assets" / "preprocessing.json").read_text())
        self._model = tf.saved_model.load(str(self.path))

    def __repr__(self):
        return f"{type(self).__name__}({self.card.get('name')!r}, labels={list(self.labels)})"


class Predictor(SavedModelPredictor):
    """A loaded zoo model.

    Attributes:
        labels: class names in output order.
        card: the registry entry (model card, metrics, licence, checksums).

    ``predict`` takes file paths, a waveform (with ``sample_rate``) or precomputed features and
    returns probabilities ``[N, K]``. For feature models (IS10) the features of a file or
    waveform are computed in Python with the extractor named in the model's
    ``preprocessing.json`` (openSMILE does not run inside a TF graph), then the SavedModel's
    ``serve_features`` signature is called; the z-normalisation is inside the graph.

    Every file and waveform first passes :func:`emozoo.zoo.input_checks.check_speech`: a clip
    shorter than 0.25 s, silent, a DC offset or without voiced frames raises
    :class:`~emozoo.errors.InputRefused` instead of getting a label; a file longer than 60 s
    is refused with the hint to predict it in windows (:func:`emozoo.zoo.windows.predict_windows`).
    """

    def __init__(self, folder: str | os.PathLike, card: dict):
        super().__init__(folder, card)
        self._serve = self._model.serve_features

    @property
    def input_dim(self) -> int:
        return int(self.preprocessing["input_dim"])

    @property
    def sample_rate(self) -> int:
        from emozoo.features.registry import get_extractor
        return int(get_extractor(self.preprocessing["feature"]).sample_rate)

    def features(self, source, sample_rate: int | None = None) -> np.ndarray:
        """The model's input features of one file path or one mono waveform."""
        from emozoo.features.registry import get_extractor

        ext = get_extractor(self.preprocessing["feature"])
        wav = speech_waveform(source, ext.sample_rate, sample_rate)
        return ext(np.asarray(wav, np.float32), ext.sample_rate)

    def predict_waveform(self, wav, sample_rate: int) -> np.ndarray:
        """Probabilities ``[K]`` of one mono waveform (checked by :func:`check_speech`)."""
        return self.predict_features(self.features(wav, sample_rate)[None])[0]

    def predict_features(self, x) -> np.ndarray:
        import tensorflow as tf

        x = np.asarray(x, np.float32)
        if x.ndim == 1:
            x = x[None]
        if x.ndim != 2 or x.shape[1] != self.input_dim:
            raise SchemaError(f"features must be [N, {self.input_dim}] ({self.preprocessing['feature']}); got {x.shape}")
        return self._serve(tf.constant(x))["probabilities"].numpy()

    def predict(self, inputs, sample_rate: int | None = None) -> np.ndarray:
        """Probabilities ``[N, K]`` for file path(s), a waveform (``sample_rate`` needed) or features."""
        if isinstance(inputs, (str, os.PathLike)):
            inputs = [inputs]
        if isinstance(inputs, (list, tuple)) and inputs and all(isinstance(i, (str, os.PathLike)) for i in inputs):
            return self.predict_features(np.stack([self.features(p) for p in inputs]))
        arr = np.asarray(inputs)
        if arr.ndim == 2 and arr.shape[1] == self.input_dim:
            return self.predict_features(arr)
        if arr.ndim == 1 and sample_rate is None and arr.shape[0] == self.input_dim:
            return self.predict_features(arr[None])
        if arr.ndim == 1:
            return self.predict_features(self.features(arr, sample_rate)[None])
        raise EmozooError(f"cannot predict on input of shape {arr.shape}: give file paths, a mono waveform "
                          f"with sample_rate, or features [N, {self.input_dim}]")

    def predict_labels(self, inputs, sample_rate: int | None = None) -> list[str]:
        return [self.labels[i] for i in self.predict(inputs, sample_rate).argmax(-1)]


class NoFacePolicy:
    """The ``no_face`` attribute of the zoo's face predictors: what an image without a face gets.

    ``"skip"`` (the predictors' default): the image is refused (:class:`~emozoo.errors.InputRefused`
    "no face found"); ``"full"``: the whole image is taken as the face (for images that already are
    face crops: CK+48, FER2013). Any other value raises :class:`~emozoo.errors.SchemaError` naming
    both. Used by :class:`FacePredictor` and
    :class:`~emozoo.models.emotion_face.emotion_face_predictor.EmotionFacePredictor`.

    Example:

    >>> import emozoo
    >>> model = emozoo.load("emotion_face")           # doctest: +SKIP
    >>> model.no_face = "full"                        # doctest: +SKIP
    """

    NO_FACE_POLICIES = ("skip", "full")

    @property
    def no_face(self) -> str:
        """The no-face policy: ``"skip"`` (refuse, the default) or ``"full"`` (the whole image)."""
        return self._no_face

    @no_face.setter
    def no_face(self, policy: str) -> None:
        if policy not in self.NO_FACE_POLICIES:
            raise SchemaError(f"no_face must be 'skip' (refuse an image without a face) or 'full' (classify "
                              f"the whole image as the face), got {policy!r}")
        self._no_face = policy

    def _face_or_policy(self, cropper, image: np.ndarray, name: str) -> np.ndarray:
        """The largest MTCNN face of ``image`` by ``cropper`` (a ``FaceCropper`` with policy
        ``"error"``); with none: the whole image (``"full"``) or :class:`~emozoo.errors.InputRefused`."""
        from emozoo.errors import FaceNotFound

        try:
            return cropper.crop_image(image).image
        except FaceNotFound:
            if self.no_face == "full":
                return cropper.full(image)
            raise InputRefused(f"{name}: no face found (MTCNN, faces of {cropper.min_face_size} px and up); "
                               "no_face='full' (CLI --no-face full) takes the whole image as the face instead") from None


class FacePredictor(NoFacePolicy, SavedModelPredictor):
    """A loaded zoo model that takes faces (``dface_fer2013``): ``classify`` and ``embed`` signatures.

    ``predict`` takes image file paths (the largest MTCNN face is cropped as in training), or
    face crops ``[N, size, size, 1]`` / ``[size, size]`` in 0..255, and returns probabilities
    ``[N, K]``; ``embed`` returns the Dface embeddings ``[N, D]``.

    For a file, :func:`emozoo.zoo.input_checks.check_image` refuses an image whose shorter
    side is under the model's input size (read from the file's header) or that is flat; an
    image of more than :attr:`max_pixels` (1024 x 1024) is shrunk to that many pixels while
    decoding (JPEG at a reduced DCT scale), before face detection, so time and memory stay
    bounded (a face must then keep MTCNN's 20 px: in an 8000 x 8000 photo, faces of 160 px and up). When MTCNN finds no face the no-face
    policy decides: ``no_face="skip"`` (the default) raises
    :class:`~emozoo.errors.InputRefused` "no face found"; ``no_face="full"`` classifies the
    whole image as a face (for images that already are face crops: CK+48, FER2013).
    """

    max_pixels = 1024 * 1024

    def __init__(self, folder: str | os.PathLike, card: dict, *, no_face: str = "skip"):
        super().__init__(folder, card)
        self.size = int(self.preprocessing.get("size", 48))
        self._cropper = None
        self.no_face = no_face

    def face(self, path) -> np.ndarray:
        """The uint8 ``[size, size, 1]`` face crop of one image file (refusals as the class says)."""
        from emozoo.zoo.input_checks import check_image

        if self._cropper is None:
            from emozoo.features.face import FaceCropper
            self._cropper = FaceCropper(size=self.size, policy="error")
        name = os.fspath(path)
        image = check_image(face_image(path, self.size, self.max_pixels), min(self.size, 12), name)
        return self._face_or_policy(self._cropper, image, name)

    def faces(self, inputs) -> np.ndarray:
        """``[N, size, size, 1]`` float32 faces in 0..255 from paths, one image or a batch of crops."""
        if isinstance(inputs, (str, os.PathLike)):
            inputs = [inputs]
        if isinstance(inputs, (list, tuple)) and inputs and all(isinstance(i, (str, os.PathLike)) for i in inputs):
            return np.stack([self.face(p) for p in inputs]).astype(np.float32)
        arr = np.asarray(inputs, np.float32)
        if arr.ndim == 2:
            arr = arr[None, :, :, None]
        elif arr.ndim == 3:
            arr = arr[..., None] if arr.shape[-1] != 1 else arr[None]
        if arr.ndim != 4 or arr.shape[1:] != (self.size, self.size, 1):
            raise SchemaError(f"faces must be [N, {self.size}, {self.size}, 1] grey crops in 0..255 or image "
                              f"paths; got shape {arr.shape}")
        return arr

    def predict(self, inputs, sample_rate: int | None = None) -> np.ndarray:
        import tensorflow as tf
        return self._model.classify(tf.constant(self.faces(inputs)))["probabilities"].numpy()

    def embed(self, inputs) -> np.ndarray:
        import tensorflow as tf
        return self._model.embed(tf.constant(self.faces(inputs)))["embedding"].numpy()

    def predict_labels(self, inputs, sample_rate: int | None = None) -> list[str]:
        return [self.labels[i] for i in self.predict(inputs).argmax(-1)]


# preprocessing.json "input" -> "module:Class" of its predictor; method packages add their own
# kinds (e.g. a conversation or video input) with :func:`register_predictor`. Imported lazily.
_PREDICTORS: dict[str, str] = {"features": f"{__name__}:Predictor", "face": f"{__name__}:FacePredictor"}


def register_predictor(input_kind: str, target: str) -> None:
    """Route models whose ``assets/preprocessing.json`` says ``"input": input_kind`` to the class
    ``target`` (``"package.module:ClassName"``, called as ``Class(folder, card)``)."""
    _PREDICTORS[input_kind] = target


def make_predictor(folder: str | os.PathLike, card: dict):
    """The predictor class a model's ``preprocessing.json`` asks for (``input``: features, face,
    or a kind registered by a method package)."""
    import importlib

    pre = json.loads((Path(folder) / "assets" / "preprocessing.json").read_text())
    kind = pre.get("input", "features")
    if kind not in _PREDICTORS:
        importlib.import_module("emozoo.models").discover()   # method packages register their kinds
    if kind not in _PREDICTORS:
        raise ExportError(f"{folder}: preprocessing.json asks for input {kind!r}; known: {sorted(_PREDICTORS)}")
    module, cls = _PREDICTORS[kind].split(":")
    return getattr(importlib.import_module(module), cls)(folder, card)
