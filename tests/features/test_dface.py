"""The ``dface`` extractor: zoo SavedModel on MTCNN crops equals the Keras backbone; rows, video mean."""
import numpy as np
import pytest

from emozoo.data.manifest import ManifestRow
from emozoo.errors import FaceNotFound, FeatureError
from emozoo.models.dface import DFaceBackbone, DFaceClassifier
from tests.conftest import corpus_dir

CLASSES = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]


@pytest.fixture(scope="module")
def tiny_zoo(tmp_path_factory):
    """A tiny Dface published to a temporary zoo with emozoo.zoo.publish: (root, keras model)."""
    from emozoo.models.dface.dface_export import export_dface
    from emozoo.zoo import publish

    root = tmp_path_factory.mktemp("zoo")
    model = DFaceClassifier(DFaceBackbone(growth_rate=4, block_layers=(2, 2), stem_channels=8))
    publish("dface_fer2013", lambda d: export_dface(model, d, CLASSES),
            {"method": "dface", "embedding_dim": 16, "image_size": 48, "classes": CLASSES}, root)
    return root, model


@pytest.fixture(scope="module")
def embedder(tiny_zoo):
    from emozoo.features.dface import DFaceEmbedder
    return DFaceEmbedder(zoo_root=tiny_zoo[0])


def _save(path, array):
    from PIL import Image
    Image.fromarray(array).save(path)
    return path


def test_image_without_face_uses_whole_image_and_matches_keras(embedder, tiny_zoo, tmp_path):
    from emozoo.features.face import FaceCropper

    img = np.random.default_rng(0).integers(0, 256, (80, 60), dtype=np.uint8)
    path = _save(tmp_path / "noise.png", img)
    got = embedder.embed_path(path)
    crop = FaceCropper(size=48).full(img[:, :, None])
    want = tiny_zoo[1].backbone(crop[None].astype("float32"), training=False).numpy()[0]
    assert got.shape == (16,)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_rows_batch_lists_failures_without_losing_others(embedder, tmp_path):
    good = _save(tmp_path / "a.png", np.full((48, 48), 90, np.uint8))
    rows = [ManifestRow("a", "synth", path=str(good)), ManifestRow("b", "synth", path=""),
            ManifestRow("c", "synth", path=str(tmp_path / "missing.png"))]
    out = embedder.embed_rows(rows)
    assert out[0].shape == (16,)
    assert isinstance(out[1], FeatureError) and isinstance(out[2], Exception)


def test_video_without_faces_is_face_not_found(embedder, tmp_path):
    from emozoo.data.video import write_video

    path = write_video(tmp_path / "blank.mp4", np.full((3, 64, 64, 3), 127, np.uint8), fps=5)
    with pytest.raises(FaceNotFound, match="no face in any"):
        embedder.embed_path(path)


def test_bad_crop_shape(embedder):
    with pytest.raises(FeatureError, match=r"\[N, 48, 48, 1\]"):
        embedder.embed_crops(np.zeros((2, 64, 64, 1), np.uint8))


def test_registered_extractor_uses_the_zoo(tiny_zoo, tmp_path, monkeypatch):
    from emozoo.features import registry

    monkeypatch.setenv("EMOZOO_ZOO_DIR", str(tiny_zoo[0]))
    monkeypatch.delitem(registry._CACHE, "dface", raising=False)
    ext = registry.get_extractor("dface")
    try:
        assert ext.input == "row" and ext.spec.shape == (16,) and "mtcnn" in ext.config
        path = _save(tmp_path / "x.png", np.full((48, 48), 10, np.uint8))
        assert ext(ManifestRow("x", "synth", path=str(path))).dtype == np.float32
    finally:
        registry._CACHE.pop("dface", None)


@pytest.mark.data
def test_jaffe_face_and_video_mean(embedder, tiny_zoo, data_dir, tmp_path):
    from emozoo.data.image import load_image
    from emozoo.data.video import write_video
    from emozoo.features.face import FaceCropper

    path = corpus_dir(data_dir, "jaffe") / "KA.HA1.29.tiff"
    rgb = load_image(path, grey=False)
    crop = FaceCropper(size=48, policy="error").crop_image(rgb)
    want = tiny_zoo[1].backbone(crop.image[None].astype("float32"), training=False).numpy()[0]
    np.testing.assert_allclose(embedder.embed_path(path), want, rtol=1e-5, atol=1e-5)
    # video: face, blank, face -> 'previous' repeats frame 0; the clip is the mean of 3 frame embeddings
    video = write_video(tmp_path / "clip.mp4", np.stack([rgb, np.full_like(rgb, 127), rgb]), fps=5)
    crops = embedder.crops_of(video)
    assert crops.shape == (3, 48, 48, 1)
    frames = tiny_zoo[1].backbone(crops.astype("float32"), training=False).numpy()
    np.testing.assert_allclose(embedder.embed_path(video), frames.mean(0), rtol=1e-5, atol=1e-5)
