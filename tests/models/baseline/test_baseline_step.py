"""BaselineClassifier's train_step / test_step against a hand computation (BSL of Liang et al.
2019: G + E trained on L_emo, eq. 2). One SGD step equals
``w - lr * d(sum_i w_i CE_i / B + l2 sum ||W||^2)/dw``; the reported metrics are the
sample-weighted mean CE (``emotion_loss``), the L2 term (``regularization_loss``), their sum
(``loss``) and the weighted confusion matrix, accumulated over all batches of a run."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from emozoo.models.baseline import BaselineClassifier

N, K, LR = 13, 3, 0.3


def _setup(l2, seed=0):
    keras.utils.set_random_seed(seed)
    m = BaselineClassifier(num_classes=K, input_dim=5, generator_units=(6,), classifier_units=(4,), dropout=0.0, l2=l2)
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(N, 5)) * 2 + 1).astype("float32")
    y = rng.integers(0, K, N).astype("int32")
    w = rng.uniform(0.2, 2.0, N).astype("float32")
    m.fit_normalization(rng.normal(size=(30, 5)) * 2 + 1)
    return m, x, y, w


def _hand_metrics(m, x, y, w, l2):
    logits = m(x).numpy().astype(np.float64)
    logp = logits - logits.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    ce = -logp[np.arange(len(y)), y]
    reg = l2 * sum(float(np.sum(v.numpy().astype(np.float64) ** 2)) for v in m.trainable_variables if "kernel" in v.path)
    conf = np.zeros((K, K))
    np.add.at(conf, (y, logits.argmax(1)), w)
    out = {"emotion_loss": float(np.sum(ce * w) / np.sum(w)), "loss": float(np.sum(ce * w) / np.sum(w)) + reg}
    if l2:
        out["regularization_loss"] = reg
    return out, conf


@pytest.mark.parametrize("l2", [0.0, 0.05])
def test_one_train_step_is_sgd_on_the_weighted_emotion_loss_plus_l2(l2):
    m, x, y, w = _setup(l2)
    m.compile(optimizer=keras.optimizers.SGD(LR))
    want_logs, conf = _hand_metrics(m, x, y, w, l2)
    src = [v.value for v in m.trainable_variables]
    with tf.GradientTape() as tape:
        logits = m.emotion_classifier(m.feature_generator(m.standardization(x)))
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)
        loss = tf.reduce_sum(ce * w) / N + l2 * tf.add_n(
            [tf.reduce_sum(tf.square(v.value)) for v in m.trainable_variables if "kernel" in v.path])
    want = [v.numpy() - LR * g.numpy() for v, g in zip(m.trainable_variables, tape.gradient(loss, src))]
    logs = m.train_on_batch(x, y, sample_weight=w, return_dict=True)
    for v, nw in zip(m.trainable_variables, want):
        np.testing.assert_allclose(v.numpy(), nw, rtol=1e-4, atol=1e-6, err_msg=v.path)
    assert set(want_logs) <= set(logs) and ("regularization_loss" in logs) == bool(l2)
    for k, val in want_logs.items():
        assert logs[k] == pytest.approx(val, rel=1e-4), k
    np.testing.assert_allclose(m.confusion.matrix.numpy(), conf, rtol=1e-5, atol=1e-6)


def test_evaluate_accumulates_weighted_means_over_batches_without_updating():
    l2 = 0.02
    m, x, y, w = _setup(l2, seed=2)
    m.compile(optimizer=keras.optimizers.SGD(LR))
    want, conf = _hand_metrics(m, x, y, w, l2)
    before = [v.numpy().copy() for v in m.trainable_variables]
    got = m.evaluate(x, y, sample_weight=w, batch_size=4, verbose=0, return_dict=True)
    for k, val in want.items():
        assert got[k] == pytest.approx(val, rel=1e-4), k
    np.testing.assert_allclose(m.confusion.matrix.numpy(), conf, rtol=1e-5, atol=1e-6)
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(before, m.trainable_variables))
    # unweighted: the plain mean CE
    got1 = m.evaluate(x, y, batch_size=5, verbose=0, return_dict=True)
    want1, _ = _hand_metrics(m, x, y, np.ones(N), l2)
    assert got1["emotion_loss"] == pytest.approx(want1["emotion_loss"], rel=1e-4)
