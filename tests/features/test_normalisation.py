"""Culture-specific z-normalisation (seed 000) and the none/self/shift/combine strategies (seed 003)."""
import numpy as np
import pytest
import tensorflow as tf

from emozoo.errors import FeatureError
from emozoo.features.normalisation import CultureNormalizer, ZStats, apply_strategy, fit_strategy


def _two_cultures(seed=0):
    rng = np.random.default_rng(seed)
    de = rng.normal([5.0, -2.0, 0.0], [2.0, 0.5, 1.0], size=(40, 3))
    zh = rng.normal([-3.0, 8.0, 0.0], [0.3, 4.0, 1.0], size=(30, 3))
    de[:, 2] = 7.0                                               # a constant dimension in one culture
    return de, zh


def test_culture_normalizer_uses_each_cultures_training_statistics():
    de, zh = _two_cultures()
    x = np.concatenate([de, zh])
    cultures = ["german"] * 40 + ["mandarin"] * 30
    norm = CultureNormalizer().fit(x, cultures)
    out = norm.transform(x, cultures)
    np.testing.assert_allclose(out[:40, :2].mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(out[:40, :2].std(0), 1, atol=1e-6)
    np.testing.assert_allclose(out[40:].mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(out[:40, 2], 0.0)                 # constant dim: centred, divided by 1
    # test clips use the training statistics, not their own
    test = np.array([[5.0, -2.0, 7.0], [-3.0, 8.0, 0.0]])
    got = norm.transform(test, ["german", "mandarin"])
    np.testing.assert_allclose(got[0], (test[0] - de.mean(0)) / np.where(de.std(0) < 1e-6, 1, de.std(0)),
                               rtol=1e-5)
    np.testing.assert_allclose(got[1], (test[1] - zh.mean(0)) / zh.std(0), rtol=1e-5)


def test_unseen_cultures_save_load_and_tf(tmp_path):
    de, zh = _two_cultures()
    x = np.concatenate([de, zh])
    cultures = ["german"] * 40 + ["mandarin"] * 30
    norm = CultureNormalizer().fit(x, cultures)
    other = np.array([[1.0, 2.0, 3.0], [2.0, 3.0, 5.0]])
    with pytest.raises(FeatureError, match="no training clips"):
        norm.transform(other, ["english", "english"])
    glob = CultureNormalizer(unseen="global").fit(x, cultures)
    np.testing.assert_allclose(glob.transform(other, ["english"] * 2), ZStats.fit(x).apply(other), rtol=1e-6)
    own = CultureNormalizer(unseen="self").fit(x, cultures).transform(other, ["english"] * 2)
    np.testing.assert_allclose(own.mean(0), 0, atol=1e-6)

    loaded = CultureNormalizer.load(glob.save(tmp_path / "norm.json"))
    np.testing.assert_allclose(loaded.transform(x, cultures), glob.transform(x, cultures), rtol=1e-6)
    tf_out = glob.tf_transform(tf.constant(np.concatenate([x, other]), tf.float32),
                               tf.constant(cultures + ["english"] * 2)).numpy()
    np.testing.assert_allclose(tf_out[:70], glob.transform(x, cultures), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(tf_out[70:], glob.transform(other, ["english"] * 2), rtol=1e-4, atol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError):
        norm.tf_transform(tf.constant(other, tf.float32), tf.constant(["english"] * 2))


def test_strategies_follow_seed_003():
    rng = np.random.default_rng(1)
    labelled = rng.normal(2.0, 3.0, size=(50, 4))
    unlabelled = rng.normal(-5.0, 0.5, size=(80, 4))
    test = rng.normal(2.0, 3.0, size=(10, 4))
    lab_stats = ZStats.fit(labelled)

    lab, unl = fit_strategy("none", labelled, unlabelled)
    assert unl is None
    l_out, u_out, (t_out,) = apply_strategy("none", labelled, unlabelled, [test])
    np.testing.assert_allclose(u_out, unlabelled.astype(np.float32))
    np.testing.assert_allclose(t_out, lab_stats.apply(test))

    _, u_self, _ = apply_strategy("self", labelled, unlabelled)
    np.testing.assert_allclose(u_self.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(u_self.std(0), 1, atol=1e-5)

    _, u_shift, _ = apply_strategy("shift", labelled, unlabelled)
    np.testing.assert_allclose(u_shift, lab_stats.apply(unlabelled), rtol=1e-6)
    assert u_shift.mean() < -1.5                                  # the corpus gap stays visible

    l_comb, u_comb, _ = apply_strategy("combine", labelled, unlabelled)
    both = np.concatenate([l_comb, u_comb])
    np.testing.assert_allclose(both.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(both.std(0), 1, atol=1e-5)
    with pytest.raises(FeatureError, match="strategy"):
        fit_strategy("minmax", labelled, unlabelled)


def test_frame_level_statistics_and_bad_input():
    frames = [np.full((3, 2), 1.0), np.full((5, 2), 3.0)]
    stats = ZStats.fit(frames)
    assert stats.count == 8
    np.testing.assert_allclose(stats.mean, [2.25, 2.25])
    with pytest.raises(FeatureError, match="dims"):
        stats.apply(np.zeros((4, 3)))
    with pytest.raises(FeatureError, match="NaN"):
        ZStats.fit(np.array([[np.nan, 1.0]]))
    with pytest.raises(FeatureError, match="not fitted"):
        CultureNormalizer().transform(np.zeros((1, 2)), ["german"])
    with pytest.raises(FeatureError, match="culture labels"):
        CultureNormalizer().fit(np.zeros((3, 2)), ["a", "b"])


def test_tf_data_step_for_clip_and_frame_level_features():
    de, zh = _two_cultures()
    x = np.concatenate([de, zh]).astype(np.float32)
    cultures = np.array(["german"] * 40 + ["mandarin"] * 30)
    norm = CultureNormalizer().fit(x, cultures)
    expected = norm.transform(x, cultures)
    ds = tf.data.Dataset.from_tensor_slices({"is10": x, "culture": cultures}).map(norm.map_fn("is10"))
    got = np.stack([ex["is10"] for ex in ds.as_numpy_iterator()])
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    batched = tf.data.Dataset.from_tensor_slices({"is10": x, "culture": cultures}).batch(16)
    got_b = np.concatenate([ex["is10"] for ex in batched.map(norm.map_fn("is10")).as_numpy_iterator()])
    np.testing.assert_allclose(got_b, expected, rtol=1e-4, atol=1e-5)
    # frame-level: [frames, dims] of one clip, one culture
    frames = np.stack([zh[0], zh[1], zh[2]]).astype(np.float32)
    out = norm.tf_transform(tf.constant(frames), tf.constant("mandarin")).numpy()
    np.testing.assert_allclose(out, norm.transform(frames, ["mandarin"] * 3), rtol=1e-4, atol=1e-5)
