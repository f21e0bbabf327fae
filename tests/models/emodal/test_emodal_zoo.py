"""Zoo model emodal_ravdess_av: committed checksums and card, loads with emozoo.load, predicts on the real npz."""
import numpy as np
import pytest

from emozoo.errors import SchemaError
from tests.conftest import corpus_dir

NAME = "emodal_ravdess_av"


@pytest.fixture(scope="module")
def predictor():
    import emozoo
    from emozoo.zoo import read_registry

    if NAME not in read_registry()["models"]:
        pytest.fail(f"{NAME} is not in saved_models/registry.json: run python -m emozoo.publish emodal_ravdess_av")
    return emozoo.load(NAME)


def test_card_and_inputs(predictor):
    from emozoo.models.emodal.emodal_video import EMODalFeaturePredictor

    assert isinstance(predictor, EMODalFeaturePredictor)
    assert predictor.labels == ("neutral", "happy", "angry", "sad")
    card = predictor.card
    assert card["method"] == "emodal" and "non-commercial" in card["licence"]
    assert card["command"].startswith("python -m emozoo.publish emodal_ravdess_av")
    both = card["metrics"]["variants"]["both"]
    assert both["num_seeds"] == 5 and 0.25 < both["accuracy"]["mean"] <= 1
    assert predictor.audio_dim == 259 and predictor.visual_dim == 35
    assert sum(p.stat().st_size for p in predictor.path.rglob("*") if p.is_file()) < 10e6
    x = np.random.default_rng(0).normal(size=(3, 294)).astype("float32")
    flat = predictor.predict(x)
    np.testing.assert_allclose(flat, predictor.predict({"audio": x[:, :259], "visual": x[:, 259:]}), rtol=1e-6)
    np.testing.assert_allclose(flat.sum(1), 1, atol=1e-5)
    with pytest.raises(SchemaError, match=r"\[N, 294\]"):
        predictor.predict(np.zeros((2, 290)))
    with pytest.raises(SchemaError, match="same N"):
        predictor.predict({"audio": np.zeros((2, 259)), "visual": np.zeros((3, 35))})
    with pytest.raises(SchemaError, match="NaN"):
        predictor.predict(np.full((1, 294), np.nan))


@pytest.mark.data
def test_predicts_on_the_real_ravdess_av_file(predictor, data_dir):
    from emozoo.data.corpora.ravdess_av import load_features

    path = corpus_dir(data_dir, "ravdess_av_features") / "au_mfcc_features.npz"
    probs = predictor.predict(path)                       # every clip of the real file
    arrays = load_features(path)
    assert probs.shape == (len(arrays["clip_id"]), 4)
    codes = {1: "neutral", 3: "happy", 5: "angry", 4: "sad"}
    keep = np.isin(arrays["emotion_code"], list(codes))
    truth = np.asarray([predictor.labels.index(codes[int(c)]) for c in arrays["emotion_code"][keep]])
    # the model saw 22 of the 24 actors: well above chance (0.25) on the 4-class clips
    assert (probs[keep].argmax(1) == truth).mean() > 0.6
    one = predictor.predict({"audio": arrays["X_audio_mfcc"][:1], "visual": arrays["X_visual_au"][:1]})
    np.testing.assert_allclose(one, probs[:1], rtol=1e-5, atol=1e-6)
