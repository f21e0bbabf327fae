"""SSGAN zoo export (waveform and Dface-face SavedModels, the waveform predictor) and, on the real
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


class _FakeDface(tf.Module):
    """Stands in for the restored ``dface_fer2013``: ``embed(face)`` -> a fixed projection to 6 values."""

    def __init__(self):
        super().__init__()
        self.w = tf.Variable(np.random.default_rng(1).normal(0, 0.01, (48 * 48, 6)).astype(np.float32))

    @tf.function(input_signature=[tf.TensorSpec((None, 48, 48, 1), tf.float32)])
    def embed(self, face):
        return {"embedding": tf.reshape(face, [-1, 48 * 48]) @ self.w}


def test_face_export_has_the_backbone_and_normalisation_in_the_graph(tmp_path):
    """classify(face) == softmax(first K logits of D((Dface(face) - mean) / std)); the fake class is separate."""
    from emozoo.models.ssgan import SemiSupervisedGAN
    from emozoo.models.ssgan.ssgan_zoo import export_face
    from emozoo.zoo.predictor import make_predictor
    model = SemiSupervisedGAN(3, [{"name": "dface", "shape": (6,), "variant": "dense", "d_units": (5,),
                                   "g_units": (5,)}], noise_dim=4)
    model(np.zeros((1, 6), np.float32))
    dface = _FakeDface()
    mean, std = np.linspace(-1, 1, 6).astype(np.float32), np.linspace(0.5, 2, 6).astype(np.float32)
    export_face(model, dface, mean, std, tmp_path / "f", ("a", "b", "c"), dface_version="test")
    pred = make_predictor(tmp_path / "f", {"name": "t"})                  # the zoo's "face" kind
    faces = np.random.default_rng(0).uniform(0, 255, (3, 48, 48, 1)).astype(np.float32)
    emb = dface.embed(tf.constant(faces))["embedding"].numpy()
    logits = model.discriminate((emb - mean) / std)[1].numpy()
    np.testing.assert_allclose(pred.predict(faces), tf.nn.softmax(logits[:, :3]).numpy(), atol=1e-5)
    np.testing.assert_allclose(pred.embed(faces), emb, rtol=1e-5, atol=1e-5)
    out = pred._model.classify(tf.constant(faces))
    np.testing.assert_allclose(out["fake_probability"].numpy(), tf.nn.softmax(logits).numpy()[:, 3], atol=1e-5)
    pre = json.loads((tmp_path / "f" / "assets" / "preprocessing.json").read_text())
    assert pre["input"] == "face" and pre["size"] == 48 and "dface_fer2013/test" in pre["backbone"]
    with pytest.raises(ExportError, match="6 values"):
        export_face(model, dface, mean[:4], std[:4], tmp_path / "bad", ("a", "b", "c"))
    with pytest.raises(ExportError, match="dense"):
        export_face(_tiny((48, 48), k=3), dface, mean, std, tmp_path / "bad2", ("a", "b", "c"))


def _registry():
    reg = REPO / "saved_models" / "registry.json"
    return json.loads(reg.read_text())["models"] if reg.exists() else {}


@pytest.mark.data
@pytest.mark.skipif("ssgan_speech" not in _registry(), reason="ssgan_speech not published yet "
                    "(python -m emozoo.publish ssgan_speech)")
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
                    "(python -m emozoo.publish ssgan_face)")
def test_published_ssgan_face_classifies_real_jaffe_and_ckplus_images(data_dir):
    """Image file -> MTCNN crop -> Dface (in the SavedModel) -> dense SSGAN D/C: the right labels on a
    JAFFE happy face and a held-out CK+ surprise face (subject S026: fold 0's test group)."""
    import emozoo
    m = emozoo.load("ssgan_face")
    assert m.labels == ("angry", "disgust", "fear", "happy", "sad", "surprise")
    imgs = [data_dir / "jaffe" / "KA.HA1.29.tiff", data_dir / "ckplus48" / "surprise" / "S026_001_00000015.png"]
    p = m.predict([str(i) for i in imgs])
    assert p.shape == (2, 6) and np.allclose(p.sum(-1), 1, atol=1e-4)
    assert m.predict_labels([str(i) for i in imgs]) == ["happy", "surprise"]
    card = m.card
    assert card["backbone"]["name"] == "dface_fer2013" and card["label_set"] == "6basic"
    assert card["metrics"]["published_model_test"]["uar"] > 0.8
    assert card["metrics"]["table"]["50%"]["ssgan"]["n"] == 5
    size = sum(f.stat().st_size for f in (REPO / "saved_models" / card["path"]).rglob("*") if f.is_file())
    assert size < 10 * 2 ** 20


@pytest.mark.data
@pytest.mark.skipif("ssgan_face" not in _registry(), reason="ssgan_face not published yet")
def test_published_ssgan_face_embeds_like_the_training_store(data_dir):
    """The in-graph Dface embedding of a JAFFE image equals what the jaffe_dface store holds for it
    (what D was trained on): read from the store when it was built here, else computed by the
    store's own extractor (``python -m emozoo.extract --features dface``) for that one image."""
    import emozoo
    m = emozoo.load("ssgan_face")
    store = REPO / "tfrecords" / "jaffe_dface"
    if (store / "spec.json").exists():
        from emozoo.train.data import load_table
        t = load_table(str(store), "dface")
        i = [k for k, c in enumerate(np.asarray(t.meta["clip_id"]).astype(str)) if "KA.HA1.29" in c]
        assert len(i) == 1
        want = t.x[i[0]]
    else:
        from emozoo.data.corpora.base import load_manifest
        from emozoo.features.registry import get_extractor
        rows = [r for r in load_manifest("jaffe", data_dir=str(data_dir)) if "KA.HA1.29" in r.clip_id]
        assert len(rows) == 1
        want = np.asarray(get_extractor("dface").compute(rows[0]))
    got = m.embed(str(data_dir / "jaffe" / "KA.HA1.29.tiff"))[0]
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3 * np.abs(want).max())
