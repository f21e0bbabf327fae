"""The three settings on synthetic stores: roles of the data, target labels withheld, speaker
independence, culture balancing, registry names, one tiny end-to-end run."""
import dataclasses

import numpy as np
import pytest

from emozoo.errors import SchemaError, SplitError
from emozoo.experiments import DataConfig, apply_overrides, get_experiment, list_experiments
from emozoo.models.adv_culture.adv_culture_task import make_culture_folds, training_arrays
from tests.helpers import write_feature_store


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("cultures")
    return {"emodb": str(write_feature_store(root / "a", corpus="emodb", culture="german", speakers=4, per_class=3,
                                             dim=8, seed=1)),
            "casia": str(write_feature_store(root / "b", corpus="casia", culture="mandarin", speakers=5, per_class=4,
                                             dim=8, seed=2))}


def test_cross_culture_withholds_target_labels_and_balances_cultures(stores):
    data = DataConfig(corpora=("emodb",), target="casia", protocol="cross_corpus", stores=stores,
                      protocol_kwargs={"transductive": True}, valid_speakers=0)
    (fold,), classes = make_culture_folds(data)
    assert fold.cultures == ("emodb", "casia") and fold.labelled_cultures == (0,)
    assert set(fold.train.c) == {0} and set(fold.train.corpus) == {"emodb"} and (fold.train.y >= 0).all()
    assert set(fold.unlabelled.c) == {1} and (fold.unlabelled.y == -1).all()
    assert list(fold.test) == ["casia"] and (fold.test["casia"].y >= 0).all()
    arr = training_arrays(fold, seed=0)
    counts = np.bincount(arr.c)
    assert counts[0] == counts[1] == max(len(fold.train), len(fold.unlabelled))
    assert (arr.y[arr.c == 1] == -1).all()
    # inductive variant: the target's speakers split in halves, C never sees a tested clip
    folds, _ = make_culture_folds(dataclasses.replace(data, protocol_kwargs={"transductive": False}))
    assert len(folds) == 2
    for f in folds:
        seen = {tuple(r) for r in f.unlabelled.x.round(5)}
        assert not any(tuple(r) in seen for r in f.test["casia"].x.round(5))


def test_mono_and_multi_are_speaker_independent(stores):
    folds, _ = make_culture_folds(DataConfig(corpora=("casia",), protocol="speaker_kfold", stores=stores,
                                             protocol_kwargs={"k": 5}, valid_speakers=0))
    assert len(folds) == 5
    multi, _ = make_culture_folds(DataConfig(corpora=("emodb", "casia"), protocol="multi_corpus", stores=stores,
                                             protocol_kwargs={"k": 5}, valid_speakers=0))
    assert len(multi) == 4   # k is capped by the corpus with fewest speakers (emodb: 4)
    for f in multi:
        assert f.labelled_cultures == (0, 1) and set(f.test) == {"emodb", "casia"}
        train_x = {tuple(r) for r in f.train.x.round(5)}
        for part in f.test.values():
            assert not any(tuple(r) in train_x for r in part.x.round(5))
    with pytest.raises(SplitError):
        make_culture_folds(DataConfig(corpora=("emodb",), protocol="cross_corpus", stores=stores))


def test_registry_and_one_tiny_run_through_the_trainer(stores, tmp_path):
    names = list_experiments("adv_culture/")
    assert len([n for n in names if n.startswith("adv_culture/cross/") and n.endswith(("/is10/bsl", "/is10/adv"))]) == 12
    assert "adv_culture/cross/casia_to_ravdess/egemaps/adv" in names
    assert "adv_culture/cross/emodb_to_casia/is10/adv" in names and "adv_culture/multi/emodb+casia+ravdess/is10/bsl" in names
    assert len([n for n in names if n.startswith("adv_culture/mono/") and "/is10/" in n]) == 3
    cfg = get_experiment("adv_culture/cross/emodb_to_casia/is10/adv")
    assert cfg.model.name == "adv_culture" and cfg.model.params["mode"] == "adv"
    assert (cfg.model.params["culture_steps"], cfg.model.params["generator_steps"], cfg.model.params["alpha"]) == (1, 2, 1.0)
    tiny = ["trainer.epochs=1", "trainer.batch_size=16", "model.params.generator_units=[8,4]",
            "model.params.emotion_units=[4]", "model.params.culture_units=[4]", "trainer.tensorboard=false"]
    cfg = apply_overrides(cfg, tiny)
    cfg.data.stores = stores
    from emozoo.train.trainer import run_experiment
    s = run_experiment(cfg, tmp_path / "cross", seeds=1, log=lambda *a: None)
    assert s["test"]["num_runs"] == 1 and "test_by_corpus" not in s        # one test culture: the pooled test
    result = next((tmp_path / "cross" / "seed_0").glob("*/result.json"))
    r = __import__("json").loads(result.read_text())
    assert r["test_corpora"] == ["casia"] and sum(r["sizes"].values()) > 0
    assert sum(map(sum, r["test"]["confusion_matrix"])) == 5 * 4 * 4


def test_the_multi_culture_setting_through_the_trainer_reports_each_culture(stores, tmp_path):
    """Table 4's per-culture cells come from the one trainer: ``test_by_corpus`` per fold and, pooled over the
    folds of each seed, per culture in the summary (equal to scoring the saved predictions by hand)."""
    import json

    from emozoo.evaluation.metrics import classification_report
    from emozoo.train.trainer import run_experiment

    cfg = apply_overrides(get_experiment("adv_culture/multi/emodb+casia+ravdess/is10/adv"),
                          ["trainer.epochs=1", "trainer.batch_size=16", "model.params.generator_units=[8,4]",
                           "model.params.emotion_units=[4]", "model.params.culture_units=[4]",
                           "trainer.tensorboard=false", "model.params.num_cultures=2",
                           "model.params.culture_names=['emodb','casia']", "model.params.labelled_cultures=[0,1]"])
    cfg.data.corpora, cfg.data.stores = ("emodb", "casia"), stores
    s = run_experiment(cfg, tmp_path / "multi", seeds=2, log=lambda *a: None)
    assert set(s["test_by_corpus"]) == {"emodb", "casia"}
    for seed in (0, 1):
        preds = [np.load(p) for p in sorted((tmp_path / "multi" / f"seed_{seed}").glob("*/predictions.npz"))]
        assert len(preds) == 4
        y, p, corpus = (np.concatenate([d[k] for d in preds]) for k in ("y_true", "y_pred", "corpus"))
        for c, n in (("emodb", 4 * 3 * 4), ("casia", 5 * 4 * 4)):
            want = classification_report(y[corpus == c], p[corpus == c], s["classes"])
            got = s["test_by_corpus"][c]
            assert got["uar"]["values"][seed] == pytest.approx(want["uar"])
            assert got["accuracy"]["values"][seed] == pytest.approx(want["accuracy"])
            assert (corpus == c).sum() == n
        folds = [json.loads(f.read_text()) for f in (tmp_path / "multi" / f"seed_{seed}").glob("*/result.json")]
        assert all(set(f["test_by_corpus"]) == {"emodb", "casia"} for f in folds)
    # the pooled test is over both cultures together
    assert s["test"]["num_runs"] == 2


def test_face_settings_are_registered_with_the_shared_emotions():
    names = list_experiments("adv_culture/")
    face = [n for n in names if "/dface/" in n]
    assert {"adv_culture/mono/jaffe/dface/bsl", "adv_culture/mono/ckplus/dface/bsl",
            "adv_culture/cross/jaffe_to_ckplus/dface/bsl", "adv_culture/cross/ckplus_to_jaffe/dface/adv",
            "adv_culture/multi/jaffe+ckplus/dface/adv"} <= set(face)
    cfg = get_experiment("adv_culture/cross/ckplus_to_jaffe/dface/adv")
    # the 6 emotions JAFFE and CK+48 share; Dface stores; two cultures -> sigmoid culture output
    assert cfg.data.label_set == "6basic" and cfg.data.store_for("jaffe") == "tfrecords/jaffe_dface"
    assert cfg.model.params["num_cultures"] == 2 and cfg.model.params["culture_names"] == ["ckplus", "jaffe"]
    assert cfg.model.params["labelled_cultures"] == [0]
    multi = get_experiment("adv_culture/multi/jaffe+ckplus/dface/bsl")
    assert multi.data.corpora == ("jaffe", "ckplus") and multi.data.protocol_kwargs == {"k": 5}
    # speech experiments keep their 4 classes
    assert get_experiment("adv_culture/multi/emodb+casia+ravdess/is10/adv").data.label_set == "4class"


def test_trainer_hooks_prepare_fold_and_fold_arrays():
    """The hooks ``python -m emozoo.train`` uses (docs/methods/adv_culture_trainer.diff)."""
    from emozoo.models.adv_culture import AdversarialCultureModel
    from emozoo.train.data import Fold, FeatureTable

    rng = np.random.default_rng(0)

    def table(corpus, n, shift):
        meta = {"clip_id": np.asarray([f"{corpus}{i}" for i in range(n)]), "corpus": np.full(n, corpus),
                "speaker": np.full(n, "s"), "culture": np.full(n, corpus), "emotion": np.full(n, "x")}
        return FeatureTable(corpus, (rng.normal(size=(n, 3)) + shift).astype("float32"), rng.integers(0, 4, n), meta,
                            ("neutral", "happy", "angry", "sad"))

    src, tgt = table("emodb", 10, 0.0), table("casia", 25, 5.0)
    fold = Fold("cross", src, None, tgt, {}, unlabelled=tgt) if "unlabelled" in Fold.__dataclass_fields__ else None
    if fold is None:   # the trainer's Fold has no unlabelled field yet: attach it as the diff does
        fold = Fold("cross", src, None, tgt, {})
        fold.unlabelled = tgt
    m = AdversarialCultureModel(num_classes=4, input_dim=3, num_cultures=2, generator_units=(4,), emotion_units=(4,),
                                culture_units=(4,), culture_names=("emodb", "casia"), labelled_cultures=(0,))
    m.prepare_fold(fold)
    np.testing.assert_allclose(m.standardization.mean.numpy()[1], tgt.x.mean(0), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(m.standardization.mean.numpy()[0], src.x.mean(0), rtol=1e-4, atol=1e-4)
    inputs, y = m.fold_arrays(fold, "train", seed=0)
    c = inputs["culture"]
    assert (np.bincount(c) == 25).all() and (y[c == 1] == -1).all() and (y[c == 0] >= 0).all()
    test_inputs, test_y = m.fold_arrays(fold, "test")
    assert (test_inputs["culture"] == 1).all() and (test_y == tgt.y).all()
    with pytest.raises(SchemaError):
        AdversarialCultureModel(num_classes=4, input_dim=3, num_cultures=2, culture_names=("a", "b")).culture_index(["zz"])
