"""The alpha of eq. 5 as a variable (set_alpha, CultureAlphaSchedule) and the "then better" study
pipeline (pipelines/adv_culture_study.py) on a tiny synthetic cross-culture fold."""
import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from emozoo.errors import ExperimentError
from emozoo.layers.gradient_reversal import ganin_lambda
from emozoo.models.adv_culture import AdversarialCultureModel
from emozoo.models.adv_culture.adv_culture_model import CultureAlphaSchedule
from emozoo.models.adv_culture.adv_culture_task import CultureFold, Part
from tests.models.adv_culture.test_adv_culture_model import TINY, separable_problem

SGD = keras.optimizers.SGD


def test_traced_train_step_reads_the_current_alpha_without_retracing():
    """With plain SGD on G, C frozen (learning rate 0), S_G = 1 and no dropout, one step moves
    theta_G by -lr * (dL_emo - alpha dL_cul) (eq. 5): linear in alpha. One traced step, run from the
    same weights with alpha 0, 1, 2 set through set_alpha(), must give that (so the graph reads the
    variable, not the alpha it was traced with) and trace once."""
    keras.utils.set_random_seed(0)
    x, c, y, _ = separable_problem(n=32)
    m = AdversarialCultureModel(**{**TINY, "generator_steps": 1, "culture_steps": 1})
    m.compile(optimizer=SGD(0.5), emotion_optimizer=SGD(0.1), culture_optimizer=SGD(0.0))
    step = tf.function(m.train_step)
    data = ({"features": tf.constant(x), "culture": tf.constant(c)}, tf.constant(y))
    start = [w.copy() for w in m.get_weights()]
    g0 = [v.numpy().copy() for v in m.feature_generator.trainable_variables]
    deltas, logs = {}, {}
    for alpha in (0.0, 1.0, 2.0):
        m.set_weights(start)
        for met in m.metrics:
            met.reset_state()
        m.set_alpha(alpha)
        logs[alpha] = {k: float(v) for k, v in step(data).items() if np.ndim(v) == 0}
        deltas[alpha] = [v.numpy() - w for v, w in zip(m.feature_generator.trainable_variables, g0)]
    assert step.experimental_get_tracing_count() == 1
    assert m.current_alpha == 2.0 and m.alpha == 1.0 and m.get_config()["alpha"] == 1.0   # config unchanged
    diff1 = [a - b for a, b in zip(deltas[1.0], deltas[0.0])]
    diff2 = [a - b for a, b in zip(deltas[2.0], deltas[0.0])]
    assert max(np.abs(d).max() for d in diff1) > 1e-4            # alpha changes G's update ...
    for d1, d2 in zip(diff1, diff2):                               # ... linearly (eq. 5)
        np.testing.assert_allclose(d2, 2 * d1, rtol=1e-3, atol=1e-6)
    for alpha, lg in logs.items():                                 # the logged L_gen uses the current alpha too
        assert lg["generator_loss"] == pytest.approx(lg["emotion_loss"] - alpha * lg["culture_loss"], rel=1e-5)


@pytest.mark.filterwarnings("ignore:Your input ran out of data")  # the unknown-length case on purpose
def test_culture_alpha_schedule_ramps_alpha_once_per_trained_step():
    keras.utils.set_random_seed(1)
    x, c, y, _ = separable_problem(n=64)
    m = AdversarialCultureModel(**TINY)
    m.compile()
    sched = CultureAlphaSchedule()                       # total = epochs * steps from fit()
    m.fit({"features": x, "culture": c}, y, batch_size=16, epochs=3, verbose=0, callbacks=[sched])
    assert sched.total_steps == 12 and len(sched.history) == 12
    assert sched.history[0] == 0.0
    assert all(b > a for a, b in zip(sched.history, sched.history[1:]))
    assert sched.history[-1] == pytest.approx(ganin_lambda(11 / 12)) == pytest.approx(2 / (1 + math.exp(-10 * 11 / 12)) - 1)
    assert m.current_alpha == pytest.approx(sched.history[-1])

    # a dataset of unknown length: Keras calls on_train_batch_begin once more per epoch; the schedule
    # counts trained steps only
    ds = tf.data.Dataset.from_tensor_slices(({"features": x, "culture": c}, y)).filter(lambda a, b: True).batch(16)
    assert ds.cardinality() == tf.data.UNKNOWN_CARDINALITY
    sched2 = CultureAlphaSchedule(total_steps=8, max_alpha=0.5)
    m.fit(ds, epochs=2, verbose=0, callbacks=[sched2], shuffle=False)
    assert sched2.step == 8 and sched2.history[-1] == pytest.approx(ganin_lambda(7 / 8, max_lambda=0.5))


def test_alpha_errors():
    m = AdversarialCultureModel(**TINY)
    with pytest.raises(ExperimentError, match="alpha must be >= 0"):
        m.set_alpha(-0.5)
    with pytest.raises(ExperimentError, match="total_steps"):
        CultureAlphaSchedule(total_steps=0)
    with pytest.raises(ExperimentError, match="maximum must be >= 0"):
        CultureAlphaSchedule(max_alpha=-1)
    plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    plain.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ExperimentError, match="set_alpha"):
        plain.fit(np.zeros((4, 3)), np.zeros((4, 2)), epochs=1, verbose=0, callbacks=[CultureAlphaSchedule(4)])


def _synthetic_fold(n=48, dim=6, seed=0):
    x, c, _, y_true = separable_problem(n=2 * n, dim=dim, seed=seed, shift=1.0)
    src, tgt = c == 0, c == 1
    train = Part(x[src], y_true[src], c[src], np.full(src.sum(), "aa"))
    unl = Part(x[tgt], np.full(tgt.sum(), -1, np.int32), c[tgt], np.full(tgt.sum(), "bb"))
    test = Part(x[tgt], y_true[tgt], c[tgt], np.full(tgt.sum(), "bb"))
    return CultureFold("cross/aa->bb", ("aa", "bb"), (0,), train, unl, {"bb": test})


def test_study_runs_variants_writes_resumable_json_and_doc(tmp_path, monkeypatch):
    import pipelines.adv_culture_study as S

    fold = _synthetic_fold()
    folds = {"aa_to_bb": (fold, ("a", "b", "c", "d"), "bb", None)}
    base = {k: v for k, v in TINY.items() if k not in ("num_classes", "input_dim")}
    base.update(alpha=1.0, culture_steps=1, generator_steps=2, learning_rate=1e-3)
    kw = dict(out=tmp_path / "study.json", epochs=2, batch_size=16, learning_rate=1e-3, base_params=base,
              log=lambda m: None)
    res = S.study(folds, ["bsl", "adv_sc5", "adv_ramp"], [0], **kw)
    runs = res["runs"]["aa_to_bb"]
    assert set(runs) == {"bsl", "adv_sc5", "adv_ramp"}
    for v, r in ((v, runs[v]["0"]) for v in runs):
        assert 0 <= r["accuracy"] <= 1 and 0 <= r["uar"] <= 1 and 0 <= r["macro_f1"] <= 1
        assert 0.3 <= r["culture_probe"] <= 1 and r["probe_rows_per_culture"] == 48
        assert (r["culture_accuracy"] is None) == (v == "bsl")
    assert runs["adv_sc5"]["0"]["params"]["culture_steps"] == 5
    ramp = runs["adv_ramp"]["0"]["alpha_history"]
    assert ramp["steps"] == 2 * runs["adv_ramp"]["0"]["steps_per_epoch"] and ramp["first"] == 0.0 and ramp["last"] > 0.9
    # the paired difference to BSL is the per-seed mean over directions of (variant - BSL)
    vs = res["summary"]["vs_bsl"]["adv_sc5"]
    assert vs["accuracy"]["mean"] == pytest.approx(runs["adv_sc5"]["0"]["accuracy"] - runs["bsl"]["0"]["accuracy"])
    assert json.loads((tmp_path / "study.json").read_text())["runs"]["aa_to_bb"]["bsl"]["0"]["seed"] == 0
    md = S.markdown(res, command="cmd")
    assert "| `adv_sc5` | 1 |" in md and "aa -> bb | `adv_ramp`" in md and "Ganin schedule as run" in md

    # a re-run trains only what is missing
    calls = []
    real = S.run_one
    monkeypatch.setattr(S, "run_one", lambda *a, **k: calls.append(a[3]) or real(*a, **k))
    S.study(folds, ["bsl", "adv_sc5", "adv_ramp", "adv"], [0], **kw)
    assert calls == ["adv"]
    with pytest.raises(ExperimentError, match="unknown variants"):
        S.study(folds, ["adv_alpha9"], [0], **kw)


def test_run_does_not_depend_on_the_runs_before_it():
    """A (variant, seed) gives the same result on a fresh model and on one reused after another seed
    (weights, optimiser states and dropout streams all restart from the seed): a resumed study
    reproduces an uninterrupted one."""
    import pipelines.adv_culture_study as S

    fold = _synthetic_fold(n=32)
    classes = ("a", "b", "c", "d")
    base = {k: v for k, v in TINY.items() if k not in ("num_classes", "input_dim")}
    base.update(dropout=0.3, learning_rate=1e-3)
    kw = dict(base_params=base, epochs=2, batch_size=16, learning_rate=1e-2)
    fresh, _ = S.run_one(fold, classes, "bb", "adv", 1, **kw)
    _, used = S.run_one(fold, classes, "bb", "adv", 0, **kw)
    again, _ = S.run_one(fold, classes, "bb", "adv", 1, model=used, **kw)
    for k in ("accuracy", "macro_f1", "culture_probe"):
        assert again[k] == pytest.approx(fresh[k], abs=1e-6)
    assert again["final"]["culture_loss"] == pytest.approx(fresh["final"]["culture_loss"], rel=1e-4)
