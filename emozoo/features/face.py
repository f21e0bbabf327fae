"""Face detection, alignment and cropping with MTCNN, for images and video frames.

MTCNN (Zhang, Zhang, Li, Qiao, "Joint Face Detection and Alignment using Multitask Cascaded
Convolutional Networks", IEEE SPL 2016) through the ``mtcnn`` package (1.x, TensorFlow): its
P-Net/R-Net/O-Net weights ship inside the wheel (``mtcnn/assets/weights/*.lz4``) and are read
from there, nothing is downloaded. (They are joblib files, i.e. pickles, loaded by the ``mtcnn``
package itself; emozoo does not pickle anything.)

For every image or frame:

1. MTCNN finds the faces (boxes, confidences, five landmarks); the **largest** box (by area)
   is kept;
2. optional alignment (``align=True``): the image is rotated about the box centre so that the
   two eye landmarks lie on a horizontal line;
3. the crop is the square centred on the box centre with side ``max(w, h) * (1 + 2 * margin)``;
   parts outside the image are filled by repeating the border pixels;
4. grey (ITU-R 601-2 luma, as :func:`emozoo.data.image.load_image`) and resized with the
   antialiased bilinear filter of :func:`emozoo.data.image.resize` to ``size`` (48, 64, 128 or
   224; any positive int works).

"No face" is an explicit outcome, chosen by ``policy``:

=========  ==================================================================================
policy     when no face is found
=========  ==================================================================================
skip       the image / frame gives no crop (:meth:`FaceCropper.crop_image` returns ``None``,
           video frames are dropped)
previous   video: the previous frame's face crop is repeated (seed 003); frames before the first
           detected face are dropped. A single image has no previous frame: as ``skip``
error      :class:`emozoo.errors.FaceNotFound` is raised
full       the whole image (grey, resized) is used as the face: for corpora whose images are
           already face crops (CK+48, FER2013, and JAFFE's 256x256 portraits), so that a missed
           detection does not lose the image
=========  ==================================================================================

Every crop is a :class:`FaceCrop` that says where it came from (``source`` = ``detected``,
``previous`` or ``full``) and, when detected, its :class:`FaceBox`.

Example:

>>> cropper = FaceCropper(size=48, policy="full")                       # doctest: +SKIP
>>> crop = cropper.crop_image("jaffe/KA.AN1.39.tiff")                    # doctest: +SKIP
>>> crop.image.shape, crop.source, crop.box.width                        # doctest: +SKIP
((48, 48, 1), 'detected', 67)
>>> track = cropper.crop_video("clip.mp4", fps=5)                        # doctest: +SKIP
>>> track.images.shape                                                   # doctest: +SKIP
(15, 48, 48, 1)
"""
from __future__ import annotations

import dataclasses
import math
import os
import threading

import numpy as np

from emozoo.errors import FaceNotFound, FeatureError

POLICIES = ("skip", "previous", "error", "full")
FACE_SIZES = (48, 64, 128, 224)


@dataclasses.dataclass(frozen=True)
class FaceBox:
    """One MTCNN detection in pixel coordinates of the input image.

    Attributes:
        x, y: top-left corner; width, height: box size (``xywh`` as the ``mtcnn`` package gives).
        confidence: O-Net face probability.
        landmarks: ``{"left_eye", "right_eye", "nose", "mouth_left", "mouth_right"}`` -> ``(x, y)``.
    """

    x: int
    y: int
    width: int
    height: int
    confidence: float
    landmarks: dict = dataclasses.field(default_factory=dict)

    @property
    def area(self) -> int:
        return int(self.width) * int(self.height)

    @property
    def centre(self) -> tuple[float, float]:
        return self.x + self.width / 2.0, self.y + self.height / 2.0


@dataclasses.dataclass(frozen=True)
class FaceCrop:
    """A face crop: uint8 ``image [size, size, 1]`` (``[size, size, 3]`` with ``colour="rgb"``),
    ``source`` and the detected ``box`` (or None)."""

    image: np.ndarray
    source: str
    box: FaceBox | None = None


@dataclasses.dataclass(frozen=True)
class FaceTrack:
    """The face crops of a video: ``images [T, S, S, 1]`` uint8, ``times [T]`` s, ``sources [T]``.

    ``frames`` is the number of sampled frames, ``detected`` how many of them had a face.
    """

    images: np.ndarray
    times: np.ndarray
    sources: tuple
    frames: int
    detected: int


_DETECTOR = None
_DETECTOR_LOCK = threading.Lock()


def mtcnn_detector():
    """The process-wide ``mtcnn.MTCNN`` (three-stage, CPU), built once; weights from the wheel."""
    global _DETECTOR
    with _DETECTOR_LOCK:
        if _DETECTOR is None:
            from mtcnn import MTCNN
            _DETECTOR = MTCNN(stages="face_and_landmarks_detection", device="CPU:0")
    return _DETECTOR


def _as_rgb(image) -> np.ndarray:
    """uint8 ``[H, W]``, ``[H, W, 1]`` or ``[H, W, 3]`` -> contiguous uint8 ``[H, W, 3]``."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise FeatureError(f"face detection takes uint8 images, got {image.dtype}; load them with "
                           "emozoo.data.image.load_image (uint8)")
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[-1] not in (1, 3) or min(image.shape[:2]) < 1:
        raise FeatureError(f"face detection takes [H, W], [H, W, 1] or [H, W, 3] images, got {image.shape}")
    if image.shape[-1] == 1:
        image = np.repeat(image, 3, axis=-1)
    return np.ascontiguousarray(image)


def _grey(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601-2 luma with Pillow (the conversion :func:`load_image` uses) -> uint8 ``[H, W]``."""
    from PIL import Image

    return np.asarray(Image.fromarray(rgb, "RGB").convert("L"), np.uint8)


def detect_faces(image, *, min_face_size: int = 20, thresholds=(0.6, 0.7, 0.8)) -> list[FaceBox]:
    """All MTCNN faces of one image, largest first.

    Args:
        image: uint8 ``[H, W]``, ``[H, W, 1]`` (grey, replicated to RGB for MTCNN) or ``[H, W, 3]``.
        min_face_size: smallest face side in pixels the image pyramid looks for.
        thresholds: P-Net, R-Net, O-Net confidence thresholds (the package defaults).

    Returns:
        list of :class:`FaceBox` sorted by area, largest first (empty: no face).
    """
    rgb = _as_rgb(image)
    if min_face_size < 4:
        raise FeatureError(f"min_face_size must be >= 4 pixels, got {min_face_size}")
    found = mtcnn_detector().detect_faces(
        rgb, box_format="xywh", output_type="json", min_face_size=int(min_face_size),
        threshold_pnet=float(thresholds[0]), threshold_rnet=float(thresholds[1]),
        threshold_onet=float(thresholds[2]))
    boxes = []
    for f in found or ():
        x, y, w, h = (int(v) for v in f["box"])
        if w <= 0 or h <= 0:
            continue
        marks = {k: (float(v[0]), float(v[1])) for k, v in (f.get("keypoints") or {}).items()}
        boxes.append(FaceBox(x, y, w, h, float(f["confidence"]), marks))
    boxes.sort(key=lambda b: (-b.area, -b.confidence))
    return boxes


def square_region(box: FaceBox, margin: float) -> tuple[int, int, int]:
    """``(left, top, side)`` of the square crop around ``box`` (may extend beyond the image)."""
    cx, cy = box.centre
    side = max(1, int(round(max(box.width, box.height) * (1.0 + 2.0 * margin))))
    return int(math.floor(cx - side / 2.0)), int(math.floor(cy - side / 2.0)), side


def crop_square(grey: np.ndarray, left: int, top: int, side: int) -> np.ndarray:
    """``grey[top:top+side, left:left+side]`` with out-of-image pixels repeating the border.

    Also takes ``[H, W, C]`` images (e.g. RGB); channels are kept.
    """
    h, w = grey.shape[:2]
    pad = max(0, -left, -top, left + side - w, top + side - h)
    if pad:
        grey = np.pad(grey, ((pad, pad), (pad, pad)) + ((0, 0),) * (grey.ndim - 2), mode="edge")
    return grey[top + pad:top + pad + side, left + pad:left + pad + side]


def _rotate_to_eyes(rgb: np.ndarray, box: FaceBox) -> np.ndarray:
    """Rotate ``rgb`` about the box centre so the eye landmarks are level (no-op without them)."""
    from PIL import Image

    le, re = box.landmarks.get("left_eye"), box.landmarks.get("right_eye")
    if le is None or re is None:
        return rgb
    angle = math.degrees(math.atan2(re[1] - le[1], re[0] - le[0]))
    if abs(angle) < 1.0:
        return rgb
    # PIL rotates counter-clockwise for positive angles (y down): rotating by `angle` levels the eyes.
    return np.asarray(Image.fromarray(rgb, "RGB").rotate(
        angle, resample=Image.Resampling.BILINEAR, center=box.centre, fillcolor=None), np.uint8)


class FaceCropper:
    """Largest-face crops of images and video frames, with an explicit no-face policy.

    Args:
        size: side of the square grey crop (48 for Dface, 64, 128, or 224 as seed 000 on GPU).
        margin: fraction of the box's longer side added on each side of the square crop.
            The default 0 keeps the square of the box's longer side: on FER2013 images (what
            Dface is trained on) MTCNN's box is about as large as the image itself
            (``benchmarks/bench_face.py`` reports the ratio), so margin 0 gives the framing
            Dface has learnt.
        policy: ``skip``, ``previous``, ``error`` or ``full`` (module docstring).
        align: rotate so the eyes are level before cropping (MTCNN landmarks).
        min_face_size: smallest face side (pixels) MTCNN looks for.
        thresholds: MTCNN P/R/O-Net thresholds.
        colour: ``"grey"`` (default: ``[size, size, 1]`` ITU-R 601-2 luma crops) or ``"rgb"``
            (``[size, size, 3]`` crops, for RGB backbones such as the face MobileNet; grey
            images give three equal channels).
    """

    def __init__(self, size: int = 48, *, margin: float = 0.0, policy: str = "skip",
                 align: bool = False, min_face_size: int = 20, thresholds=(0.6, 0.7, 0.8),
                 colour: str = "grey"):
        if colour not in ("grey", "rgb"):
            raise FeatureError(f"colour must be 'grey' or 'rgb', got {colour!r}")
        self.colour = colour
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 8:
            raise FeatureError(f"size must be an int >= 8 (48, 64, 128, 224), got {size!r}")
        if not 0.0 <= margin <= 1.0:
            raise FeatureError(f"margin must be in [0, 1], got {margin}")
        if policy not in POLICIES:
            raise FeatureError(f"no-face policy must be one of {POLICIES}, got {policy!r}")
        if len(thresholds) != 3 or not all(0.0 < t < 1.0 for t in thresholds):
            raise FeatureError(f"thresholds must be three values in (0, 1), got {thresholds}")
        self.size = int(size)
        self.margin = float(margin)
        self.policy = policy
        self.align = bool(align)
        self.min_face_size = int(min_face_size)
        self.thresholds = tuple(float(t) for t in thresholds)

    def config(self) -> str:
        """Everything that determines the crops (for a store's ``extract.json``)."""
        from importlib.metadata import version

        return (f"mtcnn-{version('mtcnn')}:min_face={self.min_face_size},"
                f"thresholds={','.join(map(str, self.thresholds))};largest;margin={self.margin};"
                f"align={self.align};{'grey=601' if self.colour == 'grey' else 'rgb'};size={self.size};"
                f"policy={self.policy}")

    def _resize(self, grey: np.ndarray) -> np.ndarray:
        from emozoo.data.image import resize

        out = resize(np.ascontiguousarray(grey), self.size)
        return out if out.ndim == 3 else out[:, :, None]

    def _colour(self, rgb: np.ndarray) -> np.ndarray:
        return _grey(rgb) if self.colour == "grey" else rgb

    def crop_box(self, image, box: FaceBox) -> np.ndarray:
        """The uint8 ``[size, size, C]`` crop (C = 1 grey, 3 rgb) of ``box`` in ``image`` (alignment as configured)."""
        rgb = _as_rgb(image)
        if self.align:
            rgb = _rotate_to_eyes(rgb, box)
        left, top, side = square_region(box, self.margin)
        return self._resize(crop_square(self._colour(rgb), left, top, side))

    def full(self, image) -> np.ndarray:
        """The whole image as a uint8 ``[size, size, C]`` 'face' (policy ``full``)."""
        return self._resize(self._colour(_as_rgb(image)))

    def _load(self, image):
        if isinstance(image, (str, os.PathLike)):
            from emozoo.data.image import load_image
            return load_image(image, grey=False), os.fspath(image)
        return image, "image"

    def crop_image(self, image, *, policy: str | None = None) -> FaceCrop | None:
        """The largest face of one image (array or file path) as a :class:`FaceCrop`.

        Returns ``None`` when no face is found and the policy is ``skip`` (or ``previous``,
        which has no previous frame for a single image).

        Raises:
            FaceNotFound: no face and policy ``error``.
        """
        policy = policy or self.policy
        if policy not in POLICIES:
            raise FeatureError(f"no-face policy must be one of {POLICIES}, got {policy!r}")
        image, name = self._load(image)
        boxes = detect_faces(image, min_face_size=self.min_face_size, thresholds=self.thresholds)
        if boxes:
            return FaceCrop(self.crop_box(image, boxes[0]), "detected", boxes[0])
        if policy == "full":
            return FaceCrop(self.full(image), "full", None)
        if policy == "error":
            raise FaceNotFound(f"{name}: MTCNN found no face (min_face_size={self.min_face_size}); "
                               "use policy 'full' for pre-cropped faces or 'skip' to leave it out")
        return None

    def crop_frames(self, frames, times=None, *, policy: str | None = None, name: str = "video") -> FaceTrack:
        """Face crops of a sequence of frames ``[T, H, W, C]`` under the no-face policy.

        Raises:
            FaceNotFound: policy ``error`` and some frame has no face.
        """
        policy = policy or self.policy
        if policy not in POLICIES:
            raise FeatureError(f"no-face policy must be one of {POLICIES}, got {policy!r}")
        frames = list(frames)
        times = np.arange(len(frames), dtype=np.float64) if times is None else np.asarray(times, np.float64)
        if len(times) != len(frames):
            raise FeatureError(f"{len(frames)} frames but {len(times)} times")
        images, kept_times, sources, previous, detected = [], [], [], None, 0
        for frame, t in zip(frames, times):
            boxes = detect_faces(frame, min_face_size=self.min_face_size, thresholds=self.thresholds)
            if boxes:
                crop, source = self.crop_box(frame, boxes[0]), "detected"
                previous = crop
                detected += 1
            elif policy == "error":
                raise FaceNotFound(f"{name}: MTCNN found no face in the frame at {t:.3f} s; "
                                   "use policy 'skip', 'previous' or 'full' to go on")
            elif policy == "full":
                crop, source = self.full(frame), "full"
            elif policy == "previous" and previous is not None:
                crop, source = previous, "previous"
            else:
                continue
            images.append(crop)
            kept_times.append(float(t))
            sources.append(source)
        channels = 1 if self.colour == "grey" else 3
        stacked = (np.stack(images) if images else np.zeros((0, self.size, self.size, channels), np.uint8))
        return FaceTrack(stacked, np.asarray(kept_times, np.float64), tuple(sources), len(frames), detected)

    def crop_video(self, path, *, fps: float | None = 5.0, max_frames: int | None = None,
                   policy: str | None = None) -> FaceTrack:
        """Face crops of a video's frames sampled at ``fps`` (``None``: every frame), via PyAV."""
        from emozoo.data.video import read_video

        frames, times = read_video(path, fps=fps, max_frames=max_frames, grey=False)
        return self.crop_frames(frames, times, policy=policy, name=os.fspath(path))


def landmarks_in_crop(box: FaceBox, margin: float, size: int) -> dict:
    """The MTCNN landmarks of ``box`` in pixel coordinates of its ``size x size`` crop.

    The crop is :func:`square_region` ``(left, top, side)`` resized to ``size`` (no alignment):
    a landmark ``(x, y)`` maps to ``((x - left) * size / side, (y - top) * size / side)``.
    Used to place eye and mouth regions on saliency maps (:mod:`emozoo.explain`).
    """
    left, top, side = square_region(box, margin)
    scale = float(size) / float(side)
    return {k: ((x - left) * scale, (y - top) * scale) for k, (x, y) in box.landmarks.items()}


VIDEO_EXTS = (".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".flv")


class CropEmbedder:
    """Images / videos / manifest rows -> face crops -> one embedding per input (frame mean for videos).

    The shared half of every face embedder (Dface, the face backbones): a subclass sets
    ``image_cropper`` and ``video_cropper`` (:class:`FaceCropper`), ``fps`` and ``max_frames``, and
    implements ``embed_crops(crops [N, S, S, C]) -> [N, D]``; this class finds the crops and batches
    the rows (one ``embed_crops`` call for all crops of a batch of rows).
    """

    def crops_of(self, path) -> np.ndarray:
        """The crops ``[T, S, S, C]`` of one image (T = 1) or video file."""
        from pathlib import Path

        from emozoo.errors import FaceNotFound

        path = os.fspath(path)
        if Path(path).suffix.lower() in VIDEO_EXTS:
            track = self.video_cropper.crop_video(path, fps=self.fps, max_frames=self.max_frames)
            if len(track.images) == 0:
                raise FaceNotFound(f"{path}: MTCNN found no face in any of its {track.frames} sampled frames "
                                   f"({self.fps} fps)")
            return track.images
        crop = self.image_cropper.crop_image(path)
        if crop is None:
            raise FaceNotFound(f"{path}: MTCNN found no face (image policy {self.image_cropper.policy!r})")
        return crop.image[None]

    def embed_path(self, path) -> np.ndarray:
        """Embedding ``[D]`` of one image or video (mean over a video's frames)."""
        return self.embed_crops(self.crops_of(path)).mean(axis=0)

    def embed_rows(self, rows) -> list:
        """One ``[D]`` array, or the Exception it failed with, per manifest row; one model call per batch."""
        crops, owners, out = [], [], [None] * len(rows)
        for i, row in enumerate(rows):
            try:
                if not row.path:
                    raise FeatureError(f"clip {row.clip_id!r} has no image/video path")
                c = self.crops_of(row.path)
                crops.append(c)
                owners.extend([i] * len(c))
            except Exception as exc:  # listed per row by the extract runner
                out[i] = exc
        if crops:
            emb = self.embed_crops(np.concatenate(crops))
            owners = np.asarray(owners)
            for i in np.unique(owners):
                out[int(i)] = emb[owners == i].mean(axis=0)
        return out
