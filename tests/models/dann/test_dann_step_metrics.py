"""DANN's train_step / test_step against a hand computation (Lian et al. 2019, eq. 5).

One SGD step equals ``w - lr * d(L_y + L_d + l2 sum ||W||^2)/dw`` with the encoder's share of
``dL_d`` multiplied by ``-lambda`` (the gradient reversal), the domain classifier descending
``L_d`` and the emotion classifier ``L_y``; ``L_y`` covers the labelled rows only and ``L_d``
every row with a domain (labelled and unlabelled). The tracked metrics (loss, emotion_loss,
domain_loss, accuracy, domain_accuracy) are row-weighted means over all batches of a run, not
means of per-batch means."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from emozoo.models.dann import DANNUtteranceModel

TINY = dict(encoder_units=(16, 8), domain_units=(8,))


def _data(seed=0, n=23):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype("float32")
    y = rng.integers(0, 3, n).astype("int32")
    y[rng.random(n) < 0.4] = -1                        # unlabelled rows (target data)
    dom = rng.integers(0, 4, n).astype("int32")
    dom[rng.random(n) < 0.3] = -1                      # rows without a domain
    dom[y < 0] = np.maximum(dom[y < 0], 0)             # every unlabelled row has a domain
    return x, y, dom


def _log_softmax(a):
    a = a.astype(np.float64)
    return a - a.max(1, keepdims=True) - np.log(np.exp(a - a.max(1, keepdims=True)).sum(1, keepdims=True))


def _hand_metrics(m, x, y, dom):
    el, dl = m(x).numpy(), m.domain_logits(x).numpy()
    lab, dm = y >= 0, dom >= 0
    ce_y = -_log_softmax(el)[lab, y[lab]]
    ce_d = -_log_softmax(dl)[dm, dom[dm]]
    return {"loss": ce_y.mean(), "emotion_loss": ce_y.mean(), "domain_loss": ce_d.mean(),
            "accuracy": (el.argmax(1)[lab] == y[lab]).mean(), "domain_accuracy": (dl.argmax(1)[dm] == dom[dm]).mean()}


def _model(lam=1.0, l2=0.0, seed=0):
    keras.utils.set_random_seed(seed)
    return DANNUtteranceModel(3, 6, num_domains=4, grl_lambda=lam, l2=l2, **TINY)


def test_evaluate_gives_row_weighted_means_over_batches():
    x, y, dom = _data()
    m = _model()
    m.fit_normalization(x)
    m.compile()
    want = _hand_metrics(m, x, y, dom)
    # batches of 4 over 23 rows hold different numbers of labelled / domain rows: a mean of the
    # per-batch means would differ from the row-weighted mean
    got = m.evaluate({"features": x, "domain": dom}, y, batch_size=4, verbose=0, return_dict=True)
    assert set(got) == set(want)
    for k in want:
        assert got[k] == pytest.approx(want[k], rel=1e-5), k
    per_batch = [_hand_metrics(m, x[i:i + 4], y[i:i + 4], dom[i:i + 4])["emotion_loss"] for i in range(0, 23, 4)]
    assert abs(np.mean(per_batch) - want["emotion_loss"]) > 1e-3      # the check above can tell them apart


@pytest.mark.parametrize("lam", [0.5, 0.0])
def test_one_train_step_is_sgd_on_eq5_with_the_encoder_domain_gradient_reversed(lam):
    x, y, dom = _data(1)
    l2, lr = 1e-2, 0.1
    m = _model(lam, l2)
    m.fit_normalization(x)
    m.compile(optimizer=keras.optimizers.SGD(lr))
    want_logs = _hand_metrics(m, x, y, dom)           # the step reports the batch before its update
    enc, emo, domc = (m.encoder.trainable_variables, m.emotion_classifier.trainable_variables,
                      m.domain_classifier.trainable_variables)
    lab, dm = y >= 0, dom >= 0
    with tf.GradientTape(persistent=True) as tape:
        r = m.encoder(m.standardization(x), training=True)               # no GRL: reversal by hand
        l_y = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y[lab], tf.boolean_mask(
            m.emotion_classifier(r, training=True), lab)))
        l_d = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(dom[dm], tf.boolean_mask(
            m.domain_classifier(r, training=True), dm)))
        reg = l2 * tf.add_n([tf.reduce_sum(tf.square(v)) for v in enc + emo + domc if "kernel" in v.path])
    want = {}
    for group, terms in ((enc, (l_y, -lam, l_d)), (emo, (l_y, 0.0, l_d)), (domc, (None, 1.0, l_d))):
        src, zero = [v.value for v in group], tf.UnconnectedGradients.ZERO
        g_y = tape.gradient(terms[0], src, unconnected_gradients=zero) if terms[0] is not None else None
        g_d = tape.gradient(terms[2], src, unconnected_gradients=zero)
        g_r = tape.gradient(reg, src, unconnected_gradients=zero)
        for i, v in enumerate(group):
            g = g_r[i] + terms[1] * g_d[i] + (g_y[i] if g_y is not None else 0.0)
            want[v.path] = v.numpy() - lr * g.numpy()
    logs = m.train_on_batch({"features": x, "domain": dom}, y, return_dict=True)
    for v in enc + emo + domc:
        np.testing.assert_allclose(v.numpy(), want[v.path], rtol=1e-4, atol=1e-6, err_msg=v.path)
    for k in want_logs:
        assert logs[k] == pytest.approx(want_logs[k], rel=1e-5), k


def _strategy_run(mirrored: bool):
    """One SGD step on 16 utterances (replica 0 of two gets 2 labelled rows, replica 1 all 8)."""
    x, y, dom = _data(4, n=16)
    y[:8] = np.where(np.arange(8) < 6, -1, y[:8])
    keras.utils.set_random_seed(0)
    init = DANNUtteranceModel(3, 6, num_domains=4, l2=1e-3, **TINY).get_weights()
    strategy = (tf.distribute.MirroredStrategy(devices=[d.name for d in tf.config.list_logical_devices("CPU")],
                                               cross_device_ops=tf.distribute.ReductionToOneDevice())
                if mirrored else tf.distribute.get_strategy())
    with strategy.scope():
        m = DANNUtteranceModel(3, 6, num_domains=4, l2=1e-3, **TINY)
        m.set_weights(init)
        m.fit_normalization(x)
        m.compile(optimizer=keras.optimizers.SGD(0.1))
    ds = tf.data.Dataset.from_tensor_slices(({"features": x, "domain": dom}, y)).batch(16)
    h = m.fit(ds, epochs=1, verbose=0).history
    ev = m.evaluate(ds, verbose=0, return_dict=True)
    return ({k: float(v[0]) for k, v in h.items()}, {k: float(v) for k, v in ev.items()},
            [w.numpy().tolist() for w in m.trainable_weights], strategy.num_replicas_in_sync)


def test_mirrored_two_cpu_devices_gives_the_single_device_step():
    """L_y and L_d divide by the *global* labelled / domain counts (summed over replicas) and the L2
    term is added 1/R per replica: with unequal counts per replica, two logical CPUs still give the
    one-device update and metrics. (One-device run in this process, the mirrored one in a child.)"""
    from tests.helpers import mirrored_child
    hb, eb, wb, replicas = mirrored_child("tests.models.dann.test_dann_step_metrics")
    ha, ea, wa, one = _strategy_run(False)
    assert (one, replicas) == (1, 2)
    for key in ("loss", "emotion_loss", "domain_loss", "accuracy", "domain_accuracy"):
        assert hb[key] == pytest.approx(ha[key], rel=1e-4, abs=1e-6), (key, ha, hb)
        assert eb[key] == pytest.approx(ea[key], rel=1e-4, abs=1e-6), (key, ea, eb)
    for a, b in zip(wa, wb):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-4, atol=1e-6)


def test_dropout_is_on_in_train_step_and_off_in_test_step_for_all_three_parts():
    """Encoder, emotion and domain classifier each have dropout; train_step runs them with
    training=True (its reported losses are not the deterministic ones), test_step with training=False."""
    x, y, dom = _data(5, n=40)
    keras.utils.set_random_seed(0)
    m = DANNUtteranceModel(3, 6, num_domains=4, encoder_units=(32,), emotion_units=(32,), domain_units=(32,),
                           dropout=0.5, l2=0.0)
    m.fit_normalization(x)
    m.compile(optimizer=keras.optimizers.SGD(0.0))                  # lr 0: only the pass differs
    det = _hand_metrics(m, x, y, dom)
    got = m.evaluate({"features": x, "domain": dom}, y, batch_size=40, verbose=0, return_dict=True)
    for k in ("emotion_loss", "domain_loss"):
        assert got[k] == pytest.approx(det[k], rel=1e-5), k
    for _ in range(2):
        logs = m.train_on_batch({"features": x, "domain": dom}, y, return_dict=True)
        assert abs(logs["emotion_loss"] - det["emotion_loss"]) > 1e-4 and abs(logs["domain_loss"] - det["domain_loss"]) > 1e-4
    # one part at a time with dropout: each must see training=True in train_step
    for part in ("encoder", "emotion_classifier", "domain_classifier"):
        keras.utils.set_random_seed(0)
        m2 = DANNUtteranceModel(3, 6, num_domains=4, encoder_units=(32,), emotion_units=(32,), domain_units=(32,),
                                dropout=0.5, l2=0.0)
        m2.fit_normalization(x)
        for other in {"encoder", "emotion_classifier", "domain_classifier"} - {part}:
            for layer in getattr(m2, other).layers:
                if isinstance(layer, keras.layers.Dropout):
                    layer.rate = 0.0
        m2.compile(optimizer=keras.optimizers.SGD(0.0))
        det2 = _hand_metrics(m2, x, y, dom)
        logs2 = m2.train_on_batch({"features": x, "domain": dom}, y, return_dict=True)
        moved = {k: abs(logs2[k] - det2[k]) > 1e-4 for k in ("emotion_loss", "domain_loss")}
        assert moved == {"emotion_loss": part != "domain_classifier", "domain_loss": part != "emotion_classifier"}, part


def test_a_batch_with_one_labelled_and_one_domain_row():
    """Counts of 1: L_y is that row's CE, L_d that row's CE (not halved)."""
    x, _, _ = _data(6, n=4)
    m = _model(0.5)
    m.fit_normalization(_data(7)[0])
    m.compile(optimizer=keras.optimizers.SGD(0.1))
    # the one labelled row and the one domain row are predicted right: accuracies of exactly 1
    y = np.array([int(np.argmax(m(x[:1]))), -1, -1, -1], np.int32)
    dom = np.array([-1, -1, int(np.argmax(m.domain_logits(x[2:3]))), -1], np.int32)
    want = _hand_metrics(m, x, y, dom)
    got = m.evaluate({"features": x, "domain": dom}, y, batch_size=4, verbose=0, return_dict=True)
    for k in want:
        assert got[k] == pytest.approx(want[k], rel=1e-5, abs=1e-7), k
    l_y, l_d, _ = m._dann_losses({"features": x, "domain": dom}, tf.constant(y), True)
    el, dl = m(x[:1]), m.domain_logits(x[2:3])
    assert float(l_y) == pytest.approx(float(tf.nn.sparse_softmax_cross_entropy_with_logits(y[:1], el)[0]), rel=1e-5)
    assert float(l_d) == pytest.approx(float(tf.nn.sparse_softmax_cross_entropy_with_logits(dom[2:3], dl)[0]),
                                       rel=1e-5)
    assert got["accuracy"] == 1.0 and got["domain_accuracy"] == 1.0


def test_dict_batches_with_a_label_key_train_like_x_y_and_bad_batches_are_named():
    from emozoo.errors import SchemaError
    x, y, dom = _data(8)
    from tests.helpers import assert_dict_batches_train_like_xy

    def make():
        m = _model(1.0, 1e-3)
        m.fit_normalization(x)
        m.compile(optimizer=keras.optimizers.SGD(0.1))
        return m

    assert_dict_batches_train_like_xy(make, {"features": x, "domain": dom}, y)
    m = _model()
    with pytest.raises(SchemaError, match=r"^a DANN training batch needs emotion labels \(-1 for unlabelled rows\)$"):
        m._unpack({"features": x, "domain": dom})
    with pytest.raises(SchemaError, match=r"^a DANN training batch needs inputs\['domain'\] \(domain index per row, "
                                          r"-1 = none\)$"):
        m._unpack(({"features": x}, y))
    batch = {"features": x, "domain": dom, "label": y}
    inputs, yy = m._unpack(batch)
    assert "label" in batch and "label" not in inputs and set(inputs) == {"features", "domain"}   # caller's dict kept
    np.testing.assert_array_equal(yy.numpy(), y)


def test_conversation_metrics_are_per_utterance():
    """Conversation logits are [B, L, C]: accuracies compare the class axis per utterance, padding excluded."""
    from emozoo.models.dann import DANNConversationModel
    rng = np.random.default_rng(9)
    B, L = 5, 6
    xt = rng.normal(size=(B, L, 4)).astype("float32")
    mask = np.ones((B, L), "float32")
    mask[:, 5:] = 0
    y = rng.integers(0, 3, (B, L)).astype("int32")
    y[mask == 0] = -1
    y[3:] = -1
    dom = rng.integers(0, 3, (B, L)).astype("int32")
    dom[mask == 0] = -1
    keras.utils.set_random_seed(0)
    m = DANNConversationModel(3, (4,), num_domains=3, fusion_units=8, gru_units=4, num_heads=2, domain_units=(8,))
    m.compile()
    inp = {"text": xt, "mask": mask, "domain": dom}
    el = m({"text": xt, "mask": mask}).numpy()
    dl = m.domain_logits({"text": xt, "mask": mask}).numpy()
    lab, dm = y >= 0, dom >= 0
    got = m.evaluate(inp, y, batch_size=B, verbose=0, return_dict=True)
    assert got["accuracy"] == pytest.approx(float((el.argmax(-1)[lab] == y[lab]).mean()), abs=1e-6)
    assert got["domain_accuracy"] == pytest.approx(float((dl.argmax(-1)[dm] == dom[dm]).mean()), abs=1e-6)
