"""EMODal's train_step / test_step against a hand computation (Zhang et al. 2018): one SGD step
on ``L = w_cls L_classify + w_spec (L_audio + L_visual) + w_common (-H(f, g))`` (sample-weighted
cross-entropies, soft-HGR on the batch) and the metrics it reports (the loss terms, weighted by the
batch weight, and the weighted confusion matrix); ``test_step`` reports the prediction's CE."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from emozoo.losses.soft_hgr import soft_hgr_score_numpy
from emozoo.models.emodal import EMODalModel

DENSE = dict(num_classes=4, input_dim=12, audio_dim=8, visual_dim=4, visual_branch="dense",
             audio_units=(6, 5), visual_units=(5,), feature_dim=3, dropout=0.0)
N, LR = 14, 0.1
WEIGHTS = dict(common_weight=0.5, classify_weight=2.0, specific_weight=0.25)


def _setup(modalities="both", seed=0, **kw):
    keras.utils.set_random_seed(seed)
    m = EMODalModel(**{**DENSE, **WEIGHTS, "modalities": modalities, **kw})
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, 12)).astype("float32")
    y = rng.integers(0, 4, N).astype("int32")
    w = rng.uniform(0.2, 2.0, N).astype("float32")
    m.fit_normalization(rng.normal(size=(30, 12)))
    return m, x, y, w


def _wce(logits, y, w):
    l = logits.numpy().astype(np.float64)
    logp = l - l.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    return float(np.sum(-logp[np.arange(len(y)), y] * w) / np.sum(w))


def _hand_terms(m, x, y, w):
    fa, fv = m.features(x)
    heads = m.heads(fa, fv)
    t = {"common": -soft_hgr_score_numpy(fv.numpy(), fa.numpy()) if m.modalities == "both" else 0.0,
         "classify": _wce(heads["classify"], y, w) if "classify" in heads else 0.0,
         "audio": _wce(heads["audio"], y, w) if "audio" in heads else 0.0,
         "visual": _wce(heads["visual"], y, w) if "visual" in heads else 0.0}
    pred = m._prediction(heads)
    return t, pred


@pytest.mark.parametrize("modalities,use_common", [("both", True), ("both", False), ("audio", True)])
def test_one_train_step_is_sgd_on_the_combined_loss(modalities, use_common):
    m, x, y, w = _setup(modalities, use_common=use_common)
    m.compile(optimizer=keras.optimizers.SGD(LR))
    terms, pred = _hand_terms(m, x, y, w)
    if modalities == "both":
        total = 2.0 * terms["classify"] + 0.25 * (terms["audio"] + terms["visual"]) + (0.5 * terms["common"] if use_common else 0.0)
    else:
        total = terms["audio"]
    src = [v.value for v in m.trainable_variables]
    with tf.GradientTape() as tape:
        loss = m.compute_losses(x, tf.constant(y), tf.constant(w))["total"]
    assert float(loss) == pytest.approx(total, rel=1e-4, abs=1e-5)
    grads = tape.gradient(loss, src, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    want = [v.numpy() - LR * g.numpy() for v, g in zip(m.trainable_variables, grads)]
    logs = m.train_on_batch(x, y, sample_weight=w, return_dict=True)
    for v, nw in zip(m.trainable_variables, want):
        np.testing.assert_allclose(v.numpy(), nw, rtol=1e-4, atol=1e-6, err_msg=v.path)
    assert logs["loss"] == pytest.approx(total, rel=1e-4, abs=1e-5)
    assert logs["common_loss"] == pytest.approx(terms["common"], rel=1e-4, abs=1e-5)
    assert logs["hgr_score"] == pytest.approx(-terms["common"], rel=1e-4, abs=1e-5)
    assert logs["classify_loss"] == pytest.approx(terms["classify"], rel=1e-4, abs=1e-6)
    assert logs["audio_specific_loss"] == pytest.approx(terms["audio"], rel=1e-4, abs=1e-6)
    assert logs["visual_specific_loss"] == pytest.approx(terms["visual"], rel=1e-4, abs=1e-6)
    conf = np.zeros((4, 4))
    np.add.at(conf, (y, pred.numpy().argmax(1)), w)
    np.testing.assert_allclose(m.confusion.matrix.numpy(), conf, rtol=1e-5, atol=1e-6)


def test_test_step_reports_the_prediction_ce_weighted_over_batches():
    m, x, y, w = _setup(seed=2)
    m.compile()
    terms, pred = _hand_terms(m, x, y, w)
    got = m.evaluate(x, y, sample_weight=w, batch_size=N, verbose=0, return_dict=True)
    assert got["loss"] == pytest.approx(_wce(pred, y, w), rel=1e-4)
    assert got["classify_loss"] == pytest.approx(terms["classify"], rel=1e-4)
    assert got["audio_specific_loss"] == pytest.approx(terms["audio"], rel=1e-4)
    # batches of 5: each batch's weighted mean counts with the batch's total weight
    got5 = m.evaluate(x, y, sample_weight=w, batch_size=5, verbose=0, return_dict=True)
    assert got5["loss"] == pytest.approx(_wce(pred, y, w), rel=1e-4)
    assert got5["visual_specific_loss"] == pytest.approx(terms["visual"], rel=1e-4)


def test_dropout_is_on_in_train_step_and_off_in_test_step():
    m, x, y, w = _setup(seed=4, dropout=0.5, audio_dropout=0.5, audio_units=(32, 16), visual_units=(32,))
    m.compile(optimizer=keras.optimizers.SGD(0.0))                  # lr 0: only the pass differs
    terms, pred = _hand_terms(m, x, y, w)
    got = m.evaluate(x, y, sample_weight=w, batch_size=N, verbose=0, return_dict=True)
    assert got["classify_loss"] == pytest.approx(terms["classify"], rel=1e-4)
    assert got["common_loss"] == pytest.approx(terms["common"], rel=1e-4, abs=1e-5)
    for _ in range(2):
        logs = m.train_on_batch(x, y, sample_weight=w, return_dict=True)
        assert abs(logs["classify_loss"] - terms["classify"]) > 1e-4
        assert abs(logs["audio_specific_loss"] - terms["audio"]) > 1e-4


def test_visual_only_model_trains_on_its_own_ce_and_metrics_average_over_batches():
    m, x, y, w = _setup("visual", seed=5)
    m.compile(optimizer=keras.optimizers.SGD(LR))
    terms, pred = _hand_terms(m, x, y, w)
    out = m.compute_losses(x, tf.constant(y), tf.constant(w))
    assert float(out["total"]) == pytest.approx(terms["visual"], rel=1e-5)
    assert float(out["audio_specific"]) == 0.0 and float(out["common"]) == 0.0 and float(out["classify"]) == 0.0
    both, xb, yb, wb = _setup(seed=6)
    both.compile()
    tb, _ = _hand_terms(both, xb, yb, wb)
    got = both.evaluate(xb, yb, sample_weight=wb, batch_size=N, verbose=0, return_dict=True)
    assert got["common_loss"] == pytest.approx(tb["common"], rel=1e-4, abs=1e-5)
    # several batches: each batch's term counts with the batch's total weight
    got3 = both.evaluate(xb, yb, sample_weight=wb, batch_size=5, verbose=0, return_dict=True)
    parts = [(slice(i, i + 5), float(wb[i:i + 5].sum())) for i in range(0, N, 5)]
    for key, name in (("classify_loss", "classify"), ("audio_specific_loss", "audio")):
        want = sum(_hand_terms(both, xb[s], yb[s], wb[s])[0][name] * n for s, n in parts) / wb.sum()
        assert got3[key] == pytest.approx(want, rel=1e-4), key
    want_c = sum(_hand_terms(both, xb[s], yb[s], wb[s])[0]["common"] * n for s, n in parts) / wb.sum()
    assert got3["common_loss"] == pytest.approx(want_c, rel=1e-4, abs=1e-5)


def test_small_total_weight_and_missing_labels():
    from emozoo.errors import SchemaError
    m, x, y, w = _setup(seed=7)
    tiny = np.full(N, 0.01, np.float32)                                # total 0.14 < 1
    out = m.compute_losses(x, tf.constant(y), tf.constant(tiny))
    terms, _ = _hand_terms(m, x, y, np.ones(N))
    assert float(out["classify"]) == pytest.approx(terms["classify"], rel=1e-4)
    with pytest.raises(SchemaError, match="^a training batch needs emotion labels y$"):
        m._unpack((x,))


CNN = dict(num_classes=3, audio_dim=6, visual_branch="cnn", image_size=16, conv_filters=(2, 2, 2), fc_units=4,
           audio_units=(4, 4), feature_dim=3)


def test_image_augmentation_runs_in_train_step_only():
    """The CNN branch's augmentation (Sec. 2) changes the training pass, never compute_losses' default
    nor test_step; with dropout 0 it is the only randomness."""
    keras.utils.set_random_seed(0)
    m = EMODalModel(**{**CNN, "dropout": 0.0, "augmentation": {"flip": True, "rotation": 0.2, "translation": 0.2,
                                                              "contrast": 0.5}})
    rng = np.random.default_rng(0)
    x = {"audio": rng.normal(size=(8, 6)).astype("float32"),
         "image": rng.integers(0, 256, (8, 16, 16, 1)).astype("float32")}
    y = rng.integers(0, 3, 8).astype("int32")
    m.compile(optimizer=keras.optimizers.SGD(0.0))
    det = m.compute_losses(x, tf.constant(y), training=True)        # default: no augmentation
    again = m.compute_losses(x, tf.constant(y), training=True)
    assert float(det["visual_specific"]) == float(again["visual_specific"])
    ev = m.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    assert ev["visual_specific_loss"] == pytest.approx(float(det["visual_specific"]), rel=1e-5)
    for _ in range(2):
        logs = m.train_on_batch(x, y, return_dict=True)
        assert abs(logs["visual_specific_loss"] - float(det["visual_specific"])) > 1e-5
    # compute_losses' default is inference: with dropout, two calls without `training` agree
    keras.utils.set_random_seed(1)
    d = EMODalModel(**{**CNN, "dropout": 0.5})
    a = d.compute_losses(x, tf.constant(y))["visual_specific"]
    assert float(a) == float(d.compute_losses(x, tf.constant(y))["visual_specific"])
