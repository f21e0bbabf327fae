"""The none/self/shift/combine normalisation strategies (seed 003); seed 000's culture-specific
z-normalisation is CultureStandardization (tests/models/adv_culture)."""
import numpy as np
import pytest

from emozoo.errors import FeatureError
from emozoo.features.normalisation import ZStats, apply_strategy, fit_strategy


def test_one_culture_normalisation_implementation():
    """Culture-specific z-normalisation lives in one place (CultureStandardization, issue 17)."""
    import emozoo.features.normalisation as n
    assert not hasattr(n, "CultureNormalizer")


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
