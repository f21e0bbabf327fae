"""Eq. 4 of Liang et al. 2019 (one mean per culture, summed) against a hand computation, for two
and three cultures and unbalanced batches; an ADV batch without cultures is refused; the one
meaning of ``transductive``."""
import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from emozoo.data.manifest import Manifest, ManifestRow
from emozoo.errors import SchemaError, SplitError
from emozoo.experiments import DataConfig
from emozoo.models.adv_culture import AdversarialCultureModel
from emozoo.models.adv_culture.adv_culture_task import make_culture_folds
from emozoo.models.adv_culture.cross_culture_split import TRANSDUCTIVE_DEFAULT, target_splits
from tests.models.adv_culture.test_adv_culture_task import stores  # noqa: F401 (fixture)

TINY = dict(num_classes=3, input_dim=5, generator_units=(6,), emotion_units=(4,), culture_units=(4,), dropout=0.0)


def _logsig(v):
    return -np.logaddexp(0.0, -v)


def _model_and_batch(k, counts, seed=0):
    tf.keras.utils.set_random_seed(seed)
    m = AdversarialCultureModel(num_cultures=k, **TINY)
    m.compile()
    rng = np.random.default_rng(seed)
    c = np.repeat(np.arange(k), counts).astype("int32")
    x = rng.normal(size=(len(c), 5)).astype("float32")
    y = np.where(c == 0, rng.integers(0, 3, len(c)), -1).astype("int32")
    return m, x, c, y


@pytest.mark.parametrize("counts", [(3, 5), (6, 2)])
def test_two_culture_loss_is_eq4_per_culture_means_summed(counts):
    m, x, c, y = _model_and_batch(2, counts)
    logits = m.culture_logits({"features": x, "culture": c})[:, 0].numpy().astype(np.float64)
    hand = -_logsig(logits[c == 1]).mean() - _logsig(-logits[c == 0]).mean()   # -E_1 log t - E_0 log(1 - t)
    xn, c_lab, yy, w, mask, n_lab, cul_w = m._prepare(({"features": x, "culture": c}, y))
    got = float(m.culture_update(xn, c_lab, cul_w))       # the value C's update minimises (before the update)
    assert got == pytest.approx(hand, rel=1e-5)
    pooled = -np.concatenate([_logsig(logits[c == 1]), _logsig(-logits[c == 0])]).mean()
    assert abs(got - pooled) > 0.3 * pooled               # not the pooled mean (half of eq. 4 when balanced)


def test_three_culture_loss_is_sum_of_per_culture_softmax_means():
    m, x, c, y = _model_and_batch(3, (2, 3, 5), seed=1)
    logits = m.culture_logits({"features": x, "culture": c}).numpy().astype(np.float64)
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    hand = sum(-logp[c == k, k].mean() for k in range(3))
    xn, c_lab, yy, w, mask, n_lab, cul_w = m._prepare(({"features": x, "culture": c}, y))
    assert float(m.culture_update(xn, c_lab, cul_w)) == pytest.approx(hand, rel=1e-5)
    # the generator objective reads the same eq. 4: L_gen = L_emo - alpha * L_cul (metrics of the step)
    m2, *_ = _model_and_batch(3, (2, 3, 5), seed=1)
    out = m2.train_step(({"features": tf.constant(x), "culture": tf.constant(c)}, tf.constant(y)))
    assert float(out["generator_loss"]) == pytest.approx(float(out["emotion_loss"]) - float(out["culture_loss"]),
                                                         rel=1e-5)


def test_reported_culture_loss_metric_is_eq4():
    m, x, c, y = _model_and_batch(2, (3, 5))
    m.culture_steps = 1
    logits = m.culture_logits({"features": x, "culture": c})[:, 0].numpy().astype(np.float64)
    m.alpha_variable.assign(0.0)
    # with lr 0 nothing moves: the logged culture_loss is eq. 4 on the current weights
    m.compile(optimizer=tf.keras.optimizers.SGD(0.0))
    out = m.train_step(({"features": tf.constant(x), "culture": tf.constant(c)}, tf.constant(y)))
    hand = -_logsig(logits[c == 1]).mean() - _logsig(-logits[c == 0]).mean()
    assert float(out["culture_loss"]) == pytest.approx(hand, rel=1e-5)


def test_adv_batch_without_culture_is_an_error_bsl_is_not():
    m, x, c, y = _model_and_batch(2, (4, 4))
    with pytest.raises(SchemaError, match="culture"):
        m.fit(x, y, epochs=1, verbose=0)
    bsl = AdversarialCultureModel(num_cultures=2, mode="bsl", **TINY)
    bsl.compile()
    bsl.fit(x, np.where(y < 0, 0, y), epochs=1, verbose=0)


def test_transductive_has_one_meaning_and_default(stores):  # noqa: F811
    assert TRANSDUCTIVE_DEFAULT is True
    data = DataConfig(corpora=("emodb",), target="casia", protocol="cross_corpus", stores=stores, valid_speakers=0)
    (fold,), _ = make_culture_folds(data)          # default: transductive, C sees all of the target
    assert len(fold.unlabelled) == len(fold.test["casia"])
    halves, _ = make_culture_folds(dataclasses.replace(data, protocol_kwargs={"transductive": False}))
    assert [len(f.unlabelled) + len(f.test["casia"]) for f in halves] == [len(fold.test["casia"])] * 2
    with pytest.raises(SplitError, match="true or false"):
        make_culture_folds(dataclasses.replace(data, protocol_kwargs={"transductive": "no"}))


def test_target_splits_speaker_halves_are_disjoint_and_cover_the_target():
    m = Manifest([ManifestRow(clip_id=f"s{s}_{i}", corpus="b", speaker=f"s{s}") for s in range(5) for i in range(3)])
    (s, u, t), = target_splits(m, transductive=True)
    assert s == "" and len(u) == len(t) == 15
    splits = target_splits(m, transductive=False, seed=3)
    assert [s for s, _, _ in splits] == ["/half0", "/half1"]
    for _, u, t in splits:
        assert not set(u.speakers()) & set(t.speakers()) and len(u) + len(t) == 15


def test_culture_standardization_raises_when_no_culture_can_be_fitted():
    from emozoo.models.adv_culture.culture_standardization import CultureStandardization
    layer = CultureStandardization(3)
    layer.build((None, 2))
    x = np.arange(6, dtype="float32").reshape(3, 2)
    with pytest.raises(SchemaError, match="no culture has the 2 examples"):
        layer.fit(x, np.array([0, 1, 2]))
    layer.fit(x, np.array([0, 0, 2]))                  # culture 0 fitted, 1 and 2 keep the pooled row
    np.testing.assert_allclose(layer.mean.numpy()[0], x[:2].mean(0))
    np.testing.assert_allclose(layer.mean.numpy()[2], x.mean(0))


def test_adv_learns_the_target_culture_above_chance_and_c_sees_the_unlabelled_rows():
    """Algorithm 1 on a separable two-culture problem (culture 1 = culture 0 shifted, unlabelled):
    E(G(x)) classifies the target culture well above chance (4 classes), and C's update reads the
    unlabelled target rows (its loss changes when only they change)."""
    from tests.models.adv_culture.test_adv_culture_model import separable_problem
    tf.keras.utils.set_random_seed(0)
    x, c, y, y_true = separable_problem(n=256)
    m = AdversarialCultureModel(num_classes=4, input_dim=6, num_cultures=2, generator_units=(16, 8),
                                emotion_units=(16,), culture_units=(8,), dropout=0.0, learning_rate=3e-3)
    m.fit_normalization(x, c)
    m.compile()
    m.fit({"features": x, "culture": c}, y, batch_size=32, epochs=15, verbose=0)
    tgt = c == 1
    pred = np.argmax(m.predict({"features": x[tgt], "culture": c[tgt]}, verbose=0), -1)
    uar = np.mean([np.mean(pred[y_true[tgt] == k] == k) for k in range(4)])
    assert uar > 0.6, uar                                   # chance 0.25
    xn, c_lab, yy, w, mask, n_lab, cul_w = m._prepare(({"features": x, "culture": c}, y))
    x2 = x.copy()
    x2[tgt] = x2[tgt][::-1]                                 # only the unlabelled target rows change (reordered)
    x2[tgt] += 0.5
    xn2 = m._prepare(({"features": x2, "culture": c}, y))[0]
    per = lambda z: m._per_example_culture_loss(c_lab, m.culture_classifier(m.feature_generator(z)))[0]  # noqa: E731
    assert float(tf.reduce_sum(per(xn) * cul_w)) != pytest.approx(float(tf.reduce_sum(per(xn2) * cul_w)), rel=1e-4)
