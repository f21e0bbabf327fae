"""The alpha of eq. 5 as a variable (set_alpha, CultureAlphaSchedule), the schedule as a model param the one
trainer applies (training_callbacks), and the "then better" study (the group adv_culture/study,
pipelines/adv_culture_study.py) through the trainer on tiny synthetic stores."""
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
from tests.models.adv_culture.test_adv_culture_model import TINY, separable_problem
from tests.models.adv_culture.test_adv_culture_task import stores  # noqa: F401 (fixture)

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


TINY_OVERRIDES = ["trainer.epochs=2", "trainer.batch_size=16", "model.params.generator_units=[8,4]",
                  "model.params.emotion_units=[4]", "model.params.culture_units=[4]"]


def _tiny(stores):
    return TINY_OVERRIDES + [f"data.stores.{c}={p}" for c, p in stores.items()]


def test_the_model_gives_the_trainer_its_alpha_schedule():
    """``alpha_schedule="ganin"``: one CultureAlphaSchedule over epochs x steps, ending at alpha, starting at the
    step the (restored) G optimiser has reached; none without a schedule; an unknown schedule is an error."""
    m = AdversarialCultureModel(**TINY, alpha=0.5, alpha_schedule="ganin")
    m.compile()
    (sched,) = m.training_callbacks(steps_per_epoch=5, epochs=3)
    assert isinstance(sched, CultureAlphaSchedule) and sched.total_steps == 15 and sched.max_alpha == 0.5
    assert sched.step == 0
    m.optimizer.iterations.assign(6)                   # 3 batches trained (S_G = 2 G updates each): a resumed run
    assert m.training_callbacks(steps_per_epoch=5, epochs=3)[0].step == 3
    assert m.get_config()["alpha_schedule"] == "ganin"
    assert AdversarialCultureModel(**TINY).training_callbacks(steps_per_epoch=5, epochs=3) == []
    with pytest.raises(ExperimentError, match="alpha_schedule must be one of"):
        AdversarialCultureModel(**TINY, alpha_schedule="linear")


@pytest.mark.parametrize("schedule", ["ganin", None])
def test_the_trainer_applies_the_models_alpha_schedule(stores, tmp_path, schedule):
    """trainer.train_fold adds the model's training_callbacks: after a ramped run the trained model's alpha is
    the schedule's last step (2/(1+exp(-10 (T-1)/T)) - 1 for T steps); without a schedule it stays alpha."""
    from emozoo.experiments import apply_overrides, get_experiment
    from emozoo.train.data import make_folds
    from emozoo.train.trainer import train_fold

    over = _tiny(stores) + ([] if schedule else ["model.params.alpha_schedule=null"])
    cfg = apply_overrides(get_experiment("adv_culture/study/emodb_to_casia/is10/adv_ramp"), over)
    assert cfg.model.params.get("alpha_schedule") == schedule
    (fold,), classes = make_folds(cfg.data)
    res, model = train_fold(cfg, fold, 0, classes, 0, tmp_path / "fold", tf.distribute.get_strategy(),
                            return_model=True)
    steps = -(-len(model.fold_arrays(fold, "train", seed=0)[1]) // 16)
    total = 2 * steps
    want = ganin_lambda((total - 1) / total) if schedule else 1.0
    assert total > 2 and model.current_alpha == pytest.approx(want, abs=1e-6)
    logs = json.loads((tmp_path / "fold" / "selection.json").read_text())["epochs"][-1]   # the logged L_gen used it
    assert logs["generator_loss"] == pytest.approx(logs["emotion_loss"] - want * logs["culture_loss"], rel=1e-4)


def test_the_study_is_a_registered_group_paired_with_the_cross_experiments():
    from emozoo.experiments import get_experiment, get_group, group_members
    import pipelines.adv_culture_study as S

    g = get_group("adv_culture/study")
    assert g.kind == "study" and g.doc == "docs/methods/adv_culture_study.md"
    assert len(group_members("adv_culture/study")) == 6 * len(S.VARIANTS) == 30
    base = get_experiment("adv_culture/cross/ravdess_to_casia/is10/adv")
    for v, change in S.VARIANTS.items():
        cfg = get_experiment(f"adv_culture/study/ravdess_to_casia/is10/{v}")
        assert cfg.data == base.data and cfg.optimizer == base.optimizer        # same data, folds and preset
        assert (cfg.trainer.epochs, cfg.trainer.batch_size) == (base.trainer.epochs, base.trainer.batch_size)
        assert cfg.model.params == {**base.model.params, **change}
    assert get_experiment("adv_culture/study/emodb_to_ravdess/is10/adv_sc5").model.params["culture_steps"] == 5


def test_study_through_the_trainer_json_probes_and_resume(stores, tmp_path, monkeypatch):
    import pipelines.adv_culture_study as S
    from emozoo.models.adv_culture import adv_culture_runs as R
    from emozoo.train import trainer as T

    out, runs = tmp_path / "study.json", tmp_path / "runs"
    kw = dict(out=out, runs_dir=runs, root=tmp_path, overrides=_tiny(stores), log=lambda m: None)
    res = S.study(["emodb_to_casia"], ["bsl", "adv_ramp"], 1, **kw)
    on_disk = json.loads(out.read_text())
    runs_d = on_disk["runs"]["emodb_to_casia"]
    n_target = 5 * 4 * 4
    for v in ("bsl", "adv_ramp"):
        r = runs_d[v]["0"]
        assert r["accuracy"] == r["report"]["accuracy"] and 0 <= r["uar"] <= 1 and 0 <= r["macro_f1"] <= 1
        assert 0.3 <= r["culture_probe"] <= 1 and r["probe_rows_per_culture"] == min(4 * 3 * 4, n_target)
        assert (r["culture_accuracy"] is None) == (v == "bsl")
        folder = R.seed_fold_dir(runs / f"adv_culture_study_emodb_to_casia_is10_{v}", 0)
        assert (folder / "probes.json").exists() and (folder / "best.weights.h5").exists()
        # the model rebuilt from config.json with the saved weights is the trained one: same test predictions
        from emozoo.experiments import ExperimentConfig
        cfg = ExperimentConfig.from_json(json.loads((folder.parent.parent / "config.json").read_text()))
        fold, classes = R.load_fold(cfg, tmp_path)
        model = R.rebuild_model(cfg, fold, classes, folder / "best.weights.h5")
        prob = tf.nn.softmax(model({"features": fold.test.x.astype("float32"),
                                    "culture": model.culture_index(fold.test.meta["corpus"])}), -1).numpy()
        np.testing.assert_allclose(prob, np.load(folder / "predictions.npz")["prob"], atol=1e-5)
    ramp = runs_d["adv_ramp"]["0"]
    assert ramp["schedule"] == "ganin" and ramp["alpha_history"]["steps"] == 2 * ramp["steps_per_epoch"]
    assert ramp["alpha_history"]["first"] == 0.0
    assert ramp["alpha_after"] == pytest.approx(ramp["alpha_history"]["last"], abs=1e-4)   # read from the run's logs
    assert on_disk["summary"]["vs_bsl"]["adv_ramp"]["accuracy"]["mean"] == pytest.approx(
        ramp["accuracy"] - runs_d["bsl"]["0"]["accuracy"])
    md = S.markdown(res, command="cmd")
    assert "| `adv_ramp` | 1 |" in md and "EmoDB -> CASIA | `adv_ramp`" in md and "Ganin schedule as run" in md

    # resumable: finished runs are neither retrained nor re-probed
    def boom(*a, **k):
        raise AssertionError("a finished run was retrained or re-probed")
    monkeypatch.setattr(T, "train_fold", boom)
    monkeypatch.setattr(R, "rebuild_model", boom)
    again = S.study(["emodb_to_casia"], ["bsl", "adv_ramp"], 1, **kw)
    assert again["runs"]["emodb_to_casia"]["bsl"]["0"]["culture_probe"] == runs_d["bsl"]["0"]["culture_probe"]
    with pytest.raises(ExperimentError, match="unknown variants"):
        S.study(["emodb_to_casia"], ["adv_alpha9"], 1, **kw)


def test_a_killed_ramped_run_resumes_to_the_uninterrupted_one(stores, tmp_path):
    """Killed mid-epoch (os._exit after 15 steps, a backup at step 4 of epoch 1) and re-run, the ramped run
    equals the uninterrupted one: the schedule restarts at the restored optimizer's step, so every step
    gets the alpha it had (the logged L_gen and the test probabilities match)."""
    from emozoo.train.__main__ import main
    from tests.train.conftest import run_train

    def args(d):
        return ["--experiment", "adv_culture/study/emodb_to_casia/is10/adv_ramp", "--seeds", "1", "--model-dir",
                str(d), "--override", *_tiny(stores), "trainer.epochs=3", "trainer.backup_every_steps=2"]

    killed = run_train(args(tmp_path / "killed"), env_extra={"EMOZOO_FAULT_AFTER_STEPS": "15"})
    assert killed.returncode == 17, killed.stdout + killed.stderr      # 160 balanced rows / 16: 10 steps per epoch
    fold = tmp_path / "killed" / "seed_0" / "emodb_to_casia"
    meta = json.loads((fold / "backup" / "training_metadata.json").read_text())
    assert (meta["epoch"], meta["step"]) == (1, 4)
    assert main(args(tmp_path / "killed")) == 0
    assert main(args(tmp_path / "whole")) == 0
    ref = tmp_path / "whole" / "seed_0" / "emodb_to_casia"
    sel = [json.loads((f / "selection.json").read_text())["epochs"] for f in (fold, ref)]
    assert [e["generator_loss"] for e in sel[0]] == pytest.approx([e["generator_loss"] for e in sel[1]], abs=1e-6)
    np.testing.assert_allclose(np.load(fold / "predictions.npz")["prob"], np.load(ref / "predictions.npz")["prob"],
                               atol=1e-6)
