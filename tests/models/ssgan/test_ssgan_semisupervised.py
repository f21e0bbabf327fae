"""The semi-supervised part of the SSGAN changes the update as the paper says: unlabelled rows
reach D's update through L_real and CT, CT covers the unlabelled rows (the CT-GAN reference
code), lambda scales CT, and the SSGAN learns a learnable synthetic task above chance."""
import keras
import numpy as np
import pytest
import tensorflow as tf

import emozoo.models.ssgan.ssgan_model as ssgan_model
from emozoo.errors import ExperimentError
from emozoo.losses import kplus1
from emozoo.models.ssgan import SemiSupervisedGAN

DENSE = [{"name": "f", "shape": (8,), "d_units": (16, 8), "g_units": (8, 16)}]


def _data(n=16, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = (rng.normal(size=(n, 8)) + 2 * np.eye(3, 8)[y]).astype(np.float32)
    return x, y, rng.normal(size=(n, 8)).astype(np.float32)


def _d_grads(m, x, y, u, z):
    with tf.GradientTape() as tape:
        total = m.discriminator_losses(x, y, u, z=z, training=False)["total"]
    return [g.numpy() for g in tape.gradient(total, m.discriminator_variables)]


def test_unlabelled_rows_reach_the_discriminator_update():
    keras.utils.set_random_seed(0)
    m = SemiSupervisedGAN(3, DENSE, dropout=0.0)
    x, y, u = _data()
    z = tf.random.normal((16, m.noise_dim), seed=1)
    g1 = _d_grads(m, x, y, u, z)
    g2 = _d_grads(m, x, y, u + 1.0, z)           # same labelled batch, different unlabelled rows
    assert any(not np.allclose(a, b) for a, b in zip(g1, g2))
    # L_real is over labelled + unlabelled real rows (eq. 4: E_{x ~ p_data})
    h, logits = m.discriminate(np.concatenate([x, u]), training=False)
    terms = m.discriminator_losses(x, y, u, z=z, training=False)
    np.testing.assert_allclose(float(terms["real"]), float(kplus1.real_loss(logits)), rtol=1e-5)


def test_consistency_covers_the_unlabelled_rows_and_lambda_scales_it(monkeypatch):
    seen = []
    real_ct = ssgan_model.consistency_term

    def spy(l1, l2, h1, h2, **kw):
        seen.append((int(l1.shape[0]), kw["form"]))
        return real_ct(l1, l2, h1, h2, **kw)

    monkeypatch.setattr(ssgan_model, "consistency_term", spy)
    keras.utils.set_random_seed(0)
    x, y, u = _data()
    u = u[:5]
    m = SemiSupervisedGAN(3, DENSE, dropout=0.3)
    m.discriminator_losses(x, y, u)
    m.discriminator_losses(x, y)                 # no unlabelled rows: CT on the labelled batch
    assert seen == [(5, "reference"), (16, "reference")]
    for lam in (0.0, 2.5):
        keras.utils.set_random_seed(3)
        t = SemiSupervisedGAN(3, DENSE, dropout=0.3, consistency_weight=lam).discriminator_losses(x, y, u)
        expect = t["supervised"] + t["fake"] + t["real"] + lam * t["consistency"]
        np.testing.assert_allclose(float(t["total"]), float(expect), rtol=1e-5)
        assert float(t["consistency"]) > 0


def test_ct_form_option_config_and_validation():
    m = SemiSupervisedGAN(3, DENSE, ct_form="euclidean")
    assert m.get_config()["ct_form"] == "euclidean"
    assert SemiSupervisedGAN.from_config(m.get_config()).ct_form == "euclidean"
    assert SemiSupervisedGAN(3, DENSE).ct_form == "reference"
    with pytest.raises(ExperimentError, match="ct_form"):
        SemiSupervisedGAN(3, DENSE, ct_form="l1")


def test_ssgan_learns_a_separable_task_above_chance():
    """Three Gaussian classes, 10 labels per class, 300 unlabelled points: UAR well above 1/3."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)

    def sample(n):
        y = rng.integers(0, 3, n)
        return (rng.normal(size=(n, 8)) + 3 * np.eye(3, 8)[y]).astype(np.float32), y

    xl, yl = sample(30)
    xu, _ = sample(300)
    xt, yt = sample(300)
    m = SemiSupervisedGAN(3, DENSE, learning_rate=2e-3)
    m.compile()
    for step in range(150):
        i = rng.integers(0, 30, 16)
        j = rng.integers(0, 300, 32)
        m.train_step({"x": tf.constant(xl[i]), "y": tf.constant(yl[i]), "u": tf.constant(xu[j])})
    pred = np.argmax(m(xt, training=False).numpy(), -1)
    uar = np.mean([np.mean(pred[yt == c] == c) for c in range(3)])
    assert uar > 0.75, uar
