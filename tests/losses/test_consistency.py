"""Consistency term CT (emozoo.losses.consistency) and the SSGAN discriminator's two dropout passes."""
import numpy as np
import pytest
import tensorflow as tf

from emozoo.errors import SchemaError
from emozoo.losses.consistency import consistency_term


def _softmax(a):
    e = np.exp(a - a.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_reference_form_equals_numpy_with_margin():
    """The CT-GAN authors' CT_CIFAR.py form: mean squared softmax difference + 0.1 x mean squared
    feature difference, per example, hinge at the margin, mean over examples."""
    rng = np.random.default_rng(0)
    o1, o2 = rng.normal(size=(6, 5)).astype(np.float32), rng.normal(size=(6, 5)).astype(np.float32)
    h1, h2 = rng.normal(size=(6, 7)).astype(np.float32), rng.normal(size=(6, 7)).astype(np.float32)
    d = ((_softmax(o1) - _softmax(o2)) ** 2).mean(1) + 0.1 * ((h1 - h2) ** 2).mean(1)
    for margin in (0.0, float(np.median(d))):
        np.testing.assert_allclose(consistency_term(o1, o2, h1, h2, margin=margin).numpy(),
                                   np.mean(np.maximum(0, d - margin)), rtol=1e-5)
    np.testing.assert_allclose(consistency_term(o1, o2, h1, h2, feature_weight=0.5).numpy(),
                               np.mean(((_softmax(o1) - _softmax(o2)) ** 2).mean(1) + 0.5 * ((h1 - h2) ** 2).mean(1)),
                               rtol=1e-5)
    np.testing.assert_allclose(consistency_term(o1, o2).numpy(), ((_softmax(o1) - _softmax(o2)) ** 2).mean(),
                               rtol=1e-5)
    # softmax is shift invariant: adding a constant to every logit of one pass changes nothing
    np.testing.assert_allclose(consistency_term(o1, o1 + 3.0).numpy(), 0.0, atol=1e-7)


def test_euclidean_ablation_form_equals_numpy_with_margin():
    rng = np.random.default_rng(0)
    o1, o2 = rng.normal(size=(6, 5)).astype(np.float32), rng.normal(size=(6, 5)).astype(np.float32)
    h1, h2 = rng.normal(size=(6, 7)).astype(np.float32), rng.normal(size=(6, 7)).astype(np.float32)
    d = np.linalg.norm(o1 - o2, axis=1) + 0.1 * np.linalg.norm(h1 - h2, axis=1)
    for margin in (0.0, float(np.median(d))):
        np.testing.assert_allclose(consistency_term(o1, o2, h1, h2, margin=margin, form="euclidean").numpy(),
                                   np.mean(np.maximum(0, d - margin)), rtol=1e-5)


def test_reference_is_much_smaller_than_euclidean_for_a_wide_feature_layer():
    """The scale the audit measured: thousands of feature dimensions make the Euclidean form
    O(1) where the reference form is O(0.01)."""
    rng = np.random.default_rng(2)
    o = rng.normal(size=(32, 8)).astype(np.float32)
    h = rng.normal(size=(32, 4096)).astype(np.float32)
    o2 = o + 0.1 * rng.normal(size=o.shape).astype(np.float32)
    h2 = h + 0.1 * rng.normal(size=h.shape).astype(np.float32)
    ref = float(consistency_term(o, o2, h, h2))
    euc = float(consistency_term(o, o2, h, h2, form="euclidean"))
    assert ref < 0.01 and euc > 0.5 and euc > 100 * ref


def test_identical_passes_give_zero_and_finite_gradient():
    x = tf.Variable(np.ones((3, 4), np.float32))
    with tf.GradientTape() as tape:
        ct = consistency_term(x * 2.0, x * 2.0, x, x, form="euclidean")
        ct_ref = consistency_term(x * 2.0, x * 2.0, x, x)
    g = tape.gradient([ct, ct_ref], x)
    assert float(ct) == 0.0 and float(ct_ref) == 0.0
    assert np.all(np.isfinite(g.numpy()))


def test_zero_without_dropout_positive_with_dropout():
    from emozoo.models.ssgan import SemiSupervisedGAN
    tf.random.set_seed(0)
    m = SemiSupervisedGAN(3, [{"name": "f", "shape": (8,), "d_units": (16, 8), "g_units": (8,)}], dropout=0.2)
    x = np.random.default_rng(1).normal(size=(16, 8)).astype(np.float32)
    h1, l1 = m.discriminate(x, training=False)
    h2, l2 = m.discriminate(x, training=False)
    assert float(consistency_term(l1, l2, h1, h2)) == 0.0          # dropout off: identical passes
    h1, l1 = m.discriminate(x, training=True)
    h2, l2 = m.discriminate(x, training=True)
    assert float(consistency_term(l1, l2, h1, h2)) > 0.0           # two dropout perturbations
    # the model's own L_dis carries CT only with dropout on
    y = np.arange(16) % 3
    assert float(m.discriminator_losses(x, y, training=False)["consistency"]) == 0.0
    assert float(m.discriminator_losses(x, y, training=True)["consistency"]) > 0.0


def test_bad_arguments():
    with pytest.raises(SchemaError, match=r"^the two passes' outputs differ in shape: \(2, 3\) vs \(2, 4\)$"):
        consistency_term(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(SchemaError, match="^give the second-to-last-layer features of both passes, of one shape$"):
        consistency_term(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 2)), None)
    with pytest.raises(SchemaError, match=r"^margin and feature_weight must be >= 0, got -1.0, 0.1$"):
        consistency_term(np.zeros((2, 3)), np.zeros((2, 3)), margin=-1.0)
    with pytest.raises(SchemaError, match=r"^margin and feature_weight must be >= 0, got 0.0, -0.1$"):
        consistency_term(np.zeros((2, 3)), np.zeros((2, 3)), feature_weight=-0.1)
    with pytest.raises(SchemaError, match="form"):
        consistency_term(np.zeros((2, 3)), np.zeros((2, 3)), form="l2")
    with pytest.raises(SchemaError, match=r"^D's outputs must be \[batch, classes\], got shape \(2, 3, 4\)$"):
        consistency_term(np.zeros((2, 3, 4)), np.zeros((2, 3, 4)))


def test_zero_weights_and_margin_are_valid():
    """feature_weight 0 (outputs only) and margin 0 are allowed values, not errors."""
    rng = np.random.default_rng(5)
    o1, o2 = rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=(4, 3)).astype(np.float32)
    h1, h2 = rng.normal(size=(4, 6)).astype(np.float32), rng.normal(size=(4, 6)).astype(np.float32)
    for form in ("reference", "euclidean"):
        np.testing.assert_allclose(consistency_term(o1, o2, h1, h2, feature_weight=0.0, margin=0.0, form=form).numpy(),
                                   consistency_term(o1, o2, form=form).numpy(), rtol=1e-6)


def test_euclidean_form_is_exact_for_distances_below_one():
    """Small per-example distances (every dropout pass of a trained D) are not rounded to 0 or 1:
    the safe square root switches only at exactly 0."""
    o1 = np.zeros((3, 4), np.float32)
    o2 = o1.copy()
    o2[0, 0], o2[1, :2], o2[2, 0] = 0.3, [0.3, 0.4], 0.0          # distances 0.3, 0.5, 0
    np.testing.assert_allclose(consistency_term(o1, o2, form="euclidean").numpy(), (0.3 + 0.5 + 0.0) / 3,
                               rtol=1e-6)
    x = tf.Variable(o2)
    with tf.GradientTape() as tape:
        ct = consistency_term(o1, x, form="euclidean")
    g = tape.gradient(ct, x).numpy()
    # d|x|/dx = x / |x| per example, / 3 for the mean; the equal row has gradient 0
    np.testing.assert_allclose(g[0], [1 / 3, 0, 0, 0], rtol=1e-5)
    np.testing.assert_allclose(g[1], [0.6 / 3, 0.8 / 3, 0, 0], rtol=1e-5)
    np.testing.assert_array_equal(g[2], 0.0)


def test_single_example_batch_is_its_own_mean():
    o1, o2 = np.array([[0.0, 1.0, 2.0]], np.float32), np.array([[1.0, 1.0, 0.0]], np.float32)
    want = float(((_softmax(o1) - _softmax(o2)) ** 2).mean())
    assert float(consistency_term(o1, o2)) == pytest.approx(want, rel=1e-5)
    assert float(consistency_term(o1, o2, form="euclidean")) == pytest.approx(np.sqrt(5.0), rel=1e-6)
    assert float(consistency_term(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32))) == 0.0
