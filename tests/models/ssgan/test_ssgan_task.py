"""ssgan_task (splits, labelled fractions, the four normalisations, training with selection,
SSBase pseudo-labels) and fuzzy labels (sec. IV-B), on tiny synthetic data."""
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


def test_fit_select_pseudo_label_and_score():
    import keras

    from emozoo.models.ssgan import SemiSupervisedGAN
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 3, (3, 6))

    def pool(n, labelled=True):
        y = np.arange(n) % 3
        x = (centres[y] + rng.normal(size=(n, 6))).astype(np.float32)
        return T.Pool([x], y if labelled else -np.ones(n, int), np.array(["s"] * n))
    lab, unl, val = pool(30), pool(60, False), pool(30)
    mods = [{"name": "f", "shape": (6,), "d_units": (16,), "g_units": (16,)}]
    m = SemiSupervisedGAN(3, mods, noise_dim=8, learning_rate=5e-3)
    m.compile(run_eagerly=True)
    sel = T.fit_select(m, lab, unl, val, ("a", "b", "c"), steps=10, eval_every=5, batch=8, unlabelled_batch=8,
                       seed=0)
    assert len(sel["curve"]) == 2 and sel["best_step"] in (5, 10)
    assert sel["best_val_uar"] == pytest.approx(max(c[1] for c in sel["curve"]), abs=1e-4)
    assert T.score(m, val, ("a", "b", "c"))["uar"] == pytest.approx(sel["best_val_uar"])   # selected weights restored
    pseudo = T.pseudo_label(m, unl, threshold=0.0)
    assert len(pseudo) == len(unl) and pseudo.y.min() >= 0
    assert len(T.pseudo_label(m, unl, threshold=1.01)) == 0


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
