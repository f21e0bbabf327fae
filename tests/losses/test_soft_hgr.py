"""Soft-HGR / H-score common loss of EMODal (emozoo.losses.soft_hgr): Must-show 1 of issue 7."""
import numpy as np
import pytest
import tensorflow as tf

from emozoo.errors import SchemaError
from emozoo.losses import SoftHGRLoss, common_loss, soft_hgr_score, soft_hgr_score_numpy


def _h_score_reference(f, g):
    """H-score written out from its definition, independently of the module: E[f^T g] - 1/2 tr(cov f cov g)."""
    f = np.asarray(f, np.float64)
    g = np.asarray(g, np.float64)
    n = len(f)
    fc = f - f.mean(axis=0)
    gc = g - g.mean(axis=0)
    e_fg = sum(float(fc[i] @ gc[i]) for i in range(n)) / n
    cov_f = np.cov(fc, rowvar=False)            # ddof=1
    cov_g = np.cov(gc, rowvar=False)
    return e_fg - 0.5 * float(np.sum(cov_f * cov_g.T))   # tr(A B) = sum_ij A_ij B_ji


def _pair(rho, n=512, d=10, seed=0):
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(n, d))
    g = rho * f + np.sqrt(1 - rho ** 2) * rng.normal(size=(n, d))
    return f.astype(np.float32), g.astype(np.float32)


def test_common_loss_matches_numpy_h_score_on_the_same_batch():
    for rho in (0.0, 0.5, 0.9):
        f, g = _pair(rho, n=64, seed=3)
        g = g * 0.7 + 0.3          # non-zero mean and other scale: the zero-mean step matters
        ref = _h_score_reference(f, g)
        assert soft_hgr_score_numpy(f, g) == pytest.approx(ref, rel=1e-9, abs=1e-9)
        assert float(soft_hgr_score(f, g)) == pytest.approx(ref, rel=1e-4, abs=1e-4)
        assert float(common_loss(f, g)) == pytest.approx(-ref, rel=1e-4, abs=1e-4)
        assert float(SoftHGRLoss(2.0)(f, g)) == pytest.approx(-2 * ref, rel=1e-4, abs=1e-4)
        assert float(SoftHGRLoss()(f, g)) == pytest.approx(-ref, rel=1e-4, abs=1e-4)   # default weight 1


def test_two_row_batch_uses_ddof_one():
    """The smallest batch (2 rows): covariances divide by n - 1 = 1 (killed mutant: max(n - 1, 2))."""
    rng = np.random.default_rng(5)
    f, g = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    ref = _h_score_reference(f, g)
    assert soft_hgr_score_numpy(f, g) == pytest.approx(ref, rel=1e-9, abs=1e-12)
    assert float(soft_hgr_score(f.astype(np.float32), g.astype(np.float32))) == pytest.approx(ref, rel=1e-4,
                                                                                               abs=1e-5)


def test_common_loss_rises_for_independent_and_falls_for_correlated_modalities():
    losses = [float(common_loss(*_pair(rho))) for rho in (0.0, 0.3, 0.6, 0.9, 1.0)]
    # independent modalities: E[f^T g] ~ 0, the trace term dominates: loss > 0 (H-score < 0)
    assert losses[0] > 0
    # the more correlated the two modalities, the lower the loss (the higher the H-score)
    assert all(a > b for a, b in zip(losses, losses[1:])), losses
    # identical standard-normal features in d = 10: H ~ d - d/2 = 5
    assert -losses[-1] == pytest.approx(5.0, abs=0.6)
    # independence: population H = -1/2 tr(I I) = -5 for unit-variance features
    assert -losses[0] == pytest.approx(-5.0, abs=0.8)


def test_training_on_the_common_loss_finds_shared_information_only_when_there_is_some():
    """Two linear feature maps trained on L_common alone: the held-out H-score becomes clearly
    positive when X and Y share a latent factor, stays <= ~0 when they are independent."""
    rng = np.random.default_rng(1)

    def data(correlated, n):
        z = rng.normal(size=(n, 3))
        x = np.concatenate([z, rng.normal(size=(n, 5))], 1) if correlated else rng.normal(size=(n, 8))
        y = np.concatenate([z, rng.normal(size=(n, 5))], 1) \
            if correlated else rng.normal(size=(n, 8))
        return x.astype(np.float32), y.astype(np.float32)

    scores = {}
    for correlated in (True, False):
        tf.random.set_seed(0)
        wf = tf.Variable(tf.random.normal((8, 4), stddev=0.1))
        wg = tf.Variable(tf.random.normal((8, 4), stddev=0.1))
        opt = tf.keras.optimizers.Adam(0.05)
        x, y = data(correlated, 256)
        for _ in range(150):
            with tf.GradientTape() as tape:
                loss = common_loss(x @ wf, y @ wg)
            opt.apply_gradients(zip(tape.gradient(loss, [wf, wg]), [wf, wg]))
        xt, yt = data(correlated, 2000)
        scores[correlated] = float(soft_hgr_score(xt @ wf, yt @ wg))
    assert scores[True] > 1.0, scores            # three shared factors: H approaches 3/2
    assert scores[False] < 0.1, scores


def test_bad_shapes_are_refused():
    f = np.zeros((8, 10), np.float32)
    with pytest.raises(SchemaError, match="batch sizes"):
        soft_hgr_score(f, np.zeros((7, 10), np.float32))
    with pytest.raises(SchemaError, match="same dimension"):
        soft_hgr_score_numpy(f, np.zeros((8, 9)))
    with pytest.raises(SchemaError, match=">= 2 pairs"):
        soft_hgr_score(f[:1], f[:1])
    with pytest.raises(SchemaError, match=r"\[batch, dim\]"):
        soft_hgr_score(np.zeros(8), np.zeros(8))
    with pytest.raises(SchemaError, match=r"\[batch, dim\]"):          # one of the two not 2-D is enough
        soft_hgr_score(f, np.zeros((8, 10, 1), np.float32))


def test_shape_checks_with_unknown_batch_and_their_messages():
    """Unknown (traced) batch sizes pass the static checks; the errors name the offending sizes;
    float64 inputs are cast (mixed dtypes work)."""
    from emozoo.losses.soft_hgr import _check
    _check((None, 3), (5, 3))
    _check((5, 3), (None, 3))
    _check((None, 3), (None, 3))
    with pytest.raises(SchemaError, match="batch sizes 8 and 7 differ"):
        _check((8, 10), (7, 10))
    with pytest.raises(SchemaError, match=">= 2 pairs, got 1$"):
        _check((1, 10), (1, 10))
    rng = np.random.default_rng(1)
    f, g = rng.normal(size=(16, 4)), rng.normal(size=(16, 4)).astype(np.float32)
    assert soft_hgr_score(f, g).dtype == tf.float32
    assert soft_hgr_score(g, f).dtype == tf.float32
    assert float(soft_hgr_score(f, g)) == pytest.approx(_h_score_reference(f, g), rel=1e-4, abs=1e-5)
