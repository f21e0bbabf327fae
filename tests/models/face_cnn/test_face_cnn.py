"""Face CNN (issue 9): architecture, splits, stores, training through the one trainer (FaceCNNTask) on
synthetic faces, model selection, export/zoo round trip."""
import json

import numpy as np
import pytest

from emozoo.errors import DataDirError, ExperimentError, SchemaError, SplitError
from emozoo.models.face_cnn.face_cnn_data import (CLASSES_6, load_faces, official_split, save_faces,
                                                  subject_disjoint_split)
from emozoo.models.face_cnn.face_cnn_model import build_face_cnn, guided_copy
from emozoo.models.face_cnn.face_cnn_task import TrainConfig, misclassification_rates

TINY = dict(filters=(4, 4, 8), kernel_size=3, dense_units=8, dropout=0.0)


def synthetic_store(n_subjects=6, per_class=3, seed=0, classes=2):
    """Faces whose class is a bright band (row block k), with per-image noise."""
    rng = np.random.default_rng(seed)
    xs, ys, subj = [], [], []
    for s in range(n_subjects):
        for k in range(classes):
            for _ in range(per_class):
                img = rng.integers(40, 90, (48, 48, 1))
                img[8 + 16 * k: 8 + 16 * k + 12] += 140
                xs.append(img.clip(0, 255))
                ys.append(k)
                subj.append(f"S{s}")
    n = len(ys)
    lm = np.tile(np.array([[16, 18], [32, 18], [24, 26], [18, 36], [30, 36]], np.float32), (n, 1, 1))
    return {"x": np.asarray(xs, np.uint8), "y": np.asarray(ys, np.int32), "classes": np.asarray(CLASSES_6[:classes]),
            "subject": np.asarray(subj), "clip_id": np.asarray([f"c{i}" for i in range(n)]),
            "source": np.asarray(["full"] * n), "split": np.asarray([""] * n), "landmarks": lm}


def test_architecture_of_the_paper():
    m = build_face_cnn(6)                                           # Khorrami sizes
    convs = [l for l in m.layers if l.name.startswith("conv")]
    assert [c.filters for c in convs] == [64, 128, 256] and all(c.kernel_size == (5, 5) for c in convs)
    assert [l.name for l in m.layers if l.name.startswith("pool")] == ["pool1", "pool2", "pool3"]
    assert m.get_layer("fc").units == 300 and m.output_shape == (None, 6)
    assert m.get_layer("pool3").output.shape[1:] == (6, 6, 256)
    # augmentation is flip + rotation only (Section 3.3), no crop / zoom / translation
    aug = {type(l).__name__ for l in m.layers if type(l).__name__.startswith("Random")}
    assert aug == {"RandomFlip", "RandomRotation"}


def test_softmax_output_and_guided_copy_has_the_same_forward():
    cfg = dict(num_classes=3, **TINY)
    m = build_face_cnn(**cfg)
    x = np.random.default_rng(0).integers(0, 256, (4, 48, 48, 1)).astype("float32")
    p = m(x, training=False).numpy()
    np.testing.assert_allclose(p.sum(-1), 1.0, rtol=1e-5)
    g = guided_copy(m, cfg)
    assert type(g.get_layer("relu1")).__name__ == "GuidedReLU"
    np.testing.assert_allclose(g(x, training=False).numpy(), p, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kwargs", [dict(filters=(4, 4)), dict(image_size=44), dict(dropout=1.0)])
def test_bad_architecture_is_refused(kwargs):
    with pytest.raises(ExperimentError):
        build_face_cnn(3, **kwargs)
    with pytest.raises(ExperimentError, match="architecture"):
        TrainConfig(arch="huge").model_config(3)


def test_subject_disjoint_splits():
    subj = np.repeat([f"S{i}" for i in range(10)], 3)
    a = subject_disjoint_split(subj, seed=1)
    sets = {k: set(subj[v]) for k, v in a.items()}
    assert not (sets["train"] & sets["valid"] or sets["train"] & sets["test"] or sets["valid"] & sets["test"])
    assert sorted(np.concatenate(list(a.values()))) == list(range(30))
    assert (len(sets["train"]), len(sets["valid"]), len(sets["test"])) == (6, 2, 2)
    b = subject_disjoint_split(subj, seed=1)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert any(not np.array_equal(a[k], subject_disjoint_split(subj, seed=2)[k]) for k in a)
    with pytest.raises(SplitError):
        subject_disjoint_split(["a", "a", "b"], seed=0)
    with pytest.raises(SplitError):
        official_split(np.asarray(["train", "valid"]))


def test_store_round_trip_and_errors(tmp_path):
    d = synthetic_store(n_subjects=3, per_class=1)
    save_faces(tmp_path / "s", d, {"corpus": "synth"})
    back = load_faces(tmp_path / "s")
    np.testing.assert_array_equal(back["x"], d["x"])
    assert list(back["subject"]) == list(d["subject"])
    with pytest.raises(DataDirError, match="face_cnn_prepare"):
        load_faces(tmp_path / "missing")
    bad = dict(d, x=d["x"][:, :40])
    save_faces(tmp_path / "bad", bad, {})
    with pytest.raises(SchemaError):
        load_faces(tmp_path / "bad")


def test_misclassification_rates_table4():
    m = misclassification_rates([[8, 2], [1, 4]])
    assert m["per_class"] == pytest.approx([20.0, 20.0]) and m["total"] == pytest.approx(100 * 3 / 15)


ARCH = {"filters": [4, 4, 8], "kernel_size": 3, "dense_units": 8, "dropout": 0.0}


def culture_config(root, *extra):
    """``face_cnn/culture/jaffe/cpu`` on two synthetic cultures ``a`` (trained) and ``b`` (cross test)."""
    import json as _json

    from emozoo.experiments import apply_overrides, get_experiment

    stores = {"a": save_faces(root / "face_cnn_a", synthetic_store(n_subjects=5, seed=0), {}),
              "b": save_faces(root / "face_cnn_b", synthetic_store(n_subjects=3, seed=1), {})}
    return apply_overrides(get_experiment("face_cnn/culture/jaffe/cpu"), [
        'data.corpora=["a","b"]', f"data.stores={_json.dumps({k: str(v) for k, v in stores.items()})}",
        "trainer.epochs=4", "trainer.batch_size=8", "optimizer.learning_rate=0.05", "model.params.rotation_degrees=5.0",
        f"model.params.arch_overrides={_json.dumps(ARCH)}", *extra])


@pytest.fixture(scope="module")
def culture_run(tmp_path_factory):
    """One trainer run of the culture experiment (2 seeds = allocations 0 and 1, 4 epochs)."""
    from emozoo.train.trainer import run_experiment

    root = tmp_path_factory.mktemp("face_cnn_culture")
    cfg = culture_config(root)
    summary = run_experiment(cfg, root / "run", seeds=2, log=lambda *a: None)
    return cfg, root / "run", summary


def test_task_learns_and_tests_cross_culture(culture_run):
    from emozoo.experiments import get_runner, get_task
    from emozoo.models.face_cnn.face_cnn_task import FaceCNNTask
    from emozoo.train.trainer import load_run

    assert get_runner("face_cnn") is None and isinstance(get_task("face_cnn"), FaceCNNTask)
    cfg, run, summary = culture_run
    store = load_faces(cfg.data.store_for("a"))
    assert summary["seeds"] == [0, 1] and summary["folds"] == ["a"]
    assert summary["test"]["accuracy"]["mean"] >= 0.99              # separable synthetic classes are learnt
    assert set(summary["extra_tests"]) == {"b"} and summary["extra_tests"]["b"]["num_runs"] == 2
    assert summary["extra_tests"]["b"]["accuracy"]["mean"] >= 0.9    # and recognised in the other "culture"
    for seed in (0, 1):
        r = json.loads((run / f"seed_{seed}" / "a" / "result.json").read_text())
        # trainer seed k = allocation k, drawn as subject_disjoint_split(seed=k)
        want = subject_disjoint_split(store["subject"], seed=seed, fractions=(0.6, 0.2, 0.2))
        assert {k: list(v) for k, v in want.items()} == r["parts"]
        assert r["test_subjects"] == sorted(set(store["subject"][want["test"]]))
        assert set(r["test_subjects"]).isdisjoint(set(store["subject"][r["parts"]["train"]]))
        assert r["test"]["num_examples"] == len(want["test"]) and "confusion_matrix" in r["test"]
        assert r["extra_tests"]["b"]["num_examples"] == 3 * 2 * 3
        assert r["test"]["misclassification"]["total"] == pytest.approx(100 * (1 - r["test"]["accuracy"]))
        assert len(r["history"]["train_error"]) == len(r["epoch_seconds"]) == r["epochs_run"] == 4
        # the selected epoch: best validation accuracy, ties -> lower validation loss (Section 4.1)
        val = list(zip(r["history"]["val_error"], r["history"]["val_loss"]))
        assert r["best_epoch"] == min(range(4), key=lambda e: (round(val[e][0], 6), val[e][1]))
        assert r["seed"] == seed and r["train_config"]["epochs"] == 4 and r["model_config"]["filters"] == [4, 4, 8]
        assert (run / f"seed_{seed}" / "a" / "best.weights.h5").exists()
        assert len(json.loads((run / f"seed_{seed}" / "a" / "selection.json").read_text())["epochs"]) == 4
    loaded = load_run(run)
    assert [s["seed"] for s in loaded["seeds"]] == [0, 1] and loaded["seeds"][1]["folds"][0]["fold"] == "a"


def test_task_resume_skips_a_finished_seed(culture_run, tmp_path, monkeypatch):
    import shutil

    from emozoo.models.face_cnn.face_cnn_task import FaceCNNTask
    from emozoo.train.trainer import run_experiment

    cfg, run, summary = culture_run
    shutil.copytree(run, tmp_path / "run")
    trained = []
    real = FaceCNNTask.train_fold
    monkeypatch.setattr(FaceCNNTask, "train_fold", lambda self, *a, **kw: trained.append(a[4]) or real(self, *a, **kw))
    again = run_experiment(cfg, tmp_path / "run", seeds=3, log=lambda *a: None)
    assert trained == [2]                                   # seeds 0 and 1 were read back, seed 2 trained
    assert again["test"]["accuracy"]["values"][:2] == summary["test"]["accuracy"]["values"]
    assert again["extra_tests"]["b"]["num_runs"] == 3


def test_zoo_card_and_table_read_the_trainer_run(culture_run):
    import pipelines.face_cnn_table as T
    from emozoo.models.face_cnn.face_cnn_export import model_from_config
    from emozoo.models.face_cnn.face_cnn_zoo import culture_card

    cfg, run, summary = culture_run
    mcfg, weights, classes, card = culture_card(run, "face_cnn_jaffe")
    r0 = json.loads((run / "seed_0" / "a" / "result.json").read_text())
    assert weights == run / "seed_0" / "a" / "best.weights.h5" and classes == r0["classes"]
    m = card["metrics"]
    assert m["split0_test_accuracy"] == r0["test"]["accuracy"] and m["split0_test_subjects"] == r0["test_subjects"]
    assert m["test_accuracy_2_splits"]["mean"] == pytest.approx(summary["test"]["accuracy"]["mean"])
    assert m["cross_culture_accuracy_2_splits"]["b"]["mean"] == pytest.approx(
        summary["extra_tests"]["b"]["accuracy"]["mean"])
    # the exported weights are the selected model: they give the recorded test predictions
    store = load_faces(cfg.data.store_for("a"))
    test = np.asarray(r0["parts"]["test"])
    pred = model_from_config(mcfg, weights)(store["x"][test].astype("float32"), training=False).numpy().argmax(-1)
    assert (pred == store["y"][test]).mean() == pytest.approx(r0["test"]["accuracy"])
    entry = T.culture_summary({"a": run})["a"]
    assert entry["splits"] == 2 and entry["accuracy"] == summary["test"]["accuracy"]["values"]
    assert entry["cross"]["b"]["accuracy"] == summary["extra_tests"]["b"]["accuracy"]["values"]
    assert "2 random subject-disjoint" in T.markdown({"jaffe": entry}, {}, "runs")


def test_task_fer2013_official_split(tmp_path):
    from emozoo.experiments import apply_overrides, get_experiment
    from emozoo.train.trainer import run_experiment

    d = synthetic_store(n_subjects=6, seed=2)
    d["split"] = np.random.default_rng(5).choice(["train", "train", "train", "valid", "test"], len(d["y"]))
    cfg = apply_overrides(get_experiment("face_cnn/fer2013/cpu"), [
        f'data.stores={json.dumps({"fer2013": str(save_faces(tmp_path / "fer", d, {}))})}', "trainer.epochs=3",
        "trainer.batch_size=8", "optimizer.learning_rate=0.05", f"model.params.arch_overrides={json.dumps(ARCH)}",
        "model.params.eval_every_steps=2"])
    s = run_experiment(cfg, tmp_path / "run", seeds=1, log=lambda *a: None)
    r = json.loads((tmp_path / "run" / "seed_0" / "official" / "result.json").read_text())
    parts = official_split(d["split"])
    assert s["folds"] == ["official"] and "extra_tests" not in s
    assert r["test"]["num_examples"] == len(parts["test"]) and r["valid"]["num_examples"] == len(parts["valid"])
    assert r["sizes"] == {k: len(v) for k, v in parts.items()} and "parts" not in r
    steps = -(-len(parts["train"]) // 8) * 3
    assert [p["step"] for p in r["step_curve"]] == list(range(2, steps + 1, 2))      # Fig. 4 points
    from emozoo.models.face_cnn.face_cnn_zoo import fer_card
    import pipelines.face_cnn_table as T

    _, weights, _, card = fer_card(tmp_path / "run", "face_cnn_fer2013")   # the zoo's card of the run
    assert card["metrics"]["selected_seed"] == 0 and weights == tmp_path / "run" / "seed_0" / "official" / "best.weights.h5"
    assert card["metrics"]["fer2013_public_test_accuracy"] == r["valid"]["accuracy"]
    fer = T.fer_summary(tmp_path / "run")                                    # the table script's numbers
    assert fer["private_test_accuracy"] == [r["test"]["accuracy"]] and fer["step_curves"] == [r["step_curve"]]
    with pytest.raises(ExperimentError, match="protocols are subject_split and official"):
        run_experiment(apply_overrides(cfg, ["data.protocol=loso"]), tmp_path / "bad", seeds=1, log=lambda *a: None)


def test_model_selection_keeps_the_best_accuracy_ties_lower_loss():
    """The trainer's ModelSelection as the face CNN configures it selects the epoch the paper's rule
    (and the face CNN's earlier callback) does, over random runs with coarse accuracies (many ties)."""
    from emozoo.models.face_cnn.face_cnn_task import model_selection

    rng = np.random.default_rng(0)
    for _ in range(300):
        n = int(rng.integers(1, 12))
        acc = rng.integers(0, 4, n) / 7.0                           # 7 validation faces: coarse steps
        loss = rng.choice([0.5, 0.7, 0.9], n)                         # equal losses happen too
        sel = model_selection("unused", write=False)          # what fit_face_cnn trains with
        sel.on_train_begin()
        for e in range(n):
            sel.on_epoch_end(e, {"val_accuracy": np.float32(acc[e]), "val_loss": np.float32(loss[e])})
        best = None
        for e in range(n):                                           # the rule: (accuracy, -loss) strictly better
            key = (float(np.float32(acc[e])), -float(np.float32(loss[e])))
            if best is None or key > best[0]:
                best = (key, e)
        assert sel.state["best_epoch"] == best[1], (acc, loss)


def test_export_publish_and_face_predictor(tmp_path):
    import emozoo
    from emozoo.models.face_cnn.face_cnn_export import export_face_cnn, load_face_cnn
    from emozoo.zoo import publish

    cfg = dict(num_classes=2, **TINY)
    m = build_face_cnn(**cfg)
    publish("face_cnn_tiny", lambda d: export_face_cnn(m, cfg, ["angry", "disgust"], d),
            {"method": "face_cnn", "description": "test"}, tmp_path)
    x = synthetic_store(n_subjects=1, per_class=2)["x"].astype("float32")
    pred = emozoo.load("face_cnn_tiny", tmp_path)
    assert type(pred).__name__ == "FacePredictor"
    np.testing.assert_allclose(pred.predict(x), m(x, training=False).numpy(), rtol=1e-5, atol=1e-6)
    assert pred.embed(x).shape == (4, 8)
    model, guided, classes, _ = load_face_cnn("face_cnn_tiny", tmp_path)
    assert classes == ["angry", "disgust"]
    np.testing.assert_allclose(model(x, training=False).numpy(), pred.predict(x), rtol=1e-5, atol=1e-6)
