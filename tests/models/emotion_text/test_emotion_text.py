"""emotion_text: folds and label mapping, the head choice, export, the published zoo model, refusals,
weights handling, the CLI, and real sentences.

Tests that run the MPNet backbone skip with the install command when its weights are missing
(CI installs them); the model is loaded once per module. Tests that read the corpora carry
``@pytest.mark.data``.
"""
import csv
import json
from pathlib import Path

import numpy as np
import pytest

from emozoo.errors import EmozooError, InputRefused, SchemaError, WeightsError
from tests.models._flagship import load_or_skip, weights_or_skip

REPO = Path(__file__).resolve().parents[3]
ZOO = REPO / "saved_models"

# Written for this test (none is in the IEMOCAP or MELD transcripts: test_sentences_are_not_training_text),
# each one clearly of its class; the published model gets every one right. (Plain factual sentences are
# the 4class head's weak spot: most come out angry or sad there; docs/methods/emotion_text.md.)
SENTENCES_4 = {
    "I am so furious, get out of my face!": "angry",
    "How dare you lie to me again, I am sick of your excuses!": "angry",
    "We just got engaged and I could not be happier!": "happy",
    "This is wonderful news, I'm thrilled for you!": "happy",
    "My dog died this morning and I feel empty inside.": "sad",
    "I miss her so much, I just can't stop crying.": "sad",
    "The train leaves from platform four at ten past nine.": "neutral",
}
SENTENCES_MELD7 = {
    "I am so furious, get out of my face!": "angry",
    "We just got engaged and I could not be happier!": "happy",
    "My dog died this morning and I feel empty inside.": "sad",
    "Ew, that's disgusting, there's mold all over the sandwich!": "disgust",
    "I'm terrified, someone is trying to break into the house!": "fear",
    "Wait, what? You're pregnant?! Since when?": "surprise",
    "Please put the folders on the shelf next to the printer.": "neutral",
}


@pytest.fixture(scope="module")
def model():
    return load_or_skip("emotion_text", "mpnet")


# --- folds, label mapping, choice (no backbone) -----------------------------------------------------
def _corpus(name, classes, convs, split="train", session=1):
    from emozoo.models.dann.dann_task import Dialogue
    from emozoo.models.emotion_text.emotion_text_head import Corpus

    rng = np.random.default_rng(len(name))
    ds = []
    for i, (emos, spks) in enumerate(convs):
        ds.append(Dialogue(f"{name}{i}", [f"{name}{i}_{j}" for j in range(len(emos))],
                           rng.normal(size=(len(emos), 8)).astype(np.float32), list(emos), list(spks), session, split))
    return Corpus(name, ds, tuple(classes))


@pytest.fixture()
def toy():
    from emozoo.models.emotion_text.emotion_text_head import CLASSES_4, CLASSES_MELD7
    iem = _corpus("iemocap", CLASSES_4, [(["neutral", "", "happy", "sad"], ["S1F", "S1M", "S1F", "S1M"]),
                                         (["angry", "sad"], ["S2F", "S2M"])])
    meld = _corpus("meld", CLASSES_MELD7, [(["happy", "surprise", "angry"], ["Joey", "Ross", "Joey"]),
                                           (["sad", "neutral", "fear", "disgust"], ["Ross", "Joey", "Ann", "Ross"])])
    return {"iemocap": iem, "meld": meld}


def test_meld_maps_to_the_four_shared_classes(toy):
    from emozoo.models.emotion_text.emotion_text_head import CLASSES_4, cross_corpus_fold
    fold = cross_corpus_fold(toy, "iemocap", "meld", "ci")
    assert fold.classes == CLASSES_4
    ys = [fold.test.y[i, j] for i in range(2) for j in range(int(fold.test.mask[i].sum()))]
    # joy=happy, anger=angry, sadness=sad, neutral=neutral; surprise/fear/disgust: context (-1)
    assert ys == [1, -1, 2, 3, 0, -1, -1]
    assert fold.sizes["train_labelled"] == 5 and fold.sizes["test_labelled"] == 4
    # ci / linear train on the source only; dann adds the target's conversations, unlabelled, with domains
    assert len(fold.train.x) == 2
    adv = cross_corpus_fold(toy, "iemocap", "meld", "dann")
    assert len(adv.train.x) == 4 and adv.sizes["train_labelled"] == 5
    assert (adv.train.y[2:] == -1).all() and (adv.train.domain[2:][adv.train.mask[2:] > 0] >= 0).all()
    back = cross_corpus_fold(toy, "meld", "iemocap", "linear")
    assert back.sizes["train_labelled"] == 4 and back.sizes["test_labelled"] == 5


def test_meld7_fold_keeps_the_store_names(toy):
    from emozoo.models.emotion_text.emotion_text_head import CLASSES_MELD7, meld_fold
    for d in toy["meld"].dialogues:
        d.split = "test" if d.dialogue_id == "meld1" else "train"
    fold = meld_fold(toy, "meld7")
    assert fold.classes == CLASSES_MELD7 == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    assert fold.sizes == {**fold.sizes, "train_labelled": 3, "test_labelled": 4, "test_dialogues": 1}
    assert list(fold.test.y[0, :4]) == [4, 6, 2, 1]


def test_choice_is_the_best_mean_cross_corpus_uar():
    from emozoo.models.emotion_text.emotion_text_eval import choose
    runs = {}
    uar = {"linear": (0.40, 0.44), "ci": (0.50, 0.40), "dann": (0.47, 0.41)}
    for c, (a, b) in uar.items():
        for s in (0, 1):
            runs[f"cross/{c}/mpnet/iemocap->meld/{s}"] = {"seed": s, "uar": a + 0.01 * s}
            runs[f"cross/{c}/mpnet/meld->iemocap/{s}"] = {"seed": s, "uar": b}
    runs["session5/dann/mpnet/ts_1234/0"] = {"seed": 0, "uar": 0.99}     # never part of the choice
    ch = choose(runs)
    assert ch["head"] == "ci" and ch["seeds"] == [0, 1]
    assert ch["mean_cross_uar"]["ci"] == pytest.approx(0.4525)
    runs["cross/linear/mpnet/iemocap->meld/0"]["uar"] = 0.51                # a tie goes to the simpler head
    runs["cross/linear/mpnet/iemocap->meld/1"]["uar"] = 0.51
    assert choose(runs)["head"] in ("linear", "ci")
    del runs["cross/dann/mpnet/meld->iemocap/0"], runs["cross/dann/mpnet/meld->iemocap/1"]
    with pytest.raises(SchemaError, match="run part 'cross' first"):
        choose(runs)


def test_export_serves_both_heads_as_trained(tmp_path, toy):
    """The SavedModel's serve_4class / serve_meld7 give the trained heads' probabilities."""
    import tensorflow as tf

    from emozoo.models.emotion_text import emotion_text_head as H
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 300)
    x = rng.normal(size=(300, 8)).astype(np.float32) + 4.0 * np.eye(8)[y].astype(np.float32)
    lin = H.train_linear(x, y, 4, seed=0, epochs=100)
    assert (H.head_logits(lin, x[:, None], np.ones((300, 1)))[:, 0].argmax(-1) == y).mean() > 0.9
    from emozoo.models.dann.dann_model import DANNConversationModel
    conv = DANNConversationModel(num_classes=7, input_dims=(8,), num_domains=3, **{
        k: v for k, v in H.DANN_MODEL.items()})
    H.export_heads({"4class": lin, "meld7": conv}, tmp_path / "m", {"input": "emotion_text"}, dim=8)
    sm = tf.saved_model.load(str(tmp_path / "m"))
    xc, mask = x[None, :5], np.ones((1, 5), np.float32)
    p4 = sm.serve_4class(tf.constant(xc), tf.constant(mask))["probabilities"].numpy()
    p7 = sm.serve_meld7(tf.constant(xc), tf.constant(mask))["probabilities"].numpy()
    np.testing.assert_allclose(p4, tf.nn.softmax(H.head_logits(lin, xc, mask)).numpy(), atol=1e-5)
    np.testing.assert_allclose(p7, tf.nn.softmax(H.head_logits(conv, xc, mask)).numpy(), atol=1e-5)
    assert p4.shape == (1, 5, 4) and p7.shape == (1, 5, 7)
    pre = json.loads((tmp_path / "m" / "assets" / "preprocessing.json").read_text())
    assert pre["label_sets"]["meld7"][0] == "angry" and pre["default_label_set"] == "4class"
    assert json.loads((tmp_path / "m" / "assets" / "labels.json").read_text()) == list(H.CLASSES_4)


# --- the published model ----------------------------------------------------------------------------
def test_zoo_folder_holds_the_heads_only():
    from emozoo.zoo import read_registry
    entry = read_registry(ZOO)["models"]["emotion_text"]
    folder = ZOO / entry["path"]
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert size < 5_000_000, f"{folder} is {size} bytes: the MPNet backbone (438 MB) must not be inside it"
    assert not any(p.suffix in (".safetensors", ".bin") or p.name == "vocab.txt" for p in folder.rglob("*"))
    pre = json.loads((folder / "assets" / "preprocessing.json").read_text())
    assert pre["input"] == "emotion_text" and pre["backbone"] == "mpnet" and set(pre["label_sets"]) == {"4class", "meld7"}
    assert "non-commercial" in entry["licence"] and "GPL-3.0" in entry["licence"] and "IEMOCAP" in entry["licence"]
    assert entry["backbone"]["install"] == "python -m emozoo.weights install mpnet"
    m = entry["metrics"]
    assert m["head_choice"]["head"] == pre["head"]
    assert m["session5"]["num_seeds"] >= 3 and m["meld7_official_test"]["num_seeds"] >= 3


def test_load_through_emozoo(model):
    from emozoo.models.emotion_text.emotion_text_predictor import EmotionTextPredictor
    assert isinstance(model, EmotionTextPredictor)
    assert model.labels == ("neutral", "happy", "angry", "sad")
    assert model.label_sets["meld7"] == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def test_weights_missing_gives_the_install_command(tmp_path, monkeypatch):
    import emozoo
    weights_or_skip("mpnet")
    monkeypatch.setenv("EMOZOO_WEIGHTS_DIR", str(tmp_path / "empty"))
    with pytest.raises(WeightsError, match="python -m emozoo.weights install mpnet"):
        emozoo.load("emotion_text")


def test_refuses_empty_and_non_text(model):
    for bad, err, msg in [("", InputRefused, "turn 1 is empty"), ("  \t\n", InputRefused, "turn 1 is empty"),
                          (["fine.", "   "], InputRefused, "turn 2 is empty"),
                          ([{"speaker": "A", "text": ""}], InputRefused, "turn 1 is empty"),
                          ([("A", "hello"), ("B", None)], SchemaError, "turn 1"), ([42], SchemaError, "int"),
                          ([], SchemaError, "no utterance"), (b"bytes", SchemaError, "got bytes"),
                          ("bad\x00text", InputRefused, "NUL"), ("hi", SchemaError, "label_set")]:
        with pytest.raises(err, match=msg) as info:
            model.predict(bad, label_set="nope" if msg == "label_set" else None)
        assert isinstance(info.value, EmozooError) and "\n" not in str(info.value)


def test_utterances_vs_a_conversation(model):
    texts = ["Hi, how was the interview?", "Terrible. They laughed at me.", "Oh no, I'm so sorry."]
    single = model.predict(texts)
    assert single.shape == (3, 4)
    np.testing.assert_allclose(single.sum(-1), 1, atol=1e-5)
    # a list of strings = each its own one-turn conversation
    np.testing.assert_allclose(single, np.concatenate([model.predict(t) for t in texts]), atol=1e-5)
    conv = model.predict(texts, conversation=True)
    turns = model.predict([("A", texts[0]), ("B", texts[1]), ("A", texts[2])])
    np.testing.assert_allclose(conv, turns, atol=1e-5)
    if model.preprocessing["head"] == "linear":          # no context: a turn alone = a turn in context
        np.testing.assert_allclose(conv, single, atol=1e-5)
    else:                                                # the conversational model reads the context
        assert np.abs(conv - single).max() > 1e-3
    np.testing.assert_allclose(model.predict([("A", texts[0]), ("B", texts[1])], conversation=False),
                               single[:2], atol=1e-5)
    out = model.predict_turns([{"speaker": "Ann", "text": texts[1]}], label_set="meld7")
    assert out[0]["speaker"] == "Ann" and out[0]["label"] in model.label_sets["meld7"]
    assert abs(sum(out[0]["probabilities"].values()) - 1) < 1e-5


def test_long_turn_is_truncated_not_refused(model):
    long = "I am so angry with you. " * 400                 # ~2400 tokens, over MPNet's 384
    p = model.predict(long)
    np.testing.assert_allclose(p, model.predict("I am so angry with you. " * 70), atol=1e-4)


def test_cli_reads_a_conversation_file(model, tmp_path, capsys):
    from emozoo.predict.__main__ import main
    talk = tmp_path / "talk.txt"
    talk.write_text("A: I am so furious, get out of my face!\nB: Calm down, please.\n\nA: My dog died this morning.\n")
    assert main(["--model", "emotion_text", "--json", str(talk)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["speaker"] for r in rows] == ["A", "B", "A"] and rows[0]["prediction"] == "angry"
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps([{"speaker": "A", "text": " "}]))
    assert main(["--model", "emotion_text", str(empty)]) == 2
    assert "turn 1 is empty" in capsys.readouterr().out


# --- real data ---------------------------------------------------------------------------------------
@pytest.mark.data
def test_sentences_are_not_training_text(data_dir):
    seen = set()
    with open(data_dir / "iemocap_text" / "dialogues.jsonl", encoding="utf-8") as f:
        for line in f:
            seen.update(u["text"].strip().lower() for u in json.loads(line)["utterances"])
    for split in ("train", "dev", "test"):
        with open(data_dir / "meld" / f"{split}_sent_emo.csv", encoding="utf-8") as f:
            seen.update(r["Utterance"].strip().lower() for r in csv.DictReader(f))
    assert len(seen) > 15000
    for s in {**SENTENCES_4, **SENTENCES_MELD7}:
        assert s.lower() not in seen, f"{s!r} is a training transcript"


@pytest.mark.data
def test_clear_sentences_come_out_right(model, data_dir):
    got4 = model.predict_labels(list(SENTENCES_4))
    assert dict(zip(SENTENCES_4, got4)) == SENTENCES_4
    got7 = model.predict_labels(list(SENTENCES_MELD7), label_set="meld7")
    assert dict(zip(SENTENCES_MELD7, got7)) == SENTENCES_MELD7


@pytest.mark.data
def test_embeddings_equal_the_training_store(model, data_dir):
    """The predictor's MPNet embedding of an IEMOCAP transcript is the store's row the head was trained on."""
    from emozoo.data.tfrecord import read_store
    store = REPO / "tfrecords" / "iemocap_text_mpnet"
    if not (store / "spec.json").exists():
        pytest.skip(f"{store} not built (python -m emozoo.extract --corpus iemocap_text --features mpnet)")
    with open(data_dir / "iemocap_text" / "dialogues.jsonl", encoding="utf-8") as f:
        first = json.loads(f.readline())
    text = first["utterances"][0]["text"]
    cid = f"{first['dialogue']}_000"
    row = next(ex["mpnet"] for ex in read_store(str(store), features=["clip_id", "mpnet"]).as_numpy_iterator()
               if ex["clip_id"].decode() == cid)
    np.testing.assert_allclose(model.embed_texts([text])[0], row, atol=1e-4)
