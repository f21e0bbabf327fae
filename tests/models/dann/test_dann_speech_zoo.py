"""The published zoo model ``dann_speech`` (python -m emozoo.publish dann_speech) loads with
``emozoo.load`` and predicts real EmoDB and CASIA files (IS10 computed in Python with openSMILE)."""
import numpy as np
import pytest

import emozoo
from emozoo.errors import EmozooError
from emozoo.zoo import read_registry

NAME = "dann_speech"

pytestmark = pytest.mark.skipif(NAME not in read_registry()["models"],
                                reason=f"{NAME} is not published (python -m emozoo.publish dann_speech)")


@pytest.fixture(scope="module")
def model():
    return emozoo.load(NAME)


def test_card_and_graph(model):
    card = model.card
    assert card["method"] == "dann" and card["label_set"] == "4class"
    assert card["command"].startswith("python -m emozoo.publish dann_speech")
    assert "non-commercial" in card["licence"]
    loso = card["metrics"]["loso"]
    assert set(loso) == {"emodb", "casia", "ravdess"}
    for corpus, folds in (("emodb", 10), ("casia", 4), ("ravdess", 24)):
        for variant in ("ci", "dann"):
            cell = loso[corpus][variant]
            assert cell["folds"] == folds and cell["num_seeds"] >= 3
            assert 0.25 < cell["uar"]["mean"] <= 1
    assert card["training"]["clips"] == {"emodb": 339, "casia": 800, "ravdess": 672}
    assert model.preprocessing["input"] == "features" and model.preprocessing["feature"] == "is10"
    assert model.input_dim == 1582 and model.labels == ("neutral", "happy", "angry", "sad")
    # inference path only: no gradient reversal, no speaker (domain) classifier in the exported graph
    names = {v.name.split("/")[0] for v in model._model.variables}
    assert {"standardization", "encoder", "emotion_classifier"} <= names
    assert not any("domain" in n for n in names), names
    # ExportArchive also names its only endpoint ``serving_default``
    assert set(model._model.signatures) == {"serve_features", "serving_default"}
    size = sum(p.stat().st_size for p in model.path.rglob("*") if p.is_file())
    assert size < 10 * 2 ** 20, size


def test_bad_input(model):
    with pytest.raises(EmozooError):
        model.predict(np.zeros((2, 7), np.float32))
    with pytest.raises(EmozooError):
        model.predict(np.zeros(16000, np.float32))   # a waveform without its sample_rate


@pytest.mark.data
def test_real_emodb_and_casia_files(model, data_dir):
    emodb = data_dir / "emodb" / "wav" / "03a01Wa.flac"        # W = Aerger (angry)
    casia = data_dir / "casia" / "liuchanhg" / "sad" / "201.flac"
    for f in (emodb, casia):
        if not f.exists():
            pytest.skip(f"{f} not present")
    p = model.predict([str(emodb), str(casia)])
    assert p.shape == (2, 4)
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)
    # both clips are training clips of the published model (trained on all clips): it must fit them
    assert model.predict_labels([str(emodb), str(casia)]) == ["angry", "sad"]
    # a waveform at another rate goes through the same resampling + IS10 path
    from emozoo.data.audio import load_audio, resample

    wav = load_audio(str(emodb), 16000)
    wav = wav[0] if isinstance(wav, tuple) else wav
    np.testing.assert_allclose(model.predict(wav, sample_rate=16000), p[:1], atol=1e-5)
    q = model.predict(resample(np.asarray(wav, np.float32), 16000, 22050), sample_rate=22050)
    assert q.shape == (1, 4) and q.argmax() == 2
