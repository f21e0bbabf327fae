"""The published zoo model ``adv_culture_speech`` (pipelines/publish_adv_culture_speech.py) loads and predicts."""
import numpy as np
import pytest

import emozoo
from emozoo.zoo import read_registry

NAME = "adv_culture_speech"

pytestmark = pytest.mark.skipif(NAME not in read_registry()["models"],
                                reason=f"{NAME} is not published (python pipelines/publish_adv_culture_speech.py)")


@pytest.fixture(scope="module")
def model():
    return emozoo.load(NAME)


def test_card(model):
    card = model.card
    assert card["method"] == "adv_culture" and card["label_set"] == "4class"
    assert card["command"].startswith("python pipelines/publish_adv_culture_speech.py")
    assert "non-commercial" in card["licence"]
    assert set(card["metrics"]["test_cultures_adv"]) == {"emodb", "casia", "ravdess"}
    assert model.preprocessing["feature"] == "is10" and model.preprocessing["input_dim"] == 1582
    assert model.labels == ("neutral", "happy", "angry", "sad")


def test_random_features(model):
    x = np.random.default_rng(0).normal(size=(2, 1582)).astype("float32")
    p = model.predict(x)
    assert p.shape == (2, 4)
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)


def test_unknown_culture_uses_pooled_row(model):
    x = np.random.default_rng(1).normal(size=(3, 1582)).astype("float32")
    import tensorflow as tf

    pooled = model._model.serve_features_culture(features=tf.constant(x), culture=tf.constant([-1, -1, -1]))
    np.testing.assert_allclose(model.predict(x), pooled["probabilities"].numpy(), atol=1e-6)


@pytest.mark.data
def test_real_emodb_file(model, data_dir):
    p = model.predict(str(data_dir / "emodb" / "wav" / "03a01Wa.flac"))
    assert p.shape == (1, 4)
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)
    assert np.all(p >= 0)
