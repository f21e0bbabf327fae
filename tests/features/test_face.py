"""MTCNN face cropping: crops against the box coordinates, no-face policies, real JAFFE/CK+ faces, video."""
import numpy as np
import pytest

from emozoo.errors import FaceNotFound, FeatureError
from emozoo.features.face import (FaceBox, FaceCropper, crop_square, detect_faces, square_region)
from tests.conftest import corpus_dir

BLANK = np.full((96, 128, 3), 127, np.uint8)


def _jaffe(data_dir, name="KA.AN1.39.tiff"):
    from emozoo.data.image import load_image
    return load_image(corpus_dir(data_dir, "jaffe") / name, grey=False)


# --- geometry, no detector ---------------------------------------------------------------

def test_square_region_centres_on_box_and_applies_margin():
    box = FaceBox(10, 20, 30, 40, 0.99)
    assert square_region(box, 0.0) == (5, 20, 40)          # side = longer side, same centre
    left, top, side = square_region(box, 0.25)
    assert side == 60 and (left + side / 2, top + side / 2) == (25.0, 40.0)


def test_crop_square_pads_with_border_pixels():
    grey = np.arange(16, dtype=np.uint8).reshape(4, 4)
    out = crop_square(grey, -1, -1, 3)
    np.testing.assert_array_equal(out, [[0, 0, 1], [0, 0, 1], [4, 4, 5]])
    np.testing.assert_array_equal(crop_square(grey, 1, 1, 2), grey[1:3, 1:3])


def test_crop_box_equals_slice_of_the_box_then_resize():
    """Independent computation: grey luma of the RGB image, slice the box's square, Pillow resize."""
    from PIL import Image

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (120, 100, 3), dtype=np.uint8)
    box = FaceBox(20, 30, 50, 60, 0.9)
    crop = FaceCropper(size=48).crop_box(rgb, box)
    luma = np.asarray(Image.fromarray(rgb).convert("L"))
    ref_region = luma[30:90, 15:75]                           # square 60 centred on (45, 60)
    ref = np.asarray(Image.fromarray(ref_region).resize((48, 48), Image.Resampling.BILINEAR))
    assert crop.shape == (48, 48, 1) and crop.dtype == np.uint8
    np.testing.assert_array_equal(crop[:, :, 0], ref)


@pytest.mark.parametrize("size", [48, 64, 128, 224])
def test_full_policy_crop_sizes(size):
    out = FaceCropper(size=size).full(BLANK)
    assert out.shape == (size, size, 1) and out.dtype == np.uint8 and int(out[0, 0, 0]) == 127


def test_bad_arguments_raise_feature_error():
    with pytest.raises(FeatureError, match="policy"):
        FaceCropper(policy="guess")
    with pytest.raises(FeatureError, match="size"):
        FaceCropper(size=2)
    with pytest.raises(FeatureError, match="uint8"):
        detect_faces(np.zeros((32, 32, 3), np.float32))
    with pytest.raises(FeatureError, match=r"\[H, W"):
        detect_faces(np.zeros((32, 32, 4), np.uint8))


# --- no face: synthetic images -----------------------------------------------------------

def test_no_face_outcomes_on_synthetic_images():
    noise = np.random.default_rng(1).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    assert detect_faces(BLANK) == [] and detect_faces(noise) == []
    cropper = FaceCropper(size=48)
    assert cropper.crop_image(BLANK, policy="skip") is None
    assert cropper.crop_image(BLANK, policy="previous") is None     # no previous frame
    full = cropper.crop_image(noise, policy="full")
    assert full.source == "full" and full.box is None and full.image.shape == (48, 48, 1)
    with pytest.raises(FaceNotFound, match="no face"):
        cropper.crop_image(BLANK, policy="error")
    assert issubclass(FaceNotFound, FeatureError)


def test_frames_without_faces_under_each_policy():
    frames = np.stack([BLANK, BLANK])
    c = FaceCropper(size=48)
    skip = c.crop_frames(frames, policy="skip")
    assert skip.images.shape == (0, 48, 48, 1) and skip.frames == 2 and skip.detected == 0
    assert c.crop_frames(frames, policy="previous").images.shape[0] == 0   # nothing before
    assert c.crop_frames(frames, policy="full").sources == ("full", "full")
    with pytest.raises(FaceNotFound):
        c.crop_frames(frames, policy="error")


# --- real faces -------------------------------------------------------------------------

@pytest.mark.data
def test_jaffe_face_is_detected_and_crop_matches_its_box(data_dir):
    from PIL import Image

    rgb = _jaffe(data_dir)
    boxes = detect_faces(rgb)
    assert len(boxes) >= 1
    box = boxes[0]
    assert box.confidence > 0.9 and 80 <= box.width <= 200 and 80 <= box.height <= 230
    cx, cy = box.centre
    assert 80 < cx < 176 and 80 < cy < 200                       # JAFFE portraits are centred
    assert {"left_eye", "right_eye"} <= set(box.landmarks)
    crop = FaceCropper(size=64, policy="error").crop_image(rgb)
    assert crop.source == "detected" and crop.box == box
    left, top, side = square_region(box, 0.0)
    luma = np.asarray(Image.fromarray(rgb).convert("L"))
    region = crop_square(luma, left, top, side)
    ref = np.asarray(Image.fromarray(region).resize((64, 64), Image.Resampling.BILINEAR))
    np.testing.assert_array_equal(crop.image[:, :, 0], ref)


@pytest.mark.data
def test_ckplus48_pre_cropped_face(data_dir):
    from emozoo.data.image import load_image

    path = sorted((corpus_dir(data_dir, "ckplus48") / "happy").glob("*.png"))[0]
    crop = FaceCropper(size=48, policy="full").crop_image(path)
    assert crop.image.shape == (48, 48, 1)
    if crop.source == "detected":                                # the face fills the 48x48 frame
        assert crop.box.width >= 24 and crop.box.height >= 24
    else:
        np.testing.assert_array_equal(crop.image, load_image(path, grey=True))


@pytest.mark.data
def test_video_previous_frame_policy(data_dir, tmp_path):
    """face, blank, face at 2 fps: 'previous' repeats frame 0's crop, 'skip' drops the blank."""
    from emozoo.data.video import write_video

    face = _jaffe(data_dir)
    blank = np.full_like(face, 127)
    path = write_video(tmp_path / "clip.mp4", np.stack([face, blank, face]), fps=2)
    c = FaceCropper(size=48)
    prev = c.crop_video(path, fps=None, policy="previous")
    assert prev.sources == ("detected", "previous", "detected") and prev.detected == 2
    np.testing.assert_array_equal(prev.images[1], prev.images[0])
    np.testing.assert_allclose(prev.times, [0.0, 0.5, 1.0], atol=1e-6)
    skip = c.crop_frames(*_decoded(path), policy="skip")
    assert skip.sources == ("detected", "detected") and skip.images.shape == (2, 48, 48, 1)
    with pytest.raises(FaceNotFound, match="0.500 s"):
        c.crop_frames(*_decoded(path), policy="error")


def _decoded(path):
    from emozoo.data.video import read_video
    return read_video(path, grey=False)


def test_alignment_levels_the_eyes():
    from emozoo.features.face import _rotate_to_eyes

    rgb = np.zeros((100, 100, 3), np.uint8)
    rgb[38:43, 28:33] = 255                                     # left eye at (30, 40)
    rgb[58:63, 68:73] = 255                                     # right eye at (70, 60)
    box = FaceBox(20, 20, 60, 60, 0.99, {"left_eye": (30.0, 40.0), "right_eye": (70.0, 60.0)})
    out = _rotate_to_eyes(rgb, box)[:, :, 0].astype(float)
    rows = [np.unravel_index(np.argmax(out[:, sl]), out[:, sl].shape)[0] for sl in (slice(0, 50), slice(50, 100))]
    assert abs(rows[0] - rows[1]) <= 1 and abs(rows[0] - 50) <= 2   # level, about the centre row
    assert _rotate_to_eyes(rgb, FaceBox(0, 0, 10, 10, 0.9)) is rgb  # no landmarks: unchanged
