"""DANN data assembly on a tiny synthetic conversation store: IEMOCAP TS folds (labels of the listed
sessions only, domain labels everywhere, session 5 tested), MELD-style official folds, length
buckets, one short training run, and the conversation predictor."""
import json

import numpy as np
import pytest

from emozoo.errors import FeatureError, SchemaError, SplitError
from emozoo.models.dann import dann_task as T

CLASSES = ("neutral", "happy", "angry", "sad")
D = 8


def _write_store(path, *, sessions=5, dialogues=2, split_of=None, seed=0):
    from emozoo.data.tfrecord import FeatureSpec, StoreSpec, write_store
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (4, D)).astype("float32")
    examples, rows = [], []
    for s in range(1, sessions + 1):
        for k in range(dialogues):
            did = f"Ses0{s}F_impro0{k}"
            for t in range(5 + k + s % 3):
                spk = f"Ses0{s}{'FM'[t % 2]}"
                lab = (t + k) % 5 - 1                      # -1 every fifth turn: unlabelled context
                emo = CLASSES[lab] if lab >= 0 else ""
                x = (centres[max(lab, 0)] + rng.normal(0, 0.5, D)).astype("float32")
                cid = f"{did}_{t:03d}"
                split = split_of(s) if split_of else ("test" if s == 5 else "train")
                examples.append({"clip_id": cid, "corpus": "iemocap_text", "speaker": spk, "culture": "english",
                                 "split": split, "emotion": emo, "label": lab, "dialogue_id": did, "turn_index": t,
                                 "minilm": x})
                rows.append({"clip_id": cid, "corpus": "iemocap_text", "speaker": spk, "emotion": emo,
                             "dialogue_id": did, "turn_index": t, "split": split, "extras": {"session": s}})
    rng.shuffle(rows)                                    # the loader must restore spoken order
    spec = StoreSpec.with_meta([FeatureSpec("minilm", "float32", (D,))], classes=CLASSES, label_set="4class")
    write_store(examples, path, spec, split="all")
    with open(path / "manifest.jsonl", "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return _write_store(tmp_path_factory.mktemp("conv") / "iemocap_text_minilm")


def test_load_dialogues_order_and_labels(store):
    dl, classes = T.load_dialogues(store)
    assert classes == CLASSES and len(dl) == 10
    d = next(d for d in dl if d.dialogue_id == "Ses01F_impro00")
    assert d.clip_ids == sorted(d.clip_ids) and d.x.shape == (len(d.clip_ids), D)
    assert d.session == 1 and "" in d.emotion


@pytest.mark.parametrize("setting,labelled", [("TS_1234", {1, 2, 3, 4}), ("TS_23", {2, 3})])
def test_iemocap_fold_uses_labels_of_listed_sessions_only(store, setting, labelled):
    dl, classes = T.load_dialogues(store)
    fold = T.iemocap_fold(dl, classes, setting)
    sess = np.vectorize(lambda c: int(c[4]) if c else 0)(fold.train.clip_id)
    assert set(np.unique(sess[fold.train.y >= 0])) == labelled
    # every real turn of every session has a speaker domain (labelled + unlabelled target data)
    assert ((fold.train.domain >= 0) == (fold.train.mask > 0)).all()
    assert len(fold.domains) == 10
    # test = session 5, all its labelled turns, true labels
    assert {int(c[4]) for c in fold.test.clip_id[fold.test.mask > 0]} == {5}
    assert fold.sizes["test_labelled"] == int((fold.test.y >= 0).sum()) > 0
    assert (fold.test.domain == -1).all()
    set_fold = T.iemocap_fold(dl, classes, setting, domain="set")
    assert set_fold.domains == ("train", "target")
    assert set(np.unique(set_fold.train.domain[sess == 5])) == {1}
    with pytest.raises(SplitError, match="domain"):
        T.iemocap_fold(dl, classes, setting, domain="gender")


def test_length_buckets_cover_every_conversation_once(store):
    dl, classes = T.load_dialogues(store)
    fold = T.iemocap_fold(dl, classes, "TS_1234")
    lb = T.LengthBucketBatches(fold.train, 3, seed=0, multiple=4)
    seen = []
    for inputs, y in lb:
        L = inputs["mask"].shape[1]
        assert L % 4 == 0 or L == fold.train.x.shape[1]
        assert inputs["mask"].sum(1).max() > L - 4
        seen += [tuple(r) for r in inputs["mask"]]
    assert len(seen) == len(fold.train) and len(lb) == 4


def test_short_training_run_scores_session5(store):
    dl, classes = T.load_dialogues(store)
    fold = T.iemocap_fold(dl, classes, "TS_1234")
    params = dict(fusion_units=8, gru_units=4, num_heads=2, domain_units=[8], learning_rate=1e-2)
    out = {v: T.run_conversation(fold, {**params, "grl_lambda": lam}, epochs=2, batch_size=4, seed=0)
           for v, lam in (("dann", 1.0), ("ci", 0.0))}
    assert out["dann"]["report"]["num_examples"] == fold.sizes["test_labelled"]
    assert float(out["ci"]["model"].grl.hp_lambda.numpy()) == 0.0
    assert float(out["dann"]["model"].grl.hp_lambda.numpy()) == 1.0
    assert len(out["dann"]["history"]["loss"]) == 2
    emb = T.embeddings(out["ci"]["model"], fold.train)
    assert emb["r"].shape == (int(fold.train.mask.sum()), 8) and len(emb["speaker"]) == len(emb["r"])


def test_meld_style_official_fold(tmp_path):
    split = {1: "train", 2: "train", 3: "train", 4: "valid", 5: "test"}
    path = _write_store(tmp_path / "meld_like", split_of=lambda s: split[s])
    dl, classes = T.load_dialogues(path)
    fold = T.meld_fold(dl, classes, subset="7class", min_speaker_turns=1)
    assert {c.split("_")[0][:5] for c in fold.train.clip_id[fold.train.y >= 0]} == {"Ses01", "Ses02", "Ses03"}
    with pytest.raises(SchemaError, match="lack"):
        T.meld_fold(dl, classes, subset="4class")


def test_missing_store(tmp_path):
    with pytest.raises(SchemaError, match="python -m emozoo.extract"):
        T.load_dialogues(tmp_path / "nothing")


@pytest.fixture(scope="module")
def predictor(tmp_path_factory):
    from emozoo.models.dann import DANNConversationModel
    from emozoo.models.dann.dann_predictor import ConversationPredictor
    m = DANNConversationModel(4, (D,), num_domains=2, fusion_units=8, gru_units=4, num_heads=2, domain_units=(8,))
    folder = tmp_path_factory.mktemp("zoo") / "m"
    m.export_inference(str(folder), classes=CLASSES)
    (folder / "assets" / "preprocessing.json").write_text(json.dumps(
        {"input": "conversation", "modalities": ["text"], "input_dims": [D], "text_encoder": "not-this-encoder"}))
    return ConversationPredictor(folder, {"name": "tiny"}), m


def test_predictor_on_features(predictor):
    pred, m = predictor
    x = np.random.default_rng(0).normal(size=(5, D)).astype("float32")
    p = pred.predict(x)
    assert p.shape == (5, 4)
    import tensorflow as tf
    np.testing.assert_allclose(p, tf.nn.softmax(m({"text": x[None]})[0]).numpy(), rtol=1e-5, atol=1e-6)
    assert len(pred.predict_labels(x)) == 5 and pred.embed(x).shape == (5, 8)


def test_predictor_input_errors(predictor):
    pred, _ = predictor
    with pytest.raises(SchemaError, match="not a single string"):
        pred.predict("hello")
    with pytest.raises(SchemaError, match="turn 1"):
        pred.predict([{"speaker": "F", "text": "hi"}, 3])
    with pytest.raises(SchemaError, match=r"\[L, 8\]"):
        pred.predict(np.zeros((3, 5), "float32"))
    with pytest.raises(FeatureError, match="installed encoder"):
        pred.predict([("F", "hello"), ("M", "hi there")])
    assert pred.turns([("F", "a"), {"speaker": "M", "utterance": "b"}, "c"])[1]["text"] == "b"
