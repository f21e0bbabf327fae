"""SemiSupervisedGAN's steps against a hand computation (Liang, Chen, Jin 2019, Algorithm 1, eq. 2/4/5).

With SGD, no dropout (CT exactly 0) and fixed noise: one D step equals
``theta_D - lr * d(L_sup + L_fake + L_real)/d theta_D`` with ``L_sup`` over the labelled rows
(K+1-way softmax), ``L_real`` over the labelled *and* unlabelled rows and ``L_fake`` over G(z);
one G step equals ``theta_G - lr * d|| mean D_(G(z)) - mean D_(x, u) ||^2 / d theta_G`` with D
fixed; FSBase is plain K-class cross-entropy. The trackers report the terms of the last step."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from emozoo.models.ssgan import SemiSupervisedGAN

K, LR = 3, 0.05
DENSE = [{"name": "f", "shape": (8,), "d_units": (12, 6), "g_units": (8,)}]


def _batch(n=10, nu=7, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % K
    x = (rng.normal(size=(n, 8)) + 2 * np.eye(K, 8)[y]).astype(np.float32)
    return x, y.astype(np.int32), rng.normal(size=(nu, 8)).astype(np.float32)


def _model(mode="ssgan", seed=1, **kw):
    keras.utils.set_random_seed(seed)
    m = SemiSupervisedGAN(K, DENSE, mode=mode, **{"dropout": 0.0, "noise_dim": 5, **kw})
    m.compile(d_optimizer=keras.optimizers.SGD(LR), g_optimizer=keras.optimizers.SGD(LR))
    return m


def _log_softmax(l):
    return l - tf.reduce_logsumexp(l, axis=-1, keepdims=True)


def _d_terms(m, x, y, u, z):
    real = np.concatenate([x, u])
    ll = m.discriminate(x)[1]
    lr_ = m.discriminate(real)[1]
    lf = m.discriminate(m.generate(z, training=True))[1]          # G has batch norm: batch statistics
    sup = -tf.reduce_mean(tf.gather(_log_softmax(ll), y, batch_dims=1))
    fake = -tf.reduce_mean(_log_softmax(lf)[:, K])
    real_t = -tf.reduce_mean(tf.math.log(1.0 - tf.exp(_log_softmax(lr_)[:, K])))
    return sup, fake, real_t


def test_one_discriminator_step_by_hand_uses_labelled_and_unlabelled_rows():
    m = _model()
    x, y, u = _batch()
    z = tf.random.normal((9, 5), seed=3)
    src = [v.value for v in m.discriminator_variables]
    with tf.GradientTape() as tape:
        sup, fake, real = _d_terms(m, x, y, u, z)
        total = sup + fake + real
    want = [v.numpy() - LR * g.numpy() for v, g in zip(m.discriminator_variables, tape.gradient(total, src))]
    g_before = [v.numpy().copy() for v in m.generator_variables]
    terms = m.discriminator_step(x, y, u, z=z)
    for key, val in (("supervised", sup), ("fake", fake), ("real", real), ("total", total)):
        assert float(terms[key]) == pytest.approx(float(val), rel=1e-5), key
    assert float(terms["consistency"]) == 0.0                       # dropout 0: the two passes agree
    for v, nw in zip(m.discriminator_variables, want):
        np.testing.assert_allclose(v.numpy(), nw, rtol=1e-4, atol=1e-6, err_msg=v.path)
    for v, old in zip(m.generator_variables, g_before):            # G fixed in the D step
        np.testing.assert_array_equal(v.numpy(), old)


def test_one_generator_step_by_hand_is_feature_matching_on_all_real_rows():
    m = _model()
    x, y, u = _batch(seed=1)
    z = tf.random.normal((9, 5), seed=4)
    src = [v.value for v in m.generator_variables]
    with tf.GradientTape() as tape:
        h_fake = m.features(m.generate(z, training=True))
        h_real = m.features(np.concatenate([x, u]))
        loss = tf.reduce_sum(tf.square(tf.reduce_mean(h_fake, 0) - tf.reduce_mean(h_real, 0)))
    want = [v.numpy() - LR * g.numpy() for v, g in zip(m.generator_variables, tape.gradient(loss, src))]
    d_before = [v.numpy().copy() for v in m.discriminator_variables]
    got = m.generator_step(x, u, z=z)
    assert float(got) == pytest.approx(float(loss), rel=1e-5)
    for v, nw in zip(m.generator_variables, want):
        np.testing.assert_allclose(v.numpy(), nw, rtol=1e-4, atol=1e-6, err_msg=v.path)
    for v, old in zip(m.discriminator_variables, d_before):
        np.testing.assert_array_equal(v.numpy(), old)


@pytest.mark.parametrize("with_u", [True, False])
def test_train_step_reports_the_terms_of_its_d_step(with_u):
    """The noise-free terms (supervised, real) of train_step's logs equal the hand values on the
    weights before the step; the totals add up; G's loss is reported."""
    m = _model(consistency_weight=2.0)
    x, y, u = _batch(seed=2)
    sup, _, real = _d_terms(m, x, y, u if with_u else np.zeros((0, 8), np.float32), tf.zeros((1, 5)))
    batch = {"x": tf.constant(x), "y": tf.constant(y)}
    if with_u:
        batch["u"] = tf.constant(u)
    logs = m.train_step(batch)
    assert float(logs["supervised_loss"]) == pytest.approx(float(sup), rel=1e-5)
    assert float(logs["real_loss"]) == pytest.approx(float(real), rel=1e-5)
    assert float(logs["consistency"]) == 0.0
    total = float(logs["supervised_loss"]) + float(logs["fake_loss"]) + float(logs["real_loss"])
    assert float(logs["discriminator_loss"]) == pytest.approx(total, rel=1e-5)
    assert float(logs["loss"]) == pytest.approx(total, rel=1e-5)
    assert float(logs["generator_loss"]) > 0.0
    assert set(logs) == {"loss", "discriminator_loss", "supervised_loss", "fake_loss", "real_loss", "consistency",
                         "generator_loss"}


def test_fsbase_step_is_plain_k_class_cross_entropy_and_test_step_reports_it():
    m = _model("fsbase")
    x, y, _ = _batch(seed=3)
    src = [v.value for v in m.discriminator_variables]
    with tf.GradientTape() as tape:
        logits = m.discriminate(x)[1][:, :K]
        ce = -tf.reduce_mean(tf.gather(_log_softmax(logits), y, batch_dims=1))
    want = [v.numpy() - LR * g.numpy() for v, g in zip(m.discriminator_variables, tape.gradient(ce, src))]
    acc0 = float(np.mean(np.argmax(logits.numpy(), 1) == y))
    ev = m.test_step((tf.constant(x), tf.constant(y)))
    assert float(ev["loss"]) == pytest.approx(float(ce), rel=1e-5)
    assert float(ev["accuracy"]) == pytest.approx(acc0)
    soft = m.test_step((tf.constant(x), tf.one_hot(y, K)))           # soft targets: argmax is the class
    assert float(soft["accuracy"]) == pytest.approx(acc0) and float(soft["loss"]) == pytest.approx(float(ce), rel=1e-5)
    logs = m.train_step((tf.constant(x), tf.constant(y)))
    assert set(logs) == {"loss", "supervised_loss"}
    assert float(logs["loss"]) == pytest.approx(float(ce), rel=1e-5) == float(logs["supervised_loss"])
    for v, nw in zip(m.discriminator_variables, want):
        np.testing.assert_allclose(v.numpy(), nw, rtol=1e-4, atol=1e-6, err_msg=v.path)


def test_train_step_is_one_d_step_then_one_g_step_on_labelled_and_unlabelled_rows():
    """With the noise fixed (one draw per step, as many rows as real ones), train_step gives exactly
    discriminator_step then generator_step on x + u (both checked by hand above)."""
    x, y, u = _batch(seed=5)
    z = tf.random.normal((64, 5), seed=7)
    ref, m = _model(), _model()
    n_real = len(x) + len(u)
    ref.discriminator_step(x, y, u, z=z[:n_real])
    ref.generator_step(x, u, z=z[:n_real])
    sizes = []

    def noise(n):
        sizes.append(int(n))
        return z[:n]

    m._noise = noise
    m.train_step({"x": tf.constant(x), "y": tf.constant(y), "u": tf.constant(u)})
    assert sizes == [n_real, n_real]
    for a, b in zip(m.weights, ref.weights):                           # incl. G's batch-norm statistics
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6, err_msg=a.path)


def test_dropout_is_on_in_training_steps_and_off_in_test_step():
    keras.utils.set_random_seed(2)
    m = SemiSupervisedGAN(K, [{"name": "f", "shape": (8,), "d_units": (64, 32), "g_units": (8,)}], mode="fsbase",
                          dropout=0.5, noise_dim=5)
    m.compile(d_optimizer=keras.optimizers.SGD(0.0), g_optimizer=keras.optimizers.SGD(0.0))
    x, y, _ = _batch(n=30, seed=6)
    logits = m.discriminate(x, training=False)[1][:, :K]
    ce = float(-tf.reduce_mean(tf.gather(_log_softmax(logits), y, batch_dims=1)))
    acc = float(np.mean(np.argmax(logits.numpy(), 1) == y))
    for _ in range(4):                                               # deterministic: the same every call
        ev = m.test_step((tf.constant(x), tf.constant(y)))
        assert float(ev["loss"]) == pytest.approx(ce, rel=1e-5) and float(ev["accuracy"]) == pytest.approx(acc)
    for _ in range(2):
        assert abs(float(m.supervised_step(tf.constant(x), tf.constant(y))) - ce) > 1e-4
    g = _model(dropout=0.5, seed=3)
    xs, ys, us = _batch(seed=7)
    zz = tf.random.normal((17, 5), seed=8)
    det = float(g.generator_loss(xs, us, z=zz, training=False))
    assert all(abs(float(g.generator_loss(xs, us, z=zz)) - det) > 1e-6 for _ in range(2))   # default: training


def test_training_passes_use_dropout_and_the_configured_ct(monkeypatch):
    """In D's and G's losses every pass of D runs with dropout (training=True): the two real passes,
    the fake pass and the feature-matching passes differ from the inference pass; CT gets the model's
    feature weight, margin and form."""
    import emozoo.models.ssgan.ssgan_model as sm
    keras.utils.set_random_seed(4)
    m = SemiSupervisedGAN(K, [{"name": "f", "shape": (8,), "d_units": (64, 32), "g_units": (8,)}], dropout=0.5,
                          noise_dim=5, ct_feature_weight=0.3, ct_margin=0.01, ct_form="euclidean")
    x, y, u = _batch(seed=8)
    z = tf.random.normal((17, 5), seed=9)
    seen = {}
    real_ct, real_dl, real_fm = sm.consistency_term, sm.discriminator_loss, sm.feature_matching_loss

    def ct(*a, **kw):
        seen["ct"] = (a, kw)
        return real_ct(*a, **kw)

    def dl(*a, **kw):
        seen["dl"] = a
        return real_dl(*a, **kw)

    def fm(*a, **kw):
        seen["fm"] = a
        return real_fm(*a, **kw)

    monkeypatch.setattr(sm, "consistency_term", ct)
    monkeypatch.setattr(sm, "discriminator_loss", dl)
    monkeypatch.setattr(sm, "feature_matching_loss", fm)
    m.discriminator_losses(x, y, u, z=z)
    (l1, l2, h1, h2), kw = seen["ct"]
    assert kw == {"feature_weight": 0.3, "margin": 0.01, "form": "euclidean"}
    assert h1 is not None and h2 is not None and h1.shape == h2.shape == (len(u), 32)   # D_'s features of both passes
    real = np.concatenate([x, u])
    _, l_inf = m.discriminate(real, training=False)
    for l in (l1, l2):                                   # CT's rows are the unlabelled ones
        assert not np.allclose(l.numpy(), l_inf.numpy()[len(x):], atol=1e-4)
    assert not np.allclose(l1.numpy(), l2.numpy(), atol=1e-4)
    lf = seen["dl"][3]
    _, lf_inf = m.discriminate(m.generate(z, training=True), training=False)
    assert not np.allclose(lf.numpy(), lf_inf.numpy(), atol=1e-4)
    m.generator_loss(x, u, z=z)
    h_fake, h_real = seen["fm"]
    assert not np.allclose(h_real.numpy(), m.features(real, training=False).numpy(), atol=1e-4)
    assert not np.allclose(h_fake.numpy(), m.features(m.generate(z, training=True), training=False).numpy(), atol=1e-4)


def test_unpack_refuses_other_batch_forms_with_the_accepted_ones_named():
    from emozoo.errors import SchemaError
    msg = r"^a training batch is \{'x': inputs, 'y': labels, 'u': unlabelled inputs\} or \(x, y\)$"
    for bad in ({"a": 1, "b": 2}, (np.zeros((2, 8)),), [np.zeros((2, 8))]):
        with pytest.raises(SchemaError, match=msg):
            SemiSupervisedGAN._unpack(bad)
