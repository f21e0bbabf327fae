"""One round of Algorithm 1 (Liang et al. 2019) against a hand computation.

With SGD optimisers, ``S_C = S_G = 1`` and no dropout, ``train_step`` must equal:
1. C descends ``L_cul`` (eq. 4: one mean per culture, summed) with G fixed;
2. with the *updated* C, E descends ``L_emo`` (eq. 2: labelled rows of the labelled cultures,
   sample-weighted, divided by the labelled count) and G descends ``L_gen = L_emo - alpha L_cul``
   (eq. 5) or, in the confusion ablation, ``L_emo + alpha L_conf``;
and the metrics it reports (and ``test_step``'s) must be those losses, the per-culture-balanced
culture accuracy and the confusion matrix of the labelled rows, weighted as documented."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from emozoo.models.adv_culture import AdversarialCultureModel

LR, ALPHA, N = 0.2, 0.7, 14


def _setup(k, objective, labelled_cultures, seed=0, one_label=False, lone_culture=False):
    kw = dict(num_classes=3, input_dim=5, num_cultures=k, generator_units=(6,), emotion_units=(4,),
              culture_units=(4,), dropout=0.0, alpha=ALPHA, culture_steps=1, generator_steps=1,
              generator_objective=objective, labelled_cultures=labelled_cultures)
    keras.utils.set_random_seed(seed)
    m = AdversarialCultureModel(**kw)
    rng = np.random.default_rng(seed)
    c = np.concatenate([np.arange(k), rng.integers(0, k, N - k)]).astype("int32")
    if lone_culture:                                     # culture 1 has one example: it weighs 1/1 in eq. 4
        c = np.where(np.arange(N) == 1, 1, 0).astype("int32")
    x = (rng.normal(size=(N, 5)) * (1 + c[:, None]) + c[:, None]).astype("float32")
    y = rng.integers(0, 3, N).astype("int32")
    y[rng.random(N) < 0.3] = -1
    y[:2] = [0, 1]
    if one_label:                                        # L_emo divides by the labelled count, here 1
        y[1:] = -1
    w = rng.uniform(0.5, 1.5, N).astype("float32")
    m.fit_normalization(rng.normal(size=(40, 5)) * 2 + 1, np.arange(40) % k)
    return m, x, c, y, w


def _per_culture(logits, c, k):
    if k == 2:
        l = logits[:, 0]
        t = tf.cast(c, tf.float32)
        per = -(t * tf.math.log_sigmoid(l) + (1 - t) * tf.math.log_sigmoid(-l))
        correct = tf.cast((l > 0) == (c == 1), tf.float32)
    else:
        per = -tf.reduce_sum(tf.one_hot(c, k) * tf.nn.log_softmax(logits), -1)
        correct = tf.cast(tf.argmax(logits, -1, output_type=tf.int32) == c, tf.float32)
    return per, correct


def _confusion_per_example(logits, k):
    if k == 2:
        p = tf.sigmoid(logits[:, 0])
        return -0.5 * (tf.math.log(p) + tf.math.log(1 - p))
    return -tf.reduce_mean(tf.nn.log_softmax(logits), -1)


def _hand(m, x, c, y, w, k, objective, labelled_cultures):
    """The expected variables after one step and the step's metrics, from the model's weights now."""
    s = m.standardization
    xn = (x - s.mean.numpy()[c]) / s.std.numpy()[c]
    G, E, C = m.feature_generator, m.emotion_classifier, m.culture_classifier
    cul_w = 1.0 / np.bincount(c, minlength=k)[c]
    allowed = np.ones(N, bool) if labelled_cultures is None else np.isin(c, labelled_cultures)
    mask = ((y >= 0) & allowed).astype("float32")
    new = {}
    z0 = G(xn)
    cv = [v.value for v in C.trainable_variables]
    with tf.GradientTape() as tape:
        per, _ = _per_culture(C(z0), c, k)
        l_cul = tf.reduce_sum(per * cul_w)
    for v, g in zip(C.trainable_variables, tape.gradient(l_cul, cv)):
        new[v.path] = v.numpy() - LR * g.numpy()
    old_c = [v.numpy() for v in C.trainable_variables]
    for v in C.trainable_variables:                       # step 2 sees the updated C
        v.assign(new[v.path])
    gv, ev = [v.value for v in G.trainable_variables], [v.value for v in E.trainable_variables]
    with tf.GradientTape(persistent=True) as tape:
        z = G(xn)
        logits = E(z)
        per_emo = -tf.reduce_sum(tf.one_hot(np.maximum(y, 0), 3) * tf.nn.log_softmax(logits), -1) * mask
        l_emo = tf.reduce_sum(per_emo * w) / max(mask.sum(), 1.0)
        c_logits = C(z)
        per_cul, correct = _per_culture(c_logits, c, k)
        l_cul = tf.reduce_sum(per_cul * cul_w)
        per_conf = _confusion_per_example(c_logits, k)
        l_gen = l_emo - ALPHA * l_cul if objective == "paper" else l_emo + ALPHA * tf.reduce_sum(per_conf * cul_w)
    for group, loss, src in ((G, l_gen, gv), (E, l_emo, ev)):
        for v, g in zip(group.trainable_variables, tape.gradient(loss, src)):
            new[v.path] = v.numpy() - LR * g.numpy()
    for v, o in zip(C.trainable_variables, old_c):
        v.assign(o)
    mw = mask * w
    emo = float(tf.reduce_sum(per_emo * mw) / mw.sum())
    metrics = {"loss": emo, "emotion_loss": emo, "culture_loss": float(l_cul),
               "culture_accuracy": float(tf.reduce_sum(correct * cul_w)) / k}
    if objective == "paper":
        metrics["generator_loss"] = emo - ALPHA * float(l_cul)
    else:
        metrics["confusion_loss"] = float(tf.reduce_sum(per_conf * cul_w))
        metrics["generator_loss"] = emo + ALPHA * metrics["confusion_loss"]
    pred = np.argmax(logits.numpy(), 1)
    conf = np.zeros((3, 3))
    np.add.at(conf, (np.maximum(y, 0), pred), mw)
    return new, metrics, conf


@pytest.mark.parametrize("k,objective,labelled,one_label,lone", [(2, "paper", None, False, False),
                                                                (3, "confusion", (0, 2), False, False),
                                                                (2, "confusion", (1,), False, False),
                                                                (2, "paper", None, True, False),
                                                                (2, "paper", None, False, True)])
def test_one_train_step_is_algorithm_1_by_hand(k, objective, labelled, one_label, lone):
    m, x, c, y, w = _setup(k, objective, labelled, one_label=one_label, lone_culture=lone)
    m.compile(optimizer=keras.optimizers.SGD(LR))
    new, want, conf = _hand(m, x, c, y, w, k, objective, labelled)
    logs = m.train_on_batch({"features": x, "culture": c}, y, sample_weight=w, return_dict=True)
    for part in (m.feature_generator, m.emotion_classifier, m.culture_classifier):
        for v in part.trainable_variables:
            np.testing.assert_allclose(v.numpy(), new[v.path], rtol=1e-4, atol=1e-6, err_msg=v.path)
    for key, val in want.items():
        assert logs[key] == pytest.approx(val, rel=1e-4, abs=1e-6), key
    np.testing.assert_allclose(m.confusion.matrix.numpy(), conf, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("k,labelled", [(2, None), (3, (0, 1))])
def test_test_step_reports_the_same_quantities_without_updating(k, labelled):
    m, x, c, y, w = _setup(k, "paper", labelled, seed=3)
    m.compile()
    _, want, conf = _hand(m, x, c, y, w, k, "paper", labelled)
    # the hand computation's culture terms come after C's update; recompute them with C as it is
    xn = (x - m.standardization.mean.numpy()[c]) / m.standardization.std.numpy()[c]
    per, correct = _per_culture(m.culture_classifier(m.feature_generator(xn)), c, k)
    cul_w = 1.0 / np.bincount(c, minlength=k)[c]
    before = [v.numpy().copy() for v in m.trainable_variables]
    got = m.evaluate({"features": x, "culture": c}, y, sample_weight=w, batch_size=N, verbose=0, return_dict=True)
    assert got["emotion_loss"] == pytest.approx(want["emotion_loss"], rel=1e-4)
    assert got["loss"] == pytest.approx(want["emotion_loss"], rel=1e-4)
    assert got["culture_loss"] == pytest.approx(float(tf.reduce_sum(per * cul_w)), rel=1e-4)
    assert got["culture_accuracy"] == pytest.approx(float(tf.reduce_sum(correct * cul_w)) / k, rel=1e-5, abs=1e-7)
    np.testing.assert_allclose(m.confusion.matrix.numpy(), conf, rtol=1e-5, atol=1e-6)
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(before, m.trainable_variables))
    # several batches: the emotion loss is the weighted mean over all labelled rows, not of batch means
    got4 = m.evaluate({"features": x, "culture": c}, y, sample_weight=w, batch_size=4, verbose=0, return_dict=True)
    assert got4["emotion_loss"] == pytest.approx(want["emotion_loss"], rel=1e-4)


def test_set_alpha_changes_the_alpha_the_step_reads_and_refuses_bad_values():
    from emozoo.errors import ExperimentError
    m, x, c, y, w = _setup(2, "paper", None, seed=5)
    m.compile(optimizer=keras.optimizers.SGD(0.0))
    m.set_alpha("0.25")                                               # any float-like value
    assert m.current_alpha == pytest.approx(0.25) and m.alpha == pytest.approx(ALPHA)   # the config keeps its alpha
    logs = m.train_on_batch({"features": x, "culture": c}, y, return_dict=True)
    assert logs["generator_loss"] == pytest.approx(logs["emotion_loss"] - 0.25 * logs["culture_loss"], rel=1e-5)
    m.set_alpha(0)
    assert m.current_alpha == 0.0
    for bad in (-0.1, float("nan")):
        with pytest.raises(ExperimentError, match=r"^alpha must be >= 0, got "):
            m.set_alpha(bad)
    assert m.current_alpha == 0.0


def _dropout_only_in(m, part):
    for name in ("feature_generator", "emotion_classifier", "culture_classifier"):
        if name != part:
            for layer in getattr(m, name).layers:
                if isinstance(layer, keras.layers.Dropout):
                    layer.rate = 0.0


@pytest.mark.parametrize("part", ["feature_generator", "emotion_classifier", "culture_classifier"])
def test_dropout_of_each_part_is_on_in_both_updates_and_off_in_test_step(part):
    keras.utils.set_random_seed(0)
    m = AdversarialCultureModel(num_classes=3, input_dim=5, num_cultures=2, generator_units=(32,), emotion_units=(32,),
                                culture_units=(32,), dropout=0.5, culture_steps=1, generator_steps=1)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(40, 5)).astype("float32")
    c = (np.arange(40) % 2).astype("int32")
    y = rng.integers(0, 3, 40).astype("int32")
    m.fit_normalization(x, c)
    _dropout_only_in(m, part)
    m.compile(optimizer=keras.optimizers.SGD(0.0))                  # lr 0: only the passes differ
    xn = (x - m.standardization.mean.numpy()[c]) / m.standardization.std.numpy()[c]
    z = m.feature_generator(xn)
    per, _ = _per_culture(m.culture_classifier(z), c, 2)
    det_cul = float(tf.reduce_sum(per * (1.0 / np.bincount(c)[c])))
    logits = m.emotion_classifier(z)
    det_emo = float(tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)))
    got = m.evaluate({"features": x, "culture": c}, y, batch_size=40, verbose=0, return_dict=True)
    assert got["emotion_loss"] == pytest.approx(det_emo, rel=1e-5) and got["culture_loss"] == pytest.approx(det_cul, rel=1e-5)
    xn_, c_lab, *_, cul_w = m._prepare(({"features": x, "culture": c}, y))
    c_moves = part in ("feature_generator", "culture_classifier")
    assert (abs(float(m.culture_update(xn_, c_lab, cul_w)) - det_cul) > 1e-4) == c_moves     # C's own update
    logs = m.train_on_batch({"features": x, "culture": c}, y, return_dict=True)
    assert (abs(logs["emotion_loss"] - det_emo) > 1e-4) == (part != "culture_classifier")
    assert (abs(logs["culture_loss"] - det_cul) > 1e-4) == c_moves


def test_step_guards_and_small_culture_counts():
    from emozoo.errors import ExperimentError
    m, x, c, y, w = _setup(2, "paper", None, seed=6)
    with pytest.raises(ExperimentError, match=r"^call compile\(\) before training \(it creates the three optimisers\)$"):
        m.train_step(({"features": tf.constant(x), "culture": tf.constant(c)}, tf.constant(y)))
    # a held-out batch where one culture has a single example: that example weighs 1/1 in its culture's mean
    m.compile()
    c1 = np.zeros(N, np.int32)
    c1[3] = 1
    xn = (x - m.standardization.mean.numpy()[c1]) / m.standardization.std.numpy()[c1]
    per, _ = _per_culture(m.culture_classifier(m.feature_generator(xn)), c1, 2)
    want = float(tf.reduce_mean(tf.boolean_mask(per, c1 == 0))) + float(per[3])
    got = m.evaluate({"features": x, "culture": c1}, y, batch_size=N, verbose=0, return_dict=True)
    assert got["culture_loss"] == pytest.approx(want, rel=1e-5)
    # BSL has no culture classifier: held-out cultures are accepted and give no culture metrics
    bsl = AdversarialCultureModel(num_classes=3, input_dim=5, mode="bsl", generator_units=(6,), emotion_units=(4,),
                                  dropout=0.0)
    bsl.fit_normalization(x)
    bsl.compile()
    out = bsl.evaluate({"features": x, "culture": c1}, y, batch_size=N, verbose=0, return_dict=True)
    assert "culture_loss" not in out and np.isfinite(out["emotion_loss"])


def test_batch_forms_and_their_errors():
    """A dict batch with 'label' trains like (inputs, labels); the errors name what is missing; BSL
    with labelled cultures and no culture input counts every row as culture 0."""
    from emozoo.errors import SchemaError
    from tests.helpers import assert_dict_batches_train_like_xy
    _, x, c, y, _ = _setup(2, "paper", None, seed=8)

    def make():
        m = _setup(2, "paper", None, seed=8)[0]
        m.compile(optimizer=keras.optimizers.SGD(LR))
        return m

    m = assert_dict_batches_train_like_xy(make, {"features": x, "culture": c}, y)
    with pytest.raises(SchemaError, match=r"^a training batch needs emotion labels y \(-1 for unlabelled examples\)$"):
        m._unpack(({"features": x, "culture": c},))
    with pytest.raises(SchemaError, match=r"^mode='adv' needs the culture of every training example: give the batch "
                                          r"inputs as a dict with 'culture' \[B\] int \(the culture loss of eq. 4 is "
                                          r"undefined without it\)$"):
        m._prepare(({"features": x}, y))
    keras.utils.set_random_seed(0)
    bsl = AdversarialCultureModel(num_classes=3, input_dim=5, mode="bsl", generator_units=(6,), emotion_units=(4,),
                                  dropout=0.0, labelled_cultures=(0,))
    mask = bsl._labelled_mask(tf.constant(y), None)
    np.testing.assert_array_equal(mask.numpy(), (y >= 0).astype("float32"))
    bsl1 = AdversarialCultureModel(num_classes=3, input_dim=5, mode="bsl", generator_units=(6,), emotion_units=(4,),
                                   dropout=0.0, labelled_cultures=(1,))
    assert float(tf.reduce_sum(bsl1._labelled_mask(tf.constant(y), None))) == 0.0
