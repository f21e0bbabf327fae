"""K+1 losses (emozoo.losses.kplus1) against a numpy computation of eq. 2/4/5 on a fixed batch."""
import numpy as np
import pytest
import tensorflow as tf

from emozoo.errors import SchemaError
from emozoo.losses import kplus1

RNG = np.random.default_rng(3)
K = 4
LAB = RNG.normal(0, 2, (6, K + 1)).astype(np.float32)      # labelled logits (K classes + fake)
REAL = RNG.normal(0, 2, (10, K + 1)).astype(np.float32)    # labelled + unlabelled
FAKE = RNG.normal(0, 2, (8, K + 1)).astype(np.float32)
Y = np.array([0, 1, 2, 3, 1, 0])


def _softmax(l):
    e = np.exp(l - l.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_terms_equal_numpy():
    p_lab, p_real, p_fake = _softmax(LAB.astype(np.float64)), _softmax(REAL.astype(np.float64)), \
        _softmax(FAKE.astype(np.float64))
    sup = -np.mean(np.log(p_lab[np.arange(6), Y]))                    # -E log D(y|x')
    fake = -np.mean(np.log(p_fake[:, K]))                              # -E log D(K+1|G(z))
    real = -np.mean(np.log(1 - p_real[:, K]))                          # -E log(1 - D(K+1|x))
    np.testing.assert_allclose(kplus1.supervised_loss(LAB, Y).numpy(), sup, rtol=1e-5)
    np.testing.assert_allclose(kplus1.fake_loss(FAKE).numpy(), fake, rtol=1e-5)
    np.testing.assert_allclose(kplus1.real_loss(REAL).numpy(), real, rtol=1e-5)
    t = kplus1.discriminator_loss(LAB, Y, REAL, FAKE, consistency=0.5, lam=2.0)
    np.testing.assert_allclose(t["total"].numpy(), sup + fake + real + 2.0 * 0.5, rtol=1e-5)
    # eq. 3 (saturating generator loss, replaced by eq. 5 in the paper)
    np.testing.assert_allclose(kplus1.saturating_generator_loss(FAKE).numpy(), -np.mean(np.log(1 - p_fake[:, K])),
                               rtol=1e-5)
    # FSBase: plain K-class cross-entropy on the first K logits
    pk = _softmax(LAB[:, :K].astype(np.float64))
    np.testing.assert_allclose(kplus1.classifier_loss(LAB, Y).numpy(), -np.mean(np.log(pk[np.arange(6), Y])),
                               rtol=1e-5)


def test_fuzzy_targets_and_feature_matching():
    q = np.array([[1 / 3, 0, 2 / 3, 0], [0.5, 0.5, 0, 0]] * 3, np.float32)
    p = _softmax(LAB.astype(np.float64))[:, :K]
    np.testing.assert_allclose(kplus1.supervised_loss(LAB, q).numpy(), -np.mean((q * np.log(p)).sum(-1)), rtol=1e-5)
    # one-hot soft targets give the integer-label loss
    np.testing.assert_allclose(kplus1.supervised_loss(LAB, np.eye(K)[Y]).numpy(),
                               kplus1.supervised_loss(LAB, Y).numpy(), rtol=1e-6)
    hf, hr = RNG.normal(size=(8, 5)).astype(np.float32), RNG.normal(size=(10, 5)).astype(np.float32)
    np.testing.assert_allclose(kplus1.feature_matching_loss(hf, hr).numpy(),
                               np.sum((hf.mean(0) - hr.mean(0)) ** 2), rtol=1e-5)


def test_stable_for_large_logits():
    big = np.array([[500.0, -500.0, 0.0, 0.0, -500.0]], np.float32)
    assert np.isfinite(kplus1.real_loss(big).numpy()) and kplus1.real_loss(big).numpy() < 1e-6
    assert np.isfinite(kplus1.fake_loss(big).numpy())


@pytest.mark.parametrize("logits,labels", [(np.zeros((4, 5, 1)), np.zeros(4, int)),
                                           (np.zeros((4, 2)), np.zeros(4, int)),
                                           (np.zeros((4, 5)), np.zeros((4, 3))),
                                           (np.zeros((4, 5)), np.zeros(4, np.float32))])
def test_bad_shapes_raise(logits, labels):
    with pytest.raises(SchemaError):
        kplus1.supervised_loss(tf.constant(logits, tf.float32), labels)


def test_feature_width_mismatch_raises():
    with pytest.raises(SchemaError, match="one width"):
        kplus1.feature_matching_loss(np.zeros((2, 3)), np.zeros((2, 4)))


def test_discriminator_loss_defaults_are_eq2_and_lambda_one():
    """Without a consistency term the total is eq. 2 (sup + fake + real); lambda defaults to 1
    (Liang et al.); a float64 consistency value (numpy) is accepted and the total stays float32."""
    t = kplus1.discriminator_loss(LAB, Y, REAL, FAKE)
    eq2 = float(t["supervised"] + t["fake"] + t["real"])
    np.testing.assert_allclose(float(t["total"]), eq2, rtol=1e-6)
    assert float(t["consistency"]) == 0.0
    t1 = kplus1.discriminator_loss(LAB, Y, REAL, FAKE, consistency=np.float64(0.25))
    np.testing.assert_allclose(float(t1["total"]), eq2 + 0.25, rtol=1e-6)
    assert t1["total"].dtype == tf.float32 and t1["consistency"].dtype == tf.float32


def test_feature_matching_casts_float64_and_checks_the_last_axis():
    hf, hr = RNG.normal(size=(8, 5)), RNG.normal(size=(10, 5))                 # float64 numpy
    out = kplus1.feature_matching_loss(hf, hr)
    assert out.dtype == tf.float32
    np.testing.assert_allclose(float(out), np.sum((hf.mean(0) - hr.mean(0)) ** 2), rtol=1e-5)
    # frame-level features [B, T, D]: the widths compared are the last axis, not the second
    for fake, real in (((2, 5, 4), (2, 3, 5)), ((2, 3, 4), (2, 4, 5))):   # second axis equal to the other's last
        with pytest.raises(SchemaError, match="one width"):
            kplus1.feature_matching_loss(np.zeros(fake), np.zeros(real))


def test_float64_logits_are_cast_and_k_equal_two_is_valid():
    """numpy float64 logits give float32 losses; K = 2 (three logits) is the smallest valid K+1 layer."""
    y2 = np.array([0, 1, 1, 0])
    l3 = RNG.normal(size=(4, 3))                                          # float64
    for fn, args in ((kplus1.supervised_loss, (l3, y2)), (kplus1.classifier_loss, (l3, y2)),
                     (kplus1.fake_loss, (l3,)), (kplus1.real_loss, (l3,))):
        out = fn(*args)
        assert out.dtype == tf.float32 and np.isfinite(float(out)), fn.__name__
    p = _softmax(l3)
    np.testing.assert_allclose(float(kplus1.supervised_loss(l3, y2)), -np.mean(np.log(p[np.arange(4), y2])), rtol=1e-5)


def test_shape_errors_name_the_problem():
    with pytest.raises(SchemaError, match=r"^K\+1 logits must be \[batch, K\+1\], got shape \(4, 2, 5\)$"):
        kplus1.supervised_loss(np.zeros((4, 2, 5), np.float32), np.zeros(4, int))
    with pytest.raises(SchemaError, match=r"^K\+1 logits need K >= 2 emotion classes plus the fake class, got 2 outputs$"):
        kplus1.fake_loss(np.zeros((5, 2), np.float32))
    with pytest.raises(SchemaError, match=r"^integer class labels \[B\] or soft targets \[B, K\] expected, "
                                          r"got float labels \[B\]$"):
        kplus1.supervised_loss(LAB, Y.astype(np.float32))
    with pytest.raises(SchemaError, match=r"^soft targets must be \[B, 4\], got shape \(6, 3\)$"):
        kplus1.supervised_loss(LAB, np.zeros((6, 3), np.float32))


def test_shape_checks_hold_with_an_unknown_batch_size():
    """Inside a traced step the batch size is unknown; the class-count checks still apply."""
    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32)], autograph=False)
    def fake(logits):
        return kplus1.fake_loss(logits)

    with pytest.raises(SchemaError, match="got 2 outputs"):
        fake.get_concrete_function()

    @tf.function(input_signature=[tf.TensorSpec([None, K + 1], tf.float32), tf.TensorSpec([None, 3], tf.float32)],
                 autograph=False)
    def sup(logits, q):
        return kplus1.supervised_loss(logits, q)

    with pytest.raises(SchemaError, match=r"soft targets must be \[B, 4\]"):
        sup.get_concrete_function()


def test_weighted_supervised_loss_is_the_weighted_mean():
    w = np.array([1.0, 0.0, 2.0, 0.5, 1.0, 3.0])
    logp = np.log(_softmax(LAB.astype(np.float64)))
    ce = -logp[np.arange(6), Y]
    np.testing.assert_allclose(float(kplus1.supervised_loss(LAB, Y, sample_weight=w)), np.sum(ce * w) / w.sum(),
                               rtol=1e-5)
    assert kplus1.supervised_loss(LAB, Y, sample_weight=w).dtype == tf.float32
    # zero total weight: 0, not NaN
    assert float(kplus1.supervised_loss(LAB, Y, sample_weight=np.zeros(6))) == 0.0


def test_weights_summing_below_one_still_give_the_weighted_mean():
    w = np.full(6, 0.05)                                                  # total 0.3
    logp = np.log(_softmax(LAB.astype(np.float64)))
    np.testing.assert_allclose(float(kplus1.supervised_loss(LAB, Y, sample_weight=w)),
                               -logp[np.arange(6), Y].mean(), rtol=1e-5)
