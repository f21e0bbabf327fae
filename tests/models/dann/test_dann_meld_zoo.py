"""The published zoo model ``dann_meld`` (python -m emozoo.publish dann_meld) loads and predicts a
real MELD test dialogue read from the official CSV in shared data."""
import csv

import numpy as np
import pytest

import emozoo
from emozoo.data.labels import harmonise
from emozoo.errors import SchemaError
from emozoo.zoo import read_registry

NAME = "dann_meld"
CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

pytestmark = pytest.mark.skipif(NAME not in read_registry()["models"],
                                reason=f"{NAME} is not published (python -m emozoo.publish dann_meld)")


@pytest.fixture(scope="module")
def model():
    return emozoo.load(NAME)


def test_card_and_signature(model):
    card = model.card
    assert card["method"] == "dann" and card["label_set"] == "7basic"
    assert card["command"].startswith("python -m emozoo.publish dann_meld")
    assert card["model_selection"]["criterion"].startswith("dev")
    assert 1 <= card["model_selection"]["selected_epoch"] <= card["epochs"]
    assert 0.3 < card["metrics"]["test_weighted_f1"] <= 1 and card["metrics"]["test_turns"] == 2610
    assert model.labels == CLASSES
    assert model.preprocessing["input"] == "conversation" and model.input_dims == (384,)
    x = np.random.default_rng(0).normal(size=(5, 384)).astype("float32")
    p = model.predict(x)
    assert p.shape == (5, 7)
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)
    with pytest.raises(SchemaError):
        model.predict("not a conversation")
    size = sum(f.stat().st_size for f in model.path.rglob("*") if f.is_file())
    assert size < 10 * 2 ** 20, size


@pytest.mark.data
def test_real_meld_test_dialogue(model, data_dir):
    path = data_dir / "meld" / "test_sent_emo.csv"
    if not path.exists():
        pytest.skip(f"{path} not present")
    dialogues = {}
    with open(path, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            dialogues.setdefault(int(r["Dialogue_ID"]), []).append(r)
    # the first official test dialogue with at least 12 turns
    did, rows = next((d, sorted(rs, key=lambda r: int(r["Utterance_ID"]))) for d, rs in sorted(dialogues.items())
                     if len(rs) >= 12)
    conversation = [{"speaker": r["Speaker"], "text": r["Utterance"]} for r in rows]
    p = model.predict(conversation)
    assert p.shape == (len(rows), 7)
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)
    turns = model.predict_turns(conversation)
    assert [t["speaker"] for t in turns] == [r["Speaker"] for r in rows]
    gold = [harmonise("meld", r["Emotion"]) for r in rows]
    hits = np.mean([t["label"] == g for t, g in zip(turns, gold)])
    assert hits > 0.4, (did, hits, gold, [t["label"] for t in turns])
    # texts embedded at prediction time = the training store's embeddings (same encoder)
    store = model.path.parents[2] / "tfrecords" / "meld_minilm"
    if store.exists():
        from emozoo.data.tfrecord import read_store
        want = {f"test_dia{did}_utt{r['Utterance_ID']}": i for i, r in enumerate(rows)}
        x = np.zeros((len(rows), 384), np.float32)
        for ex in read_store(store, "test", features=["clip_id", "minilm"]).as_numpy_iterator():
            if ex["clip_id"].decode() in want:
                x[want[ex["clip_id"].decode()]] = ex["minilm"]
        np.testing.assert_allclose(model.predict(x), p, atol=2e-3)
