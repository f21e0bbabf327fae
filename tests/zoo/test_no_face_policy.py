"""The no-face policy the zoo's face predictors share (emozoo.zoo.predictor.NoFacePolicy)."""
from __future__ import annotations

import numpy as np
import pytest

from emozoo.errors import SchemaError
from emozoo.zoo.predictor import FacePredictor, NoFacePolicy


class _Faces(NoFacePolicy):
    def __init__(self, no_face="skip"):
        self.no_face = no_face


def test_policy_keeps_skip_and_full_and_refuses_anything_else():
    m = _Faces()
    assert m.no_face == "skip"
    m.no_face = "full"
    assert m.no_face == "full"
    for bad in ("guess", "", None, "Full"):
        with pytest.raises(SchemaError, match=r"no_face must be 'skip' .* or 'full' .*got"):
            m.no_face = bad
        assert m.no_face == "full"                      # a refused value leaves the policy as it was
    with pytest.raises(SchemaError, match="'guess'"):
        _Faces("guess")


def test_both_face_predictors_use_the_shared_policy():
    from emozoo.models.emotion_face.emotion_face_predictor import EmotionFacePredictor

    for cls in (FacePredictor, EmotionFacePredictor):
        assert issubclass(cls, NoFacePolicy)
        assert cls.no_face is NoFacePolicy.no_face       # not a copy of it


class _Cropper:
    """A stand-in for FaceCropper(policy="error"): finds a face only in images whose mean is over 100."""
    min_face_size = 20

    def crop_image(self, image):
        from types import SimpleNamespace

        from emozoo.errors import FaceNotFound
        if image.mean() <= 100:
            raise FaceNotFound("none")
        return SimpleNamespace(image="the face")

    def full(self, image):
        return "the whole image"


def test_the_policy_decides_what_an_image_without_a_face_gets():
    from emozoo.errors import InputRefused

    m, bright, dark = _Faces(), np.full((4, 4), 200, np.uint8), np.zeros((4, 4), np.uint8)
    assert m._face_or_policy(_Cropper(), bright, "a.png") == "the face"
    with pytest.raises(InputRefused, match=r"a\.png: no face found \(MTCNN, faces of 20 px and up\); no_face='full'"):
        m._face_or_policy(_Cropper(), dark, "a.png")
    m.no_face = "full"
    assert m._face_or_policy(_Cropper(), dark, "a.png") == "the whole image"
    assert m._face_or_policy(_Cropper(), bright, "a.png") == "the face"    # a face found is still cropped


def test_face_image_checks_the_header_and_bounds_the_pixels(tmp_path):
    from PIL import Image

    from emozoo.errors import EmozooError, InputRefused
    from emozoo.zoo.predictor import face_image

    small, big = tmp_path / "small.png", tmp_path / "big.png"
    Image.new("L", (40, 60), 90).save(small)
    Image.new("RGB", (400, 200), (10, 20, 30)).save(big)
    with pytest.raises(InputRefused, match=r"small\.png: the image is 40x60 pixels, under this model's minimum of 48x48"):
        face_image(small, 48, 10**6)
    assert face_image(small, 40, 10**6).shape == (60, 40, 3)               # grey decoded as RGB
    full = face_image(big, 48, 10**6)
    assert full.shape == (200, 400, 3) and full[0, 0].tolist() == [10, 20, 30]
    h, w, _ = face_image(big, 48, 20000).shape                              # 80000 px > 20000: shrunk to ~20000
    assert w <= 200 and h * w <= 20000 and abs(w / h - 2) < 0.05
    (tmp_path / "junk.png").write_bytes(b"not an image")
    with pytest.raises(EmozooError):
        face_image(tmp_path / "junk.png", 48, 10**6)
