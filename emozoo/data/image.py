"""Image loading for the face corpora (JAFFE TIFF, CK+48 PNG, FER2013 JPEG ...).

Every format (TIFF, PNG, JPEG, BMP, GIF, WebP) is decoded by Pillow, so one
library decides the pixel values whatever the extension; ``tf.io.decode_image``
is not used because it cannot read TIFF (JAFFE) and two decoders could round
JPEG differently. Pillow converts to grey with ITU-R 601-2 luma
(``L = 0.299 R + 0.587 G + 0.114 B``, the weights ``tf.image.rgb_to_grayscale``
uses), honours the EXIF orientation tag, and takes the first frame of a
multi-frame GIF/TIFF. Resizing is Pillow's bilinear filter, which widens its
support when shrinking (antialiased, like ``tf.image.resize(..., antialias=True)``).

Example:

>>> face = load_image("jaffe/KA.AN1.39.tiff", size=48)         # doctest: +SKIP
>>> face.shape, face.dtype                                       # doctest: +SKIP
((48, 48, 1), dtype('uint8'))
"""
from __future__ import annotations

import io
import os
from typing import Union

import numpy as np
import tensorflow as tf

from emozoo.data.audio import _open_source
from emozoo.errors import ImageDecodeError

ImageSource = Union[str, os.PathLike, bytes, bytearray, memoryview]


def _parse_size(size) -> tuple[int, int] | None:
    """``None`` / ``int`` / ``(height, width)`` -> ``(height, width)`` or None."""
    if size is None:
        return None
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        size = (int(size), int(size))
    if (not isinstance(size, (tuple, list)) or len(size) != 2
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in size)
            or min(size) < 1):
        raise ValueError(f"size must be None, a positive int or (height, width), got {size!r}")
    return int(size[0]), int(size[1])


def _to_8bit(img):
    """Pillow images with 16/32-bit or float pixels -> mode ``L`` (8-bit grey)."""
    from PIL import Image

    mode = img.mode
    if mode.startswith("I;16"):
        arr = np.asarray(img, dtype=np.float64) / 257.0
    elif mode in ("I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        peak = float(arr.max()) if arr.size else 0.0
        if mode == "F" and peak <= 1.0:
            arr = arr * 255.0
        elif peak > 255.0:
            arr = arr / (257.0 if peak <= 65535.0 else peak / 255.0)
    else:
        return img
    return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), mode="L")


def resize(image: np.ndarray, size: int | tuple) -> np.ndarray:
    """Resize a uint8 image array with the antialiased bilinear filter :func:`load_image` uses.

    For arrays that do not come from a file (e.g. FER2013's CSV pixels).

    Args:
        image: uint8 ``[H, W]``, ``[H, W, 1]`` or ``[H, W, 3]``.
        size: ``size x size`` (int) or ``(height, width)``.

    Returns:
        uint8 array of the same rank and channels at the new size (a copy, also
        when the size already matches).
    """
    from PIL import Image

    target = _parse_size(size)
    if target is None:
        raise ValueError("size must be a positive int or (height, width), got None")
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (
            image.ndim == 3 and image.shape[-1] not in (1, 3)) or min(image.shape[:2]) < 1:
        raise ValueError(f"resize expects uint8 [H, W], [H, W, 1] or [H, W, 3], got {image.dtype} "
                         f"{image.shape}")
    if image.shape[:2] == target:
        return image.copy()
    plane = image[:, :, 0] if image.ndim == 3 and image.shape[-1] == 1 else image
    out = np.asarray(Image.fromarray(np.ascontiguousarray(plane)).resize(
        (target[1], target[0]), Image.Resampling.BILINEAR), dtype=np.uint8)
    return out.reshape(target + image.shape[2:])


def load_image(source: ImageSource, *, grey: bool = True, size: int | tuple | None = None,
               dtype=np.uint8, max_side: int | None = None) -> np.ndarray:
    """Decode an image file (or its bytes) into an ``H x W x C`` array.

    Args:
        source: path (``str``/``PathLike``) or the file's content as ``bytes``.
        grey: one luma channel (``C = 1``); otherwise RGB (``C = 3``; grey images
            are replicated, alpha is dropped).
        size: resize to ``size x size`` (int) or ``(height, width)``; ``None`` keeps
            the file's size. Antialiased bilinear.
        dtype: ``np.uint8`` (0..255) or a floating dtype (scaled to [0, 1]).
        max_side: shrink (keeping the aspect ratio) so that the longer side is at most this
            many pixels. JPEGs are then decoded at a reduced DCT scale (Pillow ``draft``: 1/2,
            1/4 or 1/8), so an 8000x8000 photo never exists in memory at full size; other
            formats are decoded, then reduced. ``None`` keeps every pixel.

    Returns:
        Array ``[H, W, 1]`` or ``[H, W, 3]`` of ``dtype``.

    Raises:
        ImageDecodeError: missing, empty, corrupt or truncated file, or a file
            that decodes to zero pixels.
    """
    from PIL import Image, ImageOps

    target = _parse_size(size)
    dtype = np.dtype(dtype)
    if max_side is not None and (isinstance(max_side, bool) or not isinstance(max_side, (int, np.integer))
                                 or max_side < 1):
        raise ValueError(f"max_side must be None or a positive int, got {max_side!r}")
    if dtype != np.uint8 and not np.issubdtype(dtype, np.floating):
        raise ValueError(f"dtype must be np.uint8 or a floating dtype, got {dtype}")
    name, path, _ = _open_source(source, ImageDecodeError)
    try:
        with Image.open(str(path) if path is not None else io.BytesIO(bytes(source))) as img:
            if max_side is not None and max(img.size) > max_side:
                scale = max_side / max(img.size)
                img.draft(img.mode if img.mode in ("L", "RGB") else None,
                          (max(1, int(img.width * scale)), max(1, int(img.height * scale))))
            img.load()
            img = ImageOps.exif_transpose(img)
            img = _to_8bit(img)
            img = img.convert("L" if grey else "RGB")
    except Exception as exc:  # Pillow raises OSError, ValueError, SyntaxError, ... on bad data
        raise ImageDecodeError(
            f"{name}: cannot decode image ({type(exc).__name__}: {exc}); the file is corrupt, "
            "truncated or not an image: re-export it or drop it from the manifest") from exc
    if img.width == 0 or img.height == 0:
        raise ImageDecodeError(f"{name}: decodes to an empty image ({img.width}x{img.height}); "
                               "drop it from the manifest")
    if max_side is not None and max(img.size) > max_side:
        img.thumbnail((int(max_side), int(max_side)), Image.Resampling.BILINEAR, reducing_gap=2.0)
    if target is not None and (img.height, img.width) != target:
        img = img.resize((target[1], target[0]), Image.Resampling.BILINEAR)
    arr = np.asarray(img, dtype=np.uint8)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if dtype == np.uint8:
        return np.ascontiguousarray(arr)
    return arr.astype(dtype) / dtype.type(255.0)


def tf_load_image(path: tf.Tensor, grey: bool = True, size: int | tuple | None = None) -> tf.Tensor:
    """:func:`load_image` for a scalar string tensor, usable inside ``tf.data`` ``map``.

    Wraps :func:`load_image` in :func:`tf.numpy_function` (Pillow decodes, so it
    runs in Python: not serialisable into a SavedModel).

    Args:
        path: scalar ``tf.string`` tensor holding a file path.
        grey: one channel (True) or RGB.
        size: as in :func:`load_image`; when given, the static shape is fully known.

    Returns:
        uint8 tensor ``[H, W, C]``. A decode failure surfaces as a ``tf.errors``
        exception carrying the ImageDecodeError message.
    """
    target = _parse_size(size)

    def _load(p):
        return load_image(os.fsdecode(p), grey=grey, size=target)

    image = tf.numpy_function(_load, [path], tf.uint8, stateful=False)
    channels = 1 if grey else 3
    image.set_shape([target[0], target[1], channels] if target else [None, None, channels])
    return image
