"""SSGAN zoo export (waveform and face SavedModels, the waveform predictor) and, on the real
data, the published ``ssgan_speech`` / ``ssgan_face`` models."""
import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from emozoo.errors import ExportError, SchemaError

REPO = Path(__file__).resolve().parents[3]


def _tiny(shape, k=4):
    from emozoo.models.ssgan import SemiSupervisedGAN
    return SemiSupervisedGAN(k, [{"name": "x", "shape": shape, "variant": "conv", "d_channels": (4,),
                                  "g_channels": (4,)}], noise_dim=4)


def test_speech_export_matches_the_training_pipeline(tmp_path):
    """The SavedModel's in-graph Fbank/crop/pool/norm equals the store path (log_mel -> crop_frames -> pool)."""
    from emozoo.features.fbank import crop_frames, log_mel
    from emozoo.models.ssgan.ssgan_task import pool_frames
    from emozoo.models.ssgan.ssgan_zoo import WaveformPredictor, export_speech
    model = _tiny((64, 64))
    mean, std = np.linspace(-3, 1, 64).astype(np.float32), np.linspace(1, 2, 64).astype(np.float32)
    export_speech(model, mean, std, tmp_path / "m", ("neutral", "happy", "angry", "sad"))
    wave = np.sin(np.arange(24000) * 0.05).astype(np.float32) * np.linspace(0, 1, 24000, dtype=np.float32)
    crop = crop_frames(log_mel(wave[None])[0], 128, mode="center").numpy()
    x = (pool_frames(crop[None], 2) - mean) / std
    want = tf.nn.softmax(model(x)).numpy()
    pred = WaveformPredictor(tmp_path / "m", {"name": "t"})
    np.testing.assert_allclose(pred.predict(wave, sample_rate=16000), want, atol=1e-5)
    short = pred.predict(wave[:4000], sample_rate=16000)                 # shorter than 128 frames: zero-padded
    assert short.shape == (1, 4) and np.isclose(short.sum(), 1, atol=1e-5)
    assert json.loads((tmp_path / "m" / "assets" / "preprocessing.json").read_text())["input"] == "ssgan_waveform"
    with pytest.raises(SchemaError, match="sample_rate"):
        pred.predict(wave)
    with pytest.raises(SchemaError):
        pred.predict(np.zeros((2, 3), np.float32), sample_rate=16000)
    with pytest.raises(ExportError):
        export_speech(model, mean[:10], std[:10], tmp_path / "bad", ("a", "b", "c", "d"))


def test_face_export_signatures(tmp_path):
    from emozoo.models.ssgan.ssgan_zoo import export_face
    from emozoo.zoo.predictor import make_predictor
    model = _tiny((48, 48), k=7)
    export_face(model, 120.0, 60.0, tmp_path / "f", tuple("abcdefg"))
    pred = make_predictor(tmp_path / "f", {"name": "t"})                  # the zoo's "face" kind
    faces = np.random.default_rng(0).uniform(0, 255, (3, 48, 48, 1)).astype(np.float32)
    want = tf.nn.softmax(model((faces[..., 0] - 120.0) / 60.0)).numpy()
    np.testing.assert_allclose(pred.predict(faces), want, atol=1e-5)
    assert pred.embed(faces).shape == (3, model.feature_dim)


def _registry():
    reg = REPO / "saved_models" / "registry.json"
    return json.loads(reg.read_text())["models"] if reg.exists() else {}


@pytest.mark.data
@pytest.mark.skipif("ssgan_speech" not in _registry(), reason="ssgan_speech not published yet "
                    "(python pipelines/publish_ssgan_speech.py)")
def test_published_ssgan_speech_predicts_a_real_file(data_dir):
    import emozoo
    m = emozoo.load("ssgan_speech")
    assert m.labels == ("neutral", "happy", "angry", "sad")
    wav = data_dir / "ravdess" / "Actor_01" / "03-01-05-01-01-01-01.flac"     # actor 1, angry
    p = m.predict(str(wav))
    assert p.shape == (1, 4) and np.isclose(p.sum(), 1, atol=1e-4)
    assert m.predict_labels([str(wav)])[0] in m.labels
    card = m.card
    assert card["metrics"]["published_model_test"]["uar"] > 0.25 and "train_command" in card
    size = sum(f.stat().st_size for f in (REPO / "saved_models" / card["path"]).rglob("*") if f.is_file())
    assert size < 10 * 2 ** 20


@pytest.mark.data
@pytest.mark.skipif("ssgan_face" not in _registry(), reason="ssgan_face not published yet "
                    "(python pipelines/publish_ssgan_face.py)")
def test_published_ssgan_face_predicts_a_real_image(data_dir):
    import emozoo
    m = emozoo.load("ssgan_face")
    assert len(m.labels) == 7
    img = sorted((data_dir / "fer2013" / "test" / "happy").iterdir())[0]
    p = m.predict(str(img))                                     # image file: MTCNN crop, as FacePredictor does
    assert p.shape == (1, 7) and np.isclose(p.sum(), 1, atol=1e-4)
    assert m.card["metrics"]["published_model_test"]["uar"] > 1 / 7


@pytest.mark.data
@pytest.mark.skipif("ssgan_face" not in _registry(), reason="ssgan_face not published yet")
def test_published_ssgan_face_reproduces_its_card_on_privatetest(data_dir):
    """The exported classifier head gives the card's PrivateTest UAR (the training run's own score)."""
    import emozoo
    from emozoo.evaluation.metrics import uar
    from emozoo.models.ssgan.ssgan_task import load_fer2013
    m = emozoo.load("ssgan_face")
    test = load_fer2013("test", str(data_dir))
    prob = m.predict(test.x[0][..., None])
    assert uar(test.y, prob.argmax(-1), 7) == pytest.approx(m.card["metrics"]["published_model_test"]["uar"], abs=2e-3)
