"""Face CNN (issue 9): architecture, splits, stores, training on synthetic faces, export/zoo round trip."""
import json

import numpy as np
import pytest

from emozoo.errors import DataDirError, ExperimentError, SchemaError, SplitError
from emozoo.models.face_cnn.face_cnn_data import (CLASSES_6, load_faces, official_split, save_faces,
                                                  subject_disjoint_split)
from emozoo.models.face_cnn.face_cnn_model import build_face_cnn, guided_copy
from emozoo.models.face_cnn.face_cnn_task import TrainConfig, misclassification_rates, run_culture

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


def test_run_culture_learns_and_tests_cross_culture(tmp_path):
    stores = {"a": synthetic_store(n_subjects=5, seed=0), "b": synthetic_store(n_subjects=3, seed=1)}
    cfg = TrainConfig(epochs=4, batch_size=8, learning_rate=0.05, rotation_degrees=5.0, arch="cpu", arch_overrides=TINY)
    recs = run_culture(stores, "a", cfg, n_splits=1, out=tmp_path)
    r = recs[0]
    assert (tmp_path / "a" / "split0.weights.h5").exists()
    assert json.loads((tmp_path / "a" / "split0.json").read_text())["test_subjects"] == r["test_subjects"]
    assert len(r["history"]["train_error"]) == 4 and 0 <= r["best_epoch"] < 4
    assert r["test"]["report"]["accuracy"] >= 0.99          # separable synthetic classes are learnt
    assert r["cross"]["b"]["report"]["num_examples"] == len(stores["b"]["y"])
    assert r["cross"]["b"]["report"]["accuracy"] >= 0.9
    assert set(r["test_subjects"]).isdisjoint(set(stores["a"]["subject"][r["parts"]["train"]]))


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
