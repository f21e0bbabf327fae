"""EMODal's raw input path and its predictors: video clip -> (middle-frame face, audio features) -> model.

Preprocessing as in the paper (sec. 2 "Input Features" and sec. 3 "Data Collection and
Processing"):

* image: the clip's **middle frame** (:func:`emozoo.data.video.middle_frame`), cropped to the
  **largest face** MTCNN detects (:class:`emozoo.features.face.FaceCropper`), resized to
  **128 x 128** and converted to **grey**; the paper keeps only clips with a clear face, so the
  default no-face policy is ``error`` (:class:`emozoo.errors.FaceNotFound`); ``full`` uses the
  whole frame instead. The paper's face frontalization is not done (optional eye-levelling with
  ``align=True`` is the closest step available);
* audio: the clip's sound track decoded with PyAV, down-mixed and resampled to **16 kHz**
  (:func:`emozoo.data.video.read_video_audio`), summarised by the **68-dim** pyAudioAnalysis
  short-term features (:func:`emozoo.features.short_term.short_term_summary`).

The corpus this path is meant for is RAVDESS's audio-visual video files (``01-01-*.mp4``, zenodo
record 1188976: speech, audio+video). Nothing here was trained on real paired raw video (only the
pre-extracted RAVDESS AV features are available here), so no ``emodal_video`` zoo model is
published; :func:`export_video_model` writes a SavedModel that :class:`EMODalVideoPredictor`
loads (``preprocessing.json`` ``"input": "emodal_video"``) for whoever trains one.

Two predictor kinds are registered with :func:`emozoo.zoo.predictor.register_predictor` (in
``emozoo/models/emodal/__init__.py``):

* ``emodal_av`` -> :class:`EMODalFeaturePredictor`: the two feature vectors (zoo model
  ``emodal_ravdess_av``: 259-dim MFCC audio vector + 35 OpenFace action units);
* ``emodal_video`` -> :class:`EMODalVideoPredictor`: a video file path, or frames + audio.

Example::

    inputs = clip_inputs("01-01-05-01-01-01-01.mp4")     # {"audio": [68], "image": [128, 128, 1]}
    probs = EMODalVideoPredictor(folder, card={}).predict("01-01-05-01-01-01-01.mp4")
"""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from emozoo.errors import ExportError, FeatureError, SchemaError
from emozoo.zoo.predictor import SavedModelPredictor

FACE_SIZE = 128
AUDIO_RATE = 16000
AUDIO_DIM = 68


def _cropper(policy: str = "error", align: bool = False, size: int = FACE_SIZE):
    from emozoo.features.face import FaceCropper

    return FaceCropper(size=size, policy=policy, align=align)


def face_of_frame(frame: np.ndarray, *, policy: str = "error", align: bool = False, size: int = FACE_SIZE,
                  cropper=None) -> np.ndarray:
    """The largest face of one RGB frame as uint8 ``[size, size, 1]`` grey (no face: per ``policy``)."""
    from emozoo.errors import FaceNotFound

    cropper = cropper or _cropper(policy, align, size)
    crop = cropper.crop_image(np.asarray(frame), policy=policy)
    if crop is None:
        raise FaceNotFound("no face in the frame and no-face policy 'skip': EMODal needs one face per clip; "
                           "use policy 'full' to fall back to the whole frame")
    return crop.image


def audio_features(waveform, sample_rate: int) -> np.ndarray:
    """The 68 short-term features (float32 ``[68]``) of a mono waveform at any rate (resampled to 16 kHz)."""
    from emozoo.data.audio import resample
    from emozoo.features.short_term import short_term_summary

    wav = np.asarray(waveform, np.float32)
    if wav.ndim != 1 or wav.size == 0:
        raise FeatureError(f"audio must be a non-empty mono waveform [n], got shape {wav.shape}")
    if not np.isfinite(wav).all():
        raise FeatureError("audio has NaN/inf samples")
    if int(sample_rate) != AUDIO_RATE:
        wav = resample(wav, int(sample_rate), AUDIO_RATE)
    return np.asarray(short_term_summary(wav, AUDIO_RATE), np.float32)


def clip_inputs(path: str | os.PathLike, *, policy: str = "error", align: bool = False, cropper=None) -> dict:
    """``{"audio": float32 [68], "image": uint8 [128, 128, 1]}`` of a video clip with a sound track."""
    from emozoo.data.video import middle_frame, read_video_audio

    frame = middle_frame(path)                                       # the middle frame (sec. 3)
    image = face_of_frame(frame, policy=policy, align=align, cropper=cropper)   # largest face, 128x128 grey
    wav, rate = read_video_audio(path, AUDIO_RATE)                   # sound track at 16 kHz
    return {"audio": audio_features(wav, rate), "image": image}


def frames_inputs(frames, audio, sample_rate: int, *, policy: str = "error", align: bool = False,
                  cropper=None) -> dict:
    """As :func:`clip_inputs` for decoded frames ``[T, H, W, 3]`` (the middle one is used) and a waveform."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[0] == 0 or frames.shape[-1] not in (1, 3):
        raise SchemaError(f"frames must be [T, H, W, 3] (or 1 channel) with T >= 1, got {frames.shape}")
    frame = frames[frames.shape[0] // 2]
    if frame.shape[-1] == 1:
        frame = np.repeat(frame, 3, axis=-1)
    return {"audio": audio_features(audio, sample_rate),
            "image": face_of_frame(frame, policy=policy, align=align, cropper=cropper)}


# -- export ------------------------------------------------------------------------------------
def _write_assets(out_dir: Path, classes, preprocessing: dict) -> None:
    assets = out_dir / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    (assets / "labels.json").write_text(json.dumps(list(classes), indent=1))
    (assets / "preprocessing.json").write_text(json.dumps(preprocessing, indent=1))


def export_feature_model(model, out_dir, classes, *, preprocessing: dict | None = None) -> Path:
    """SavedModel of a dense-branch EMODal model: ``serve_features(audio [N, A], visual [N, V])``
    -> ``logits``, ``probabilities``, ``embedding``; ``preprocessing.json`` input ``emodal_av``."""
    import tensorflow as tf

    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ExportError(f"{out_dir} is not empty; export into a fresh folder")
    if model.visual_branch != "dense":
        raise ExportError("export_feature_model needs the dense visual branch; use export_video_model for the CNN")
    a = tf.TensorSpec((None, model.audio_dim), tf.float32, name="audio")
    v = tf.TensorSpec((None, model.visual_dim), tf.float32, name="visual")

    def serve(audio, visual):
        logits = model({"audio": audio, "visual": visual}, training=False)
        return {"logits": logits, "probabilities": tf.nn.softmax(logits, -1),
                "embedding": model.embed({"audio": audio, "visual": visual})}

    mod = tf.Module(name="emodal_serving")
    mod.model = model
    mod.serve_features = tf.function(serve, input_signature=[a, v], autograph=False)
    tf.saved_model.save(mod, str(out_dir), signatures={"serve_features": mod.serve_features})
    _write_assets(out_dir, classes, {"input": "emodal_av", "audio_dim": int(model.audio_dim),
                                     "visual_dim": int(model.visual_dim), "modalities": model.modalities,
                                     **(preprocessing or {})})
    return out_dir


def export_video_model(model, out_dir, classes, *, face_policy: str = "error", align: bool = False,
                       preprocessing: dict | None = None) -> Path:
    """SavedModel of a CNN-branch EMODal model: ``serve_av(audio [N, 68], image [N, 128, 128, 1] 0..255)``;
    ``preprocessing.json`` input ``emodal_video`` (file -> middle-frame face + 68 audio features)."""
    import tensorflow as tf

    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ExportError(f"{out_dir} is not empty; export into a fresh folder")
    if model.visual_branch != "cnn":
        raise ExportError("export_video_model needs the CNN image branch (faces); use export_feature_model")
    s = model.image_size
    a = tf.TensorSpec((None, model.audio_dim), tf.float32, name="audio")
    im = tf.TensorSpec((None, s, s, 1), tf.float32, name="image")

    def serve(audio, image):
        logits = model({"audio": audio, "image": image}, training=False)
        return {"logits": logits, "probabilities": tf.nn.softmax(logits, -1)}

    mod = tf.Module(name="emodal_video_serving")
    mod.model = model
    mod.serve_av = tf.function(serve, input_signature=[a, im], autograph=False)
    tf.saved_model.save(mod, str(out_dir), signatures={"serve_av": mod.serve_av})
    _write_assets(out_dir, classes, {"input": "emodal_video", "image_size": int(s), "audio_dim": int(model.audio_dim),
                                     "audio": "pyAudioAnalysis 68 short-term features (emozoo.features.short_term), "
                                              "16 kHz, 50 ms / 25 ms frames, mean over frames",
                                     "face": "middle frame, largest MTCNN face, grey, resized",
                                     "face_policy": face_policy, "align": bool(align), **(preprocessing or {})})
    return out_dir


# -- predictors ----------------------------------------------------------------------------------
class _Base(SavedModelPredictor):
    def predict_labels(self, inputs, sample_rate: int | None = None) -> list[str]:
        return [self.labels[i] for i in self.predict(inputs, sample_rate).argmax(-1)]


class EMODalFeaturePredictor(_Base):
    """A loaded ``emodal_av`` model: probabilities ``[N, K]`` from the two feature vectors.

    ``predict`` takes ``{"audio": [N, A], "visual": [N, V]}``, a pair ``(audio, visual)``, one flat
    ``[N, A + V]`` array (audio first, as the feature stores), or the path of an ``.npz`` laid out as
    ``ravdess_av_features/au_mfcc_features.npz`` (``X_audio_mfcc``, ``X_visual_au``; read with
    ``allow_pickle=False``), whose rows are all predicted.
    """

    @property
    def audio_dim(self) -> int:
        return int(self.preprocessing["audio_dim"])

    @property
    def visual_dim(self) -> int:
        return int(self.preprocessing["visual_dim"])

    def split(self, inputs):
        if isinstance(inputs, (list, tuple)) and inputs and all(isinstance(i, (str, os.PathLike)) for i in inputs):
            parts = [self.split(i) for i in inputs]           # several .npz files: their rows in order
            return np.concatenate([a for a, _ in parts]), np.concatenate([v for _, v in parts])
        if isinstance(inputs, (str, os.PathLike)):
            path = Path(inputs)
            if path.suffix != ".npz":
                raise SchemaError(f"{path}: give an .npz with X_audio_mfcc and X_visual_au (as ravdess_av_features), "
                                  "or the feature arrays")
            try:
                with np.load(path, allow_pickle=False) as z:
                    inputs = {"audio": z["X_audio_mfcc"], "visual": z["X_visual_au"]}
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
                raise SchemaError(f"{path}: cannot read X_audio_mfcc / X_visual_au ({exc})") from exc
            for key, arr in (("X_audio_mfcc", inputs["audio"]), ("X_visual_au", inputs["visual"])):
                if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
                    raise SchemaError(f"{path}: {key} holds {arr.dtype} values, not numbers; give the feature "
                                      "arrays as floats (as ravdess_av_features/au_mfcc_features.npz)")
            where = f"{path}: "
        else:
            where = ""
        if isinstance(inputs, dict):
            if "audio" not in inputs or "visual" not in inputs:
                raise SchemaError(f"input dict needs 'audio' and 'visual', got {sorted(inputs)}")
            audio, visual = inputs["audio"], inputs["visual"]
        elif isinstance(inputs, (list, tuple)) and len(inputs) == 2:
            audio, visual = inputs
        else:
            try:
                x = np.asarray(inputs, np.float32)
            except (TypeError, ValueError) as exc:
                raise SchemaError(f"features must be numbers [N, {self.audio_dim + self.visual_dim}], a dict "
                                  f"{{'audio', 'visual'}}, a pair, or .npz path(s); got {type(inputs).__name__} ({exc})") from exc
            x = x[None] if x.ndim == 1 else x
            if x.ndim != 2 or x.shape[1] != self.audio_dim + self.visual_dim:
                raise SchemaError(f"features must be [N, {self.audio_dim + self.visual_dim}] (audio "
                                  f"{self.audio_dim} then visual {self.visual_dim}) or a dict/pair; got {x.shape}")
            audio, visual = x[:, :self.audio_dim], x[:, self.audio_dim:]
        try:
            audio = np.asarray(audio, np.float32)
            visual = np.asarray(visual, np.float32)
        except (TypeError, ValueError) as exc:
            raise SchemaError(f"{where}audio and visual features must be numbers ({exc})") from exc
        audio, visual = (audio[None] if audio.ndim == 1 else audio), (visual[None] if visual.ndim == 1 else visual)
        if audio.ndim != 2 or audio.shape[1] != self.audio_dim or visual.ndim != 2 or visual.shape[1] != self.visual_dim \
                or len(audio) != len(visual):
            raise SchemaError(f"need audio [N, {self.audio_dim}] and visual [N, {self.visual_dim}] with the same N; "
                              f"got {audio.shape} and {visual.shape}")
        if len(audio) == 0:
            raise SchemaError(f"{where}no rows to predict (audio {audio.shape}, visual {visual.shape}); give at "
                              "least one example")
        if not (np.isfinite(audio).all() and np.isfinite(visual).all()):
            raise SchemaError(f"{where}features contain NaN/inf")
        return audio, visual

    def predict(self, inputs, sample_rate: int | None = None) -> np.ndarray:
        import tensorflow as tf

        audio, visual = self.split(inputs)
        return self._model.serve_features(tf.constant(audio), tf.constant(visual))["probabilities"].numpy()


class EMODalVideoPredictor(_Base):
    """A loaded ``emodal_video`` model: probabilities ``[N, K]`` from video files or frames + audio.

    ``predict`` takes a video path (or a list of them), or a dict ``{"frames": [T, H, W, 3],
    "audio": [n], "sample_rate": int}``, or ready inputs ``{"audio": [N, 68], "image": [N, S, S, 1]}``.
    """

    def __init__(self, folder, card):
        super().__init__(folder, card)
        self.size = int(self.preprocessing.get("image_size", FACE_SIZE))
        self.policy = self.preprocessing.get("face_policy", "error")
        self.align = bool(self.preprocessing.get("align", False))
        self._cropper = None

    def inputs(self, source) -> dict:
        if self._cropper is None:
            self._cropper = _cropper(self.policy, self.align, self.size)
        if isinstance(source, (str, os.PathLike)):
            one = clip_inputs(source, policy=self.policy, align=self.align, cropper=self._cropper)
            return {"audio": one["audio"][None], "image": one["image"][None]}
        if isinstance(source, (list, tuple)) and source and all(isinstance(s, (str, os.PathLike)) for s in source):
            many = [self.inputs(s) for s in source]
            return {k: np.concatenate([m[k] for m in many]) for k in ("audio", "image")}
        if isinstance(source, dict) and "frames" in source:
            if "audio" not in source or "sample_rate" not in source:
                raise SchemaError("frames input needs 'audio' and 'sample_rate' too")
            one = frames_inputs(source["frames"], source["audio"], int(source["sample_rate"]), policy=self.policy,
                                align=self.align, cropper=self._cropper)
            return {"audio": one["audio"][None], "image": one["image"][None]}
        if isinstance(source, dict) and "image" in source and "audio" in source:
            image = np.asarray(source["image"], np.float32)
            image = image[None] if image.ndim == 3 else image
            audio = np.asarray(source["audio"], np.float32)
            audio = audio[None] if audio.ndim == 1 else audio
            if image.shape[1:] != (self.size, self.size, 1) or audio.shape[1:] != (AUDIO_DIM,):
                raise SchemaError(f"need image [N, {self.size}, {self.size}, 1] and audio [N, {AUDIO_DIM}], got "
                                  f"{image.shape} and {audio.shape}")
            return {"audio": audio, "image": image}
        raise SchemaError("give a video path (or list of paths), {'frames', 'audio', 'sample_rate'}, or "
                          "{'audio': [N, 68], 'image': [N, S, S, 1]}")

    def predict(self, inputs, sample_rate: int | None = None) -> np.ndarray:
        import tensorflow as tf

        x = self.inputs(inputs)
        return self._model.serve_av(tf.constant(x["audio"], tf.float32),
                                    tf.constant(x["image"], tf.float32))["probabilities"].numpy()
