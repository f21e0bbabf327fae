"""DANN at the model level (Lian et al. 2019, eq. 5): L_d is the mean domain cross-entropy over
*every* row with a domain (labelled training rows and unlabelled target rows), the encoder
receives -lambda times its gradient (sign checked against a hand computation that bypasses the
GRL), and the utterance model learns a learnable synthetic task well above chance."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from emozoo.models.dann import DANNUtteranceModel

TINY = dict(encoder_units=(16, 8), domain_units=(8,), l2=0.0)


def _speakers(n_per=40, speakers=4, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    dom = np.repeat(np.arange(speakers), n_per).astype("int32")
    y = rng.integers(0, classes, len(dom)).astype("int32")
    x = rng.normal(size=(len(dom), 6)) + 3 * np.eye(classes, 6)[y] + 1.5 * np.eye(speakers, 6, k=3)[dom]
    return x.astype("float32"), y, dom


def _model(lam=1.0, seed=0):
    keras.utils.set_random_seed(seed)
    return DANNUtteranceModel(3, 6, num_domains=4, grl_lambda=lam, **TINY)


def test_domain_loss_covers_labelled_and_unlabelled_rows():
    x, y, dom = _speakers(n_per=5)
    y = np.where(dom >= 2, -1, y).astype("int32")          # speakers 2, 3: unlabelled target rows
    m = _model()
    m.fit_normalization(x)
    l_y, l_d, _ = m._dann_losses({"features": x, "domain": dom}, tf.constant(y), False)
    dl = m.domain_logits(x).numpy().astype(np.float64)
    logp = dl - np.log(np.exp(dl).sum(1, keepdims=True))
    assert float(l_d) == pytest.approx(-logp[np.arange(len(dom)), dom].mean(), rel=1e-5)
    el = m(x).numpy().astype(np.float64)
    logq = el - np.log(np.exp(el).sum(1, keepdims=True))
    lab = y >= 0
    assert float(l_y) == pytest.approx(-logq[lab, y[lab]].mean(), rel=1e-5)


@pytest.mark.parametrize("lam", [1.0, 0.5])
def test_encoder_gets_minus_lambda_times_the_domain_gradient(lam):
    x, y, dom = _speakers(n_per=5)
    m = _model(lam)
    m.fit_normalization(x)
    enc = m.encoder.trainable_variables
    with tf.GradientTape(persistent=True) as tape:
        _, l_d, _ = m._dann_losses({"features": x, "domain": dom}, tf.constant(y), False)
        r = m.encoder(m.standardization(x), training=False)                 # the same r, no GRL
        raw = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(dom, m.domain_classifier(r)))
    for g, g_raw in zip(tape.gradient(l_d, enc), tape.gradient(raw, enc)):
        np.testing.assert_allclose(g.numpy(), -lam * g_raw.numpy(), rtol=1e-4, atol=1e-7)
    # the domain classifier itself descends L_d (no reversal on its side)
    dvars = m.domain_classifier.trainable_variables
    for g, g_raw in zip(tape.gradient(l_d, dvars), tape.gradient(raw, dvars)):
        np.testing.assert_allclose(g.numpy(), g_raw.numpy(), rtol=1e-4, atol=1e-7)


def test_one_adversarial_step_makes_r_less_speaker_informative_for_the_old_domain_classifier():
    """Only domain rows (no labels): the step moves the encoder *up* L_d (reversal), so the old
    domain classifier does worse on the new r; with the sign flipped it would do better."""
    x, _, dom = _speakers(n_per=10)
    y = np.full(len(dom), -1, "int32")
    m = _model(1.0)
    m.fit_normalization(x)
    m.compile(optimizer=keras.optimizers.SGD(0.05))
    frozen = [v.numpy().copy() for v in m.domain_classifier.trainable_variables]

    def ld_with_old_classifier():
        r = m.encoder(m.standardization(x), training=False)
        cur = [v.numpy().copy() for v in m.domain_classifier.trainable_variables]
        for v, f in zip(m.domain_classifier.trainable_variables, frozen):
            v.assign(f)
        out = float(tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(dom, m.domain_classifier(r))))
        for v, c in zip(m.domain_classifier.trainable_variables, cur):
            v.assign(c)
        return out

    before = ld_with_old_classifier()
    m.train_step(({"features": tf.constant(x), "domain": tf.constant(dom)}, tf.constant(y)))
    assert ld_with_old_classifier() > before


def test_utterance_dann_learns_a_separable_task_above_chance():
    x, y, dom = _speakers(n_per=60)
    test = dom == 3
    y_train = np.where(test, -1, y).astype("int32")        # held-out speaker: unlabelled target data
    m = _model(0.3)
    m.learning_rate = 1e-2
    m.fit_normalization(x)
    m.compile(optimizer=keras.optimizers.Adam(1e-2))
    m.fit({"features": x, "domain": dom}, y_train, batch_size=32, epochs=25, verbose=0)
    pred = np.argmax(m(x[test]).numpy(), -1)
    uar = np.mean([np.mean(pred[y[test] == c] == c) for c in range(3)])
    assert uar > 0.8, uar                                   # chance 1/3
