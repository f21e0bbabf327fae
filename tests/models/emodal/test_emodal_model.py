"""EMODalModel (Zhang et al. 2018): tiny configs, losses of train_step, variants, trainer hooks, errors."""
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from emozoo.errors import ExperimentError, SchemaError
from emozoo.losses.soft_hgr import soft_hgr_score_numpy
from emozoo.models.emodal import EMODalModel
from tests.helpers import run_model_checks

DENSE = dict(num_classes=4, input_dim=12, audio_dim=8, visual_dim=4, visual_branch="dense",
             audio_units=(6, 5), visual_units=(5,), feature_dim=3, dropout=0.0)
CNN = dict(num_classes=3, audio_dim=6, visual_branch="cnn", image_size=16, conv_filters=(2, 2, 2), fc_units=4,
           audio_units=(4, 4), feature_dim=3)


def _xy(n=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 12)).astype("float32"), rng.integers(0, 4, n).astype("int32")


def test_dense_branch_passes_the_shared_model_checks(tmp_path):
    x, y = _xy()
    model = run_model_checks(EMODalModel, DENSE, x, y, tmp_path, expected_output_shape=(16, 4))
    # the architecture of sec. 2: audio 6-5-(feature 3), visual 5-(3), softmax heads on [f, g], g and f
    assert [l.units for l in model.audio_network.layers if hasattr(l, "units")] == [6, 5, 3]
    assert model.classify_head.kernel.shape == (6, 4)
    assert model.audio_head.kernel.shape == (3, 4) and model.visual_head.kernel.shape == (3, 4)


def test_cnn_branch_architecture_and_training_step_with_augmentation():
    model = EMODalModel(**{**CNN, "augmentation": {"flip": True, "rotation": 0.05, "translation": 0.1,
                                                   "contrast": 0.2}})
    assert [type(l).__name__ for l in model.image_augmentation.layers] == [
        "RandomFlip", "RandomRotation", "RandomTranslation", "RandomContrast"]
    convs = [l for l in model.visual_network.layers if isinstance(l, keras.layers.Conv2D)]
    pools = [l for l in model.visual_network.layers if isinstance(l, keras.layers.MaxPooling2D)]
    assert len(convs) == 3 and all(c.kernel_size == (3, 3) for c in convs) and len(pools) == 3
    names = [type(l).__name__ for l in model.visual_network.layers[-4:]]
    assert names == ["Flatten", "Dense", "Dropout", "Dense"] and model.visual_network.layers[-1].units == 3
    rng = np.random.default_rng(0)
    x = {"audio": rng.normal(size=(8, 6)).astype("float32"),
         "image": rng.integers(0, 256, (8, 16, 16, 1)).astype("float32")}
    y = rng.integers(0, 3, 8)
    assert model(x).shape == (8, 3)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    logs = model.train_on_batch(x, y, return_dict=True)
    for key in ("loss", "common_loss", "hgr_score", "classify_loss", "audio_specific_loss", "visual_specific_loss",
                "accuracy", "uar"):
        assert np.isfinite(logs[key]), (key, logs)
    with pytest.raises(SchemaError, match="CNN branch"):
        model(np.zeros((2, 6), "float32"))
    with pytest.raises(SchemaError, match="faces must be grey"):
        model({"audio": x["audio"], "image": np.zeros((8, 15, 15, 1), "float32")})


def test_total_loss_is_the_weighted_sum_and_common_loss_is_minus_the_h_score():
    x, y = _xy(32, seed=1)
    m = EMODalModel(**{**DENSE, "common_weight": 0.5, "classify_weight": 2.0, "specific_weight": 0.25})
    m.fit_normalization(x)
    out = m.compute_losses(x, tf.constant(y))
    fa, fv = m.features(x)
    assert float(out["common"]) == pytest.approx(-soft_hgr_score_numpy(fv.numpy(), fa.numpy()), abs=1e-4)
    want = 0.5 * out["common"] + 2.0 * out["classify"] + 0.25 * (out["audio_specific"] + out["visual_specific"])
    assert float(out["total"]) == pytest.approx(float(want), rel=1e-5)
    ablation = EMODalModel(**{**DENSE, "use_common": False})
    ablation.set_weights(m.get_weights())
    out2 = ablation.compute_losses(x, tf.constant(y))
    assert float(out2["common"]) == pytest.approx(float(out["common"]), abs=1e-5)   # still logged
    assert float(out2["total"]) == pytest.approx(float(out2["classify"] + out2["audio_specific"]
                                                       + out2["visual_specific"]), rel=1e-5)   # not trained on


def test_single_modality_models_read_only_their_part():
    x, y = _xy()
    audio = EMODalModel(**{**DENSE, "modalities": "audio"})
    visual = EMODalModel(**{**DENSE, "modalities": "visual"})
    assert audio.visual_network is None and audio.classify_head is None
    assert visual.audio_network is None
    x2 = x.copy()
    x2[:, 8:] += 5.0                       # change the visual part only
    np.testing.assert_allclose(audio(x), audio(x2), rtol=1e-6)
    assert not np.allclose(visual(x), visual(x2))
    out = audio.compute_losses(x, tf.constant(y))
    assert float(out["total"]) == pytest.approx(float(out["audio_specific"]))
    assert float(out["common"]) == 0.0


def test_training_learns_a_paired_synthetic_task_and_the_common_loss_keeps_features_correlated():
    """Both modalities carry the class. With the common loss the H-score of the learnt features stays
    >= ~0 while the classify loss falls; without it (ablation) the cross-entropies blow the feature
    scale up and the H-score collapses (its trace term grows with the 4th power of the scale)."""
    rng = np.random.default_rng(0)
    n = 256
    y = rng.integers(0, 4, n)
    centres_a, centres_v = rng.normal(0, 2, (4, 8)), rng.normal(0, 2, (4, 4))
    x = np.concatenate([centres_a[y] + rng.normal(size=(n, 8)), centres_v[y] + rng.normal(size=(n, 4))], 1)
    x = x.astype("float32")
    h_score, hist = {}, {}
    for use_common in (True, False):
        keras.utils.set_random_seed(0)
        m = EMODalModel(**{**DENSE, "learning_rate": 1e-2, "use_common": use_common})
        m.fit_normalization(x)
        m.compile()
        hist[use_common] = m.fit(x, y, epochs=8, batch_size=32, verbose=0).history
        fa, fv = m.features(x)
        h_score[use_common] = soft_hgr_score_numpy(fv.numpy(), fa.numpy())
        assert hist[use_common]["classify_loss"][-1] < 0.5 * hist[use_common]["classify_loss"][0]
        assert (m.predict_proba(x).argmax(-1) == y).mean() > 0.8
    assert h_score[True] > -0.2 and h_score[False] < -5.0, h_score
    assert hist[True]["common_loss"][-1] < 0.2 < hist[False]["common_loss"][-1]


def test_augmentation_is_configurable_and_checked():
    m = EMODalModel(**{**CNN, "augmentation": {"flip": True}})
    assert [type(l).__name__ for l in m.image_augmentation.layers] == ["RandomFlip"]
    assert EMODalModel(**CNN).image_augmentation is None
    d = EMODalModel(**{**DENSE, "augmentation": {"feature_noise": 0.1}})
    xa, _ = _xy(4)
    fa1, _ = d.features(xa, augment=True)
    fa2, _ = d.features(xa, augment=False)
    assert not np.allclose(fa1, fa2)
    assert EMODalModel.from_config(m.get_config()).augmentation == m.augmentation
    with pytest.raises(ExperimentError, match="unknown augmentation"):
        EMODalModel(**{**DENSE, "augmentation": {"mixup": 1}})


@pytest.mark.parametrize("kwargs, match", [
    ({"modalities": "text"}, "modalities"),
    ({"visual_branch": "rnn"}, "visual_branch"),
    ({"visual_dim": None}, "visual_dim"),
    ({"input_dim": 13}, "input_dim 13"),
    ({"dropout": 1.0}, "dropout"),
    ({"num_classes": 1}, "num_classes"),
])
def test_bad_configs_are_refused(kwargs, match):
    with pytest.raises(ExperimentError, match=match):
        EMODalModel(**{**DENSE, **kwargs})


def test_bad_inputs_are_refused():
    m = EMODalModel(**DENSE)
    with pytest.raises(SchemaError, match=r"\[B, 12\]"):
        m(np.zeros((2, 11), "float32"))
    with pytest.raises(SchemaError, match="'visual'"):
        m({"audio": np.zeros((2, 8), "float32")})
    with pytest.raises(SchemaError, match="audio features have dimension 7"):
        m({"audio": np.zeros((2, 7), "float32"), "visual": np.zeros((2, 4), "float32")})


def test_experiments_are_registered_and_run_through_the_trainer(tmp_path):
    from emozoo.experiments import apply_overrides, get_experiment
    from emozoo.models import discover
    from emozoo.models.emodal import emodal_experiments as E
    from emozoo.train.trainer import run_experiment
    from tests.helpers import write_feature_store

    discover()
    for c in E.STORES:
        for v in E.VARIANTS:
            cfg = get_experiment(E.experiment_name(c, v))
            assert cfg.data.protocol == "speaker_kfold" and cfg.data.protocol_kwargs == {"k": 6}
            assert cfg.model.params["audio_units"] == [128, 64] and cfg.model.params["feature_dim"] == 10
    assert get_experiment(E.experiment_name("4class", "both_nocommon")).model.params["use_common"] is False
    store = write_feature_store(tmp_path / "synth", dim=12, speakers=4, per_class=4, feature=E.FEATURE)
    cfg = apply_overrides(get_experiment(E.experiment_name("4class", "both")), [
        f"data.stores={json.dumps({'ravdess_av': str(store)})}", "data.corpora=synth", "data.protocol_kwargs={\"k\": 2}",
        "data.valid_speakers=1", "model.params.audio_dim=8", "model.params.visual_dim=4",
        "model.params.audio_units=[4]", "model.params.visual_units=[4]", "trainer.epochs=2",
        "trainer.batch_size=16", "trainer.tensorboard=true", "trainer.projector_examples=20"])
    cfg.data.stores = {"synth": str(store)}
    summary = run_experiment(cfg, tmp_path / "run", seeds=1, log=lambda *a: None)
    assert summary["test"]["num_runs"] == 1 and summary["folds"] == ["kfold2/0", "kfold2/1"]
    from tensorflow.core.util import event_pb2
    tags = set()
    for f in (tmp_path / "run").glob("seed_0/kfold2_0/logs/train/events*"):
        for rec in tf.data.TFRecordDataset(str(f)):
            tags.update(v.tag for v in event_pb2.Event.FromString(rec.numpy()).summary.value)
    # every loss of the paper is a TensorBoard scalar
    assert {"epoch_common_loss", "epoch_hgr_score", "epoch_classify_loss", "epoch_audio_specific_loss",
            "epoch_visual_specific_loss", "epoch_loss", "epoch_uar"} <= tags, tags
    # the table's entry is read from this run folder (the layout of emodal/table1/*, pipelines/emodal_table.py)
    from emozoo.models.emodal import emodal_tables as table_script
    table = table_script.table_entry(tmp_path / "run")
    assert table["summary"] == summary["test"] and np.sum(table["confusion_sum"]) == 64   # every clip tested once
    folds = table["per_seed"][0]["folds"]
    assert [f["fold"] for f in folds] == ["kfold2/0", "kfold2/1"]
    for f, name in zip(folds, ("kfold2_0", "kfold2_1")):
        sel = json.loads((tmp_path / "run" / "seed_0" / name / "selection.json").read_text())
        assert f["best_epoch"] == sel["best_epoch"] + 1 and f["epochs_run"] == len(sel["epochs"])
        assert f["final_train"]["loss"] == pytest.approx(sel["epochs"][sel["best_epoch"]]["loss"], abs=1e-4)
        assert set(f["final_train"]) == set(table_script.TRAIN_KEYS)
