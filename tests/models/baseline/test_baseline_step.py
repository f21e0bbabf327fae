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


def test_dropout_is_on_in_train_step_and_off_in_test_step():
    keras.utils.set_random_seed(0)
    m = BaselineClassifier(num_classes=K, input_dim=5, generator_units=(32,), classifier_units=(32,), dropout=0.5)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(N, 5)).astype("float32"), rng.integers(0, K, N).astype("int32")
    m.fit_normalization(x)
    m.compile(optimizer=keras.optimizers.SGD(0.0))                 # lr 0: the weights stay, only the pass differs
    det, _ = _hand_metrics(m, x, y, np.ones(N), 0.0)
    got = m.evaluate(x, y, batch_size=N, verbose=0, return_dict=True)
    assert got["emotion_loss"] == pytest.approx(det["emotion_loss"], rel=1e-5)          # no dropout at test
    train = [m.train_on_batch(x, y, return_dict=True)["emotion_loss"] for _ in range(3)]
    assert all(abs(t - det["emotion_loss"]) > 1e-4 for t in train), (train, det)        # dropout in training


def test_one_example_batch_divides_by_one():
    m, x, y, w = _setup(0.0, seed=4)
    m.compile(optimizer=keras.optimizers.SGD(LR))
    x1, y1 = x[:1], y[:1]
    src = [v.value for v in m.trainable_variables]
    with tf.GradientTape() as tape:
        logits = m.emotion_classifier(m.feature_generator(m.standardization(x1)))
        loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(y1, logits)) * 2.0
    want = [v.numpy() - LR * g.numpy() for v, g in zip(m.trainable_variables, tape.gradient(loss, src))]
    m.train_on_batch(x1, y1, sample_weight=np.array([2.0], np.float32))
    for v, nw in zip(m.trainable_variables, want):
        np.testing.assert_allclose(v.numpy(), nw, rtol=1e-4, atol=1e-6)


def _strategy_run(mirrored: bool):
    """One epoch (one batch of 12) and an evaluation; on two logical CPUs when ``mirrored``."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, 5)).astype("float32")
    y = rng.integers(0, 3, 12).astype("int32")
    w = rng.uniform(0.2, 2.0, 12).astype("float32")
    kw = dict(num_classes=3, input_dim=5, generator_units=(6,), classifier_units=(4,), dropout=0.0, l2=0.05)
    keras.utils.set_random_seed(0)
    init = BaselineClassifier(**kw).get_weights()
    strategy = (tf.distribute.MirroredStrategy(devices=[d.name for d in tf.config.list_logical_devices("CPU")],
                                               cross_device_ops=tf.distribute.ReductionToOneDevice())
                if mirrored else tf.distribute.get_strategy())
    with strategy.scope():
        m = BaselineClassifier(**kw)
        m.set_weights(init)
        m.fit_normalization(x)
        m.compile(optimizer=keras.optimizers.SGD(0.2))
    ds = tf.data.Dataset.from_tensor_slices((x, y, w)).batch(12)
    h = m.fit(ds, epochs=1, verbose=0).history
    ev = m.evaluate(ds, verbose=0, return_dict=True)
    return ({k: float(v[0]) for k, v in h.items()}, {k: float(v) for k, v in ev.items()},
            [v.numpy().tolist() for v in m.trainable_weights], strategy.num_replicas_in_sync)


def test_mirrored_two_cpu_devices_gives_the_single_device_step_and_metrics():
    """The emotion loss divides by the global batch and the L2 term is added 1/R per replica, so two
    logical CPUs give the one-device update; the reported losses (regularisation included) agree.
    (The one-device run is in this process, the mirrored one in a child with two logical CPUs.)"""
    from tests.helpers import mirrored_child
    hb, eb, wb, replicas = mirrored_child("tests.models.baseline.test_baseline_step")
    ha, ea, wa, one = _strategy_run(False)
    assert (one, replicas) == (1, 2)
    for key in ("loss", "emotion_loss", "regularization_loss"):
        assert hb[key] == pytest.approx(ha[key], rel=1e-4), (key, ha, hb)
        assert eb[key] == pytest.approx(ea[key], rel=1e-4), (key, ea, eb)
    for a, b in zip(wa, wb):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-4, atol=1e-6)
