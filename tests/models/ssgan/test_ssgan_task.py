"""ssgan_task (splits, labelled fractions, the four normalisations, training with the trainer's model
selection, SSBase pseudo-labels) and fuzzy labels (sec. IV-B), on tiny synthetic data."""
import json

import numpy as np
import pytest

from emozoo.errors import LabelError, SchemaError, SplitError
from emozoo.models.ssgan import fuzzy_labels as F
from emozoo.models.ssgan import ssgan_task as T


def test_speaker_folds_disjoint_and_complete():
    spk = np.repeat([f"s{i}" for i in range(10)], 3)
    folds = T.speaker_folds(spk, k=5, seed=0)
    assert len(folds) == 5
    for f in folds:
        sets = [set(spk[f[p]]) for p in ("train", "valid", "test")]
        assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
        assert len(f["train"]) + len(f["valid"]) + len(f["test"]) == len(spk)
    assert set().union(*[set(spk[f["test"]]) for f in folds]) == set(spk)
    with pytest.raises(SplitError):
        T.speaker_folds(spk, k=11)


def test_labelled_fraction_stratified():
    y = np.array([0] * 20 + [1] * 10 + [2] * 5 + [-1] * 4)
    lab, rest = T.labelled_fraction(y, 0.2, seed=1)
    assert np.bincount(y[lab]).tolist() == [4, 2, 1]
    assert sorted(np.concatenate([lab, rest]).tolist()) == list(range(len(y)))
    assert (y[rest] == -1).sum() == 4                      # unlabelled clips stay in the rest
    assert not np.array_equal(lab, T.labelled_fraction(y, 0.2, seed=2)[0])
    with pytest.raises(SplitError):
        T.labelled_fraction(y, 0.0, seed=0)


def test_normalisation_strategies():
    rng = np.random.default_rng(0)
    lab = T.Pool([rng.normal(3, 2, (50, 4)).astype(np.float32)], np.zeros(50, int), np.array(["a"] * 50))
    unl = T.Pool([rng.normal(-5, 0.5, (40, 4)).astype(np.float32)], -np.ones(40, int), np.array(["b"] * 40))
    test = T.Pool([rng.normal(3, 2, (10, 4)).astype(np.float32)], np.zeros(10, int), np.array(["c"] * 10))
    axes = [(0,)]
    mu, sd = lab.x[0].mean(0), lab.x[0].std(0)
    l, u, (t,), st = T.normalise(lab, unl, [test], "none", axes)
    np.testing.assert_allclose(u.x[0], unl.x[0])                                  # unlabelled left raw
    np.testing.assert_allclose(t.x[0], (test.x[0] - mu) / sd, rtol=1e-4, atol=1e-5)
    _, u, _, _ = T.normalise(lab, unl, [test], "self", axes)
    np.testing.assert_allclose(u.x[0].mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(u.x[0].std(0), 1, atol=1e-3)
    _, u, _, _ = T.normalise(lab, unl, [test], "shift", axes)
    np.testing.assert_allclose(u.x[0], (unl.x[0] - mu) / sd, rtol=1e-4, atol=1e-5)
    l, u, _, st = T.normalise(lab, unl, [test], "combine", axes)
    both = np.concatenate([l.x[0], u.x[0]])
    np.testing.assert_allclose(both.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(st[0][0], np.concatenate([lab.x[0], unl.x[0]]).mean(0), rtol=1e-4)
    with pytest.raises(SchemaError):
        T.normalise(lab, unl, [], "zca", axes)


def _blobs():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 3, (3, 6))

    def pool(n, labelled=True):
        y = np.arange(n) % 3
        x = (centres[y] + rng.normal(size=(n, 6))).astype(np.float32)
        return T.Pool([x], y if labelled else -np.ones(n, int), np.array(["s"] * n))
    return pool(30), pool(60, False), pool(30)


def _tiny_gan():
    import keras

    from emozoo.models.ssgan import SemiSupervisedGAN
    keras.utils.set_random_seed(0)
    m = SemiSupervisedGAN(3, [{"name": "f", "shape": (6,), "d_units": (16,), "g_units": (16,)}], noise_dim=8,
                          learning_rate=5e-3)
    m.compile(run_eagerly=True)
    return m


def test_fit_selected_pseudo_label_and_score(tmp_path):
    """Selection by the trainer's ModelSelection in the model's folder; the best weights are loaded back."""
    lab, unl, val = _blobs()
    m = _tiny_gan()
    sel = T.fit_selected(m, lab, unl, val, ("a", "b", "c"), tmp_path / "ssgan", steps=10, eval_every=5, batch=8,
                         unlabelled_batch=8, seed=0)
    assert len(sel["curve"]) == len(sel["history"]) == 2 and sel["best_step"] in (5, 10)
    assert sel["best_val_uar"] == pytest.approx(max(c[1] for c in sel["curve"]), abs=1e-4)
    assert {"fake_loss", "generator_loss", "val_uar", "step"} <= set(sel["history"][0])
    state = json.loads((tmp_path / "ssgan" / "selection.json").read_text())
    assert (state["best_epoch"] + 1) * 5 == sel["best_step"] and (tmp_path / "ssgan" / "best.weights.h5").exists()
    report = T.score(m, val, ("a", "b", "c"))
    assert report["uar"] == pytest.approx(sel["best_val_uar"])          # selected weights restored
    assert {"confusion_matrix", "macro_f1_uar_map", "per_class"} <= set(report)
    pseudo = T.pseudo_label(m, unl, threshold=0.0)
    assert len(pseudo) == len(unl) and pseudo.y.min() >= 0
    assert len(T.pseudo_label(m, unl, threshold=1.01)) == 0


def test_fit_selected_keeps_the_first_of_equal_validation_uars(tmp_path, monkeypatch):
    """SSGAN's rule: best validation UAR, the first of equal values (no tie-break on a loss), no early stop."""
    lab, unl, val = _blobs()
    scores = iter([0.5, 0.7, 0.7, 0.7, 0.2, 0.1])      # the validation UAR of each evaluation (the model is still run)
    monkeypatch.setattr(T, "_uar", lambda model, pool, classes: (T.predict_proba(model, pool.x), next(scores))[1])
    m = _tiny_gan()
    sel = T.fit_selected(m, lab, unl, val, ("a", "b", "c"), tmp_path / "sel", steps=12, eval_every=2, batch=8,
                         unlabelled_batch=8, seed=0)
    assert [c[0] for c in sel["curve"]] == [2, 4, 6, 8, 10, 12]       # six evaluations: nothing stopped early
    assert sel["best_step"] == 4 and sel["best_val_uar"] == 0.7
    # a stale selection of an interrupted attempt does not leak into a new one
    scores = iter([0.1, 0.2])
    monkeypatch.setattr(T, "_uar", lambda model, pool, classes: (T.predict_proba(model, pool.x), next(scores))[1])
    again = T.fit_selected(_tiny_gan(), lab, unl, val, ("a", "b", "c"), tmp_path / "sel", steps=4, eval_every=2,
                           batch=8, unlabelled_batch=8, seed=0)
    assert (again["best_step"], again["best_val_uar"]) == (4, 0.2)


def test_model_selection_without_a_tie_break_keeps_the_first_of_equal_values(tmp_path):
    """``ModelSelection(tie_break="")`` (SSGAN) keeps the first epoch of equal monitor values; the
    default ``tie_break="val_loss"`` takes a later one with a lower loss."""
    import keras

    from emozoo.train.callbacks import ModelSelection
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    logs = [{"val_uar": 0.5, "val_loss": 1.0}, {"val_uar": 0.7, "val_loss": 0.9}, {"val_uar": 0.7, "val_loss": 0.4},
            {"val_uar": 0.6, "val_loss": 0.3}]
    best = {}
    for tie in ("", "val_loss"):
        sel = ModelSelection(tmp_path / (tie or "none"), patience=0, tie_break=tie)
        sel.set_model(model)
        sel.on_train_begin()
        for epoch, entry in enumerate(logs):
            sel.on_epoch_end(epoch, dict(entry))
        assert not sel.should_stop()
        best[tie] = sel.state["best_epoch"]
    assert best == {"": 1, "val_loss": 2}


def test_fuzzy_labels_as_in_the_paper():
    soft = F.votes_to_soft([[0, 2, 2], [0, 1], [1]], 3)              # ratings 2, 4, 5 -> [0.33, 0, 0.67]
    np.testing.assert_allclose(soft[0], [1 / 3, 0, 2 / 3], rtol=1e-6)
    np.testing.assert_allclose(soft[1], [0.5, 0.5, 0])
    # argmax at test time; a tie counts both classes as correct
    truth = F.tie_aware_truth(soft, np.array([2, 1, 0]))
    assert truth.tolist() == [2, 1, 1]
    assert F.tie_aware_truth(soft, np.array([1, 2, 1])).tolist() == [2, 0, 1]
    assert F.level_votes([("E3", [2.0, 4.5, 3.0]), ("E4", [2.5, None, 1.0]), ("F1", [5.0, 1.0, 3.0])],
                         "valence") == [0, 1, 2]
    assert F.level_votes([[2.0, 4.5, 3.0], [2.5, None, 1.0]], "arousal") == [2]
    with pytest.raises(LabelError):
        F.votes_to_soft([[]], 3)
    with pytest.raises(LabelError):
        F.votes_to_soft([[3]], 3)
    with pytest.raises(LabelError):
        F.level_votes([[1, 2, 3]], "pleasure")


def test_iemocap_fuzzy_levels_from_the_release_layout(tmp_path):
    """The paper's IEMOCAP pipeline (per-annotator 3-level votes -> fuzzy labels) on the official layout fixture."""
    from emozoo.data.corpora.base import load_manifest
    from tests.data.corpora.official_layouts import make_iemocap_release
    make_iemocap_release(tmp_path / "IEMOCAP_full_release", sessions=(1,), dialogues_per_session=1,
                         turns_per_dialogue=2, wav=True, video=False)
    m = load_manifest("iemocap", tmp_path / "IEMOCAP_full_release")
    ids, soft = F.iemocap_fuzzy_labels(m, "valence")
    assert len(ids) == len(m) == 2
    np.testing.assert_allclose(soft.sum(1), 1.0)
    row = next(r for r in m if r.clip_id == ids[0])
    votes = F.level_votes(row.extras["annotator_dims"], "valence")
    assert len(votes) == 3                                              # E3, E4 and the self-evaluation
    np.testing.assert_allclose(soft[0], F.votes_to_soft([votes], 3)[0])
