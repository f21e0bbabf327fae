"""Zoo: export, atomic publish, checksums, load, tamper refusal, list_models (synthetic model)."""
import json
import os

import numpy as np
import pytest

import emozoo
from emozoo.errors import ExportError, IntegrityError, ModelNotFoundError, SchemaError
from emozoo.export import export_feature_classifier
from emozoo.models.baseline import BaselineClassifier
from emozoo.zoo import publish, read_registry

CLASSES = ["neutral", "happy", "angry", "sad"]
CARD = {"method": "baseline", "description": "tiny test model", "training_corpora": ["synth"],
        "protocol": "all", "label_set": "4class", "licence": "test"}


@pytest.fixture(scope="module")
def tiny_model():
    m = BaselineClassifier(num_classes=4, input_dim=6, generator_units=(5,), classifier_units=(4,), dropout=0.0)
    m.fit_normalization(np.random.default_rng(0).normal(3, 2, (50, 6)))
    return m


def _publish(model, root, name="tiny"):
    return publish(name, lambda d: export_feature_classifier(model, d, classes=CLASSES, feature="is10",
                                                             input_dim=6), CARD, root)


@pytest.fixture()
def zoo(tmp_path, tiny_model):
    _publish(tiny_model, tmp_path)
    return tmp_path


def test_publish_load_predict(zoo, tiny_model):
    entry = read_registry(zoo)["models"]["tiny"]
    assert entry["path"].startswith("tiny/") and "saved_model.pb" in entry["files"]
    assert "assets/labels.json" in entry["files"] and all(len(h) == 64 for h in entry["files"].values())
    model = emozoo.load("tiny", zoo)
    assert model.labels == tuple(CLASSES) and model.card["licence"] == "test"
    x = np.random.default_rng(1).normal(3, 2, (5, 6)).astype("float32")
    p = model.predict(x)
    assert p.shape == (5, 4)
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)
    expect = np.asarray(tiny_model(x, training=False))
    np.testing.assert_allclose(np.log(p) - np.log(p).mean(1, keepdims=True),
                               expect - expect.mean(1, keepdims=True), atol=1e-4)
    assert [m["name"] for m in emozoo.list_models(zoo)] == ["tiny"]


def test_tampered_file_is_refused(zoo):
    entry = read_registry(zoo)["models"]["tiny"]
    var = next(k for k in entry["files"] if k.startswith("variables/") and k.endswith("data-00000-of-00001"))
    path = zoo / entry["path"] / var
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="tampered"):
        emozoo.load("tiny", zoo)


def test_extra_or_missing_file_is_refused(zoo):
    folder = zoo / read_registry(zoo)["models"]["tiny"]["path"]
    (folder / "assets" / "evil.py").write_text("print('x')")
    with pytest.raises(IntegrityError, match="unexpected files"):
        emozoo.load("tiny", zoo)
    (folder / "assets" / "evil.py").unlink()
    (folder / "assets" / "labels.json").unlink()
    with pytest.raises(IntegrityError, match="missing files"):
        emozoo.load("tiny", zoo)


def test_interrupted_export_leaves_registry_unchanged(zoo, tiny_model):
    before = (zoo / "registry.json").read_text()
    versions = sorted(p.name for p in (zoo / "tiny").iterdir())

    def broken(d):
        export_feature_classifier(tiny_model, d, classes=CLASSES, feature="is10", input_dim=6)
        raise KeyboardInterrupt  # killed after writing part of the model

    with pytest.raises(KeyboardInterrupt):
        publish("tiny", broken, {**CARD, "description": "new"}, zoo)
    assert (zoo / "registry.json").read_text() == before
    assert sorted(p.name for p in (zoo / "tiny").iterdir()) == versions
    assert not (zoo / ".staging").exists() or not any((zoo / ".staging").iterdir())
    emozoo.load("tiny", zoo)  # the previous model still loads


def test_republish_replaces_atomically_and_sweeps_old_versions(zoo, tiny_model):
    old = read_registry(zoo)["models"]["tiny"]["path"]
    tiny_model.standardization.mean.assign(np.ones(6, "float32"))
    new = _publish(tiny_model, zoo)["path"]
    assert new != old and not (zoo / old).exists() and (zoo / new).is_dir()
    emozoo.load("tiny", zoo)


def test_errors(zoo, tiny_model, tmp_path):
    with pytest.raises(ModelNotFoundError, match="no zoo model 'nope'"):
        emozoo.load("nope", zoo)
    with pytest.raises(ExportError, match="letters"):
        publish("../x", lambda d: None, CARD, zoo)
    with pytest.raises(ExportError, match="wrote nothing"):
        publish("empty", lambda d: os.makedirs(d), CARD, zoo)
    model = emozoo.load("tiny", zoo)
    with pytest.raises(SchemaError, match=r"\[N, 6\]"):
        model.predict_features(np.zeros((2, 5)))
    (zoo / "registry.json").write_text("{")
    with pytest.raises(IntegrityError, match="not valid JSON"):
        emozoo.load("tiny", zoo)


def test_import_emozoo_is_light():
    import subprocess
    import sys

    code = "import sys, emozoo; assert 'tensorflow' not in sys.modules; print(callable(emozoo.load))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "True" in out.stdout, out.stderr
