"""The three settings on synthetic stores: roles of the data, target labels withheld, speaker
independence, culture balancing, registry names, one tiny end-to-end run."""
import dataclasses

import numpy as np
import pytest

from emozoo.errors import SplitError
from emozoo.experiments import DataConfig, apply_overrides, get_experiment, list_experiments
from emozoo.models.adv_culture.adv_culture_task import make_culture_folds, run_setting, training_arrays
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


def test_registry_and_one_tiny_run(stores):
    names = list_experiments("adv_culture/")
    assert len([n for n in names if n.startswith("adv_culture/cross/")]) == 12
    assert "adv_culture/cross/emodb_to_casia/is10/adv" in names and "adv_culture/multi/emodb+casia+ravdess/is10/bsl" in names
    assert len([n for n in names if n.startswith("adv_culture/mono/")]) == 3
    cfg = get_experiment("adv_culture/cross/emodb_to_casia/is10/adv")
    assert cfg.model.name == "adv_culture" and cfg.model.params["mode"] == "adv"
    assert (cfg.model.params["culture_steps"], cfg.model.params["generator_steps"], cfg.model.params["alpha"]) == (1, 2, 1.0)
    cfg = apply_overrides(cfg, ["trainer.epochs=1", "trainer.batch_size=16", "model.params.generator_units=[8,4]",
                                "model.params.emotion_units=[4]", "model.params.culture_units=[4]"])
    cfg.data.stores = stores
    r = run_setting(cfg, 0)
    rep = r["per_culture"]["casia"]
    assert rep["num_examples"] == 5 * 4 * 4 and 0 <= rep["uar"] <= 1
    assert "culture_accuracy" in r["folds"][0]["final"]
