"""The published zoo model ``dann_iemocap`` (python -m emozoo.publish dann_iemocap) loads and predicts a
real IEMOCAP session-5 dialogue read from shared data."""
import json

import numpy as np
import pytest

import emozoo
from emozoo.zoo import read_registry

NAME = "dann_iemocap"

pytestmark = pytest.mark.skipif(NAME not in read_registry()["models"],
                                reason=f"{NAME} is not published (python -m emozoo.publish dann_iemocap)")
LABEL4 = {"neu": "neutral", "hap": "happy", "exc": "happy", "ang": "angry", "sad": "sad"}


@pytest.fixture(scope="module")
def model():
    return emozoo.load(NAME)


def test_card_and_signature(model):
    card = model.card
    assert card["method"] == "dann" and card["label_set"] == "4class"
    assert card["command"].startswith("python -m emozoo.publish dann_iemocap")
    assert "non-commercial" in card["licence"]
    assert 0.25 < card["metrics"]["session5_wa"] <= 1 and card["metrics"]["test_turns"] == 1242
    assert model.labels == ("neutral", "happy", "angry", "sad")
    assert model.preprocessing["input"] == "conversation" and model.input_dims == (384,)
    x = np.random.default_rng(0).normal(size=(7, 384)).astype("float32")
    p = model.predict(x)
    assert p.shape == (7, 4)
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)


def test_zoo_folder_is_small(model):
    size = sum(p.stat().st_size for p in model.path.rglob("*") if p.is_file())
    assert size < 10 * 2 ** 20, size


@pytest.mark.data
def test_real_session5_dialogue(model, data_dir):
    path = data_dir / "iemocap_text" / "dialogues.jsonl"
    if not path.exists():
        pytest.skip(f"{path} not present")
    dialogues = [json.loads(line) for line in path.open()]
    # the first session-5 dialogue with at least 10 turns of the 4 classes
    dlg = next(d for d in dialogues if d["session"] == 5 and sum(u["label"] in LABEL4 for u in d["utterances"]) >= 10)
    conversation = [{"speaker": u["speaker"], "text": u["text"]} for u in dlg["utterances"]]
    p = model.predict(conversation)
    assert p.shape == (len(conversation), 4)
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)
    turns = model.predict_turns(conversation)
    assert [t["speaker"] for t in turns] == [u["speaker"] for u in dlg["utterances"]]
    # the model recognises more than chance on the dialogue's labelled turns (4 classes)
    gold = [LABEL4.get(u["label"]) for u in dlg["utterances"]]
    hits = [t["label"] == g for t, g in zip(turns, gold) if g]
    assert len(hits) >= 10 and np.mean(hits) > 0.4, (dlg["dialogue"], np.mean(hits))
    # texts embedded at prediction time = the training store's embeddings (same encoder)
    store = model.path.parents[2] / "tfrecords" / "iemocap_text_minilm"
    if store.exists():
        from emozoo.models.dann.dann_task import load_dialogues
        stored = next(d for d in load_dialogues(store)[0] if d.dialogue_id == dlg["dialogue"])
        np.testing.assert_allclose(model.predict(stored.x), p, atol=2e-3)
