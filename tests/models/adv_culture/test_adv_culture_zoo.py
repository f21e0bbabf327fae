"""The published zoo models ``adv_culture_speech`` and ``adv_culture_face``
(python -m emozoo.publish adv_culture_{speech,face}) load with ``emozoo.load`` and predict on real files."""
import numpy as np
import pytest

import emozoo
from emozoo.errors import SchemaError
from emozoo.zoo import read_registry

NAME, FACE = "adv_culture_speech", "adv_culture_face"


def published(name):
    return pytest.mark.skipif(name not in read_registry()["models"],
                              reason=f"{name} is not published (python -m emozoo.publish {name})")


speech_published, face_published = published(NAME), published(FACE)


@pytest.fixture(scope="module")
def model():
    return emozoo.load(NAME)


@speech_published
def test_card(model):
    card = model.card
    assert card["method"] == "adv_culture" and card["label_set"] == "4class"
    assert card["command"].startswith("python -m emozoo.publish adv_culture_speech")
    assert "non-commercial" in card["licence"]
    assert set(card["metrics"]["test_cultures_adv"]) == {"emodb", "casia", "ravdess"}
    assert model.preprocessing["feature"] == "is10" and model.preprocessing["input_dim"] == 1582
    assert model.labels == ("neutral", "happy", "angry", "sad")


@speech_published
def test_random_features(model):
    x = np.random.default_rng(0).normal(size=(2, 1582)).astype("float32")
    p = model.predict(x)
    assert p.shape == (2, 4)
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)


@speech_published
def test_unknown_culture_uses_pooled_row(model):
    x = np.random.default_rng(1).normal(size=(3, 1582)).astype("float32")
    import tensorflow as tf

    pooled = model._model.serve_features_culture(features=tf.constant(x), culture=tf.constant([-1, -1, -1]))
    np.testing.assert_allclose(model.predict(x), pooled["probabilities"].numpy(), atol=1e-6)


@speech_published
@pytest.mark.data
def test_real_emodb_file(model, data_dir):
    p = model.predict(str(data_dir / "emodb" / "wav" / "03a01Wa.flac"))
    assert p.shape == (1, 4)
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)
    assert np.all(p >= 0)


@pytest.fixture(scope="module")
def face_model():
    return emozoo.load(FACE)


@face_published
def test_face_card(face_model):
    card = face_model.card
    assert type(face_model).__name__ == "FacePredictor"
    assert card["method"] == "adv_culture" and card["label_set"] == "6basic"
    assert card["command"].startswith("python -m emozoo.publish adv_culture_face")
    assert "non-commercial" in card["licence"]
    assert set(card["metrics"]["test_cultures_adv"]) == {"jaffe", "ckplus"}
    # the card carries the measured tables of every face setting (mono, cross, multi)
    tables = card["metrics"]["tables"]
    assert {"adv_culture/mono/jaffe/dface/bsl", "adv_culture/cross/jaffe_to_ckplus/dface/adv",
            "adv_culture/multi/jaffe+ckplus/dface/bsl"} <= set(tables)
    assert face_model.labels == ("angry", "disgust", "fear", "happy", "sad", "surprise")
    assert face_model.preprocessing["input"] == "face" and face_model.preprocessing["size"] == 48


@face_published
def test_face_crops_and_pooled_row(face_model):
    import tensorflow as tf

    faces = np.random.default_rng(0).uniform(0, 255, size=(3, 48, 48, 1)).astype("float32")
    p = face_model.predict(faces)
    assert p.shape == (3, 6)
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)
    pooled = face_model._model.classify_culture(face=tf.constant(faces), culture=tf.constant([-1, -1, -1]))
    np.testing.assert_allclose(p, pooled["probabilities"].numpy(), atol=1e-6)
    # the model's input features are the Dface embeddings of the zoo's dface_fer2013
    from emozoo.models.dface.dface_export import load_dface

    dface, _ = load_dface()
    np.testing.assert_allclose(face_model.embed(faces), dface.embed(tf.constant(faces))["embedding"].numpy(),
                               rtol=1e-4, atol=1e-4)
    with pytest.raises(SchemaError, match="48"):
        face_model.predict(np.zeros((1, 32, 32, 1), "float32"))


@face_published
@pytest.mark.data
def test_face_real_files(face_model, data_dir):
    files = [data_dir / "jaffe" / "KA.HA1.29.tiff", data_dir / "jaffe" / "KA.SU1.36.tiff",
             data_dir / "ckplus48" / "happy" / sorted((data_dir / "ckplus48" / "happy").iterdir())[0].name,
             data_dir / "ckplus48" / "surprise" / sorted((data_dir / "ckplus48" / "surprise").iterdir())[0].name]
    p = face_model.predict([str(f) for f in files])
    assert p.shape == (4, 6) and np.all(p >= 0)
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)
    # images the model was trained on: their (clear, posed) expressions come out right
    assert face_model.predict_labels([str(f) for f in files]) == ["happy", "surprise", "happy", "surprise"]


def test_the_recipe_trains_through_the_one_trainer(tmp_path, monkeypatch):
    """``train_and_publish`` on tiny stores: the all-labelled fold (protocol "all": every clip of every culture,
    no test side), trained by trainer.train_fold (return_model=True); the exported model is that trained
    model (same probabilities), its pooled row is the mean of all training clips, the card says so."""
    import json

    import emozoo.experiments as X
    from emozoo.models.adv_culture import adv_culture_zoo as Z
    from emozoo.train import trainer
    from tests.helpers import write_feature_store

    stores = {"emodb": str(write_feature_store(tmp_path / "a", corpus="emodb", culture="german", speakers=4,
                                               per_class=3, dim=8, seed=1)),
              "casia": str(write_feature_store(tmp_path / "b", corpus="casia", culture="mandarin", speakers=5,
                                               per_class=4, dim=8, seed=2))}
    real = X.get_experiment
    multi = "adv_culture/multi/emodb+casia+ravdess/is10/adv"

    def tiny(name):
        cfg = real(name)
        if name != multi:
            return cfg
        cfg = X.apply_overrides(cfg, ["trainer.epochs=2", "trainer.batch_size=16", "model.params.generator_units=[8,4]",
                                      "model.params.emotion_units=[4]", "model.params.culture_units=[4]",
                                      "model.params.num_cultures=2", "model.params.culture_names=['emodb','casia']",
                                      "model.params.labelled_cultures=[0,1]"])
        cfg.data.corpora, cfg.data.stores = ("emodb", "casia"), stores
        return cfg
    monkeypatch.setattr(X, "get_experiment", tiny)
    cells = {"emodb": {m: {"mean": 0.5, "std": 0.1} for m in ("accuracy", "uar", "macro_f1")} | {"num_runs": 1}}
    results = tmp_path / "benchmarks" / "results" / "adv_culture.json"
    results.parent.mkdir(parents=True)
    results.write_text(json.dumps({"config": {"seeds": 1}, "summary": {
        multi: cells, multi.replace("/adv", "/bsl"): cells}}))

    cfg, fold, classes, counts = Z.all_labelled_fold("is10", tmp_path)
    assert counts == {"emodb": 4 * 3 * 4, "casia": 5 * 4 * 4} and len(fold.train) == sum(counts.values())
    assert fold.test is None and fold.valid is None and cfg.data.protocol == "all"

    trained = []
    real_train = trainer.train_fold

    def spy(*a, **k):
        out = real_train(*a, **k)
        trained.append(out[1])
        return out
    monkeypatch.setattr(trainer, "train_fold", spy)
    entry = Z.train_and_publish("adv_culture_speech", "is10", repo=tmp_path, zoo_dir=tmp_path / "zoo",
                                command="cmd")
    (model,) = trained
    card = entry                                       # the registry entry carries the card
    assert card["training"]["clips"] == counts and card["training"]["epochs_run"] == 2
    assert card["training"]["kept_epoch"] == 1 and "culture_loss" in card["training"]["final"]
    assert card["training"]["trainer"].startswith("emozoo.train.trainer.train_fold")
    pooled = np.asarray(model.standardization.mean)[-1]
    np.testing.assert_allclose(pooled, fold.train.x.mean(0), atol=1e-4)
    import tensorflow as tf

    saved = tf.saved_model.load(str(tmp_path / "zoo" / entry["path"]))
    x = fold.train.x[:5].astype("float32")
    want = tf.nn.softmax(model(x), -1).numpy()
    np.testing.assert_allclose(saved.serve_features(features=tf.constant(x))["probabilities"].numpy(), want, atol=1e-5)
