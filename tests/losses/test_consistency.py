"""Consistency term CT (emozoo.losses.consistency) and the SSGAN discriminator's two dropout passes."""
import numpy as np
import pytest
import tensorflow as tf

from emozoo.errors import SchemaError
from emozoo.losses.consistency import consistency_term


def test_equals_numpy_with_margin():
    rng = np.random.default_rng(0)
    o1, o2 = rng.normal(size=(6, 5)).astype(np.float32), rng.normal(size=(6, 5)).astype(np.float32)
    h1, h2 = rng.normal(size=(6, 7)).astype(np.float32), rng.normal(size=(6, 7)).astype(np.float32)
    d = np.linalg.norm(o1 - o2, axis=1) + 0.1 * np.linalg.norm(h1 - h2, axis=1)
    for margin in (0.0, float(np.median(d))):
        np.testing.assert_allclose(consistency_term(o1, o2, h1, h2, margin=margin).numpy(),
                                   np.mean(np.maximum(0, d - margin)), rtol=1e-5)


def test_identical_passes_give_zero_and_finite_gradient():
    x = tf.Variable(np.ones((3, 4), np.float32))
    with tf.GradientTape() as tape:
        ct = consistency_term(x * 2.0, x * 2.0, x, x)
    g = tape.gradient(ct, x)
    assert float(ct) == 0.0
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
    with pytest.raises(SchemaError):
        consistency_term(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(SchemaError):
        consistency_term(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 2)), None)
    with pytest.raises(SchemaError):
        consistency_term(np.zeros((2, 3)), np.zeros((2, 3)), margin=-1.0)
