"""AdversarialCultureModel: Algorithm 1's two updates move L_cul in opposite directions, prediction
does not read C, target-culture labels never train, config/SavedModel round trips, and a
MirroredStrategy over two logical CPUs gives the default strategy's first step."""
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from emozoo.errors import ExperimentError, SchemaError
from emozoo.models.adv_culture import AdversarialCultureModel
from tests.helpers import run_model_checks

REPO = Path(__file__).resolve().parents[3]
TINY = dict(num_classes=4, input_dim=6, num_cultures=2, generator_units=(8, 4), emotion_units=(5,),
            culture_units=(5,), dropout=0.0)


def separable_problem(n=128, dim=6, seed=0, shift=3.0):
    """Culture 1 is culture 0 shifted by ``shift`` along every dimension (linearly separable);
    emotion is a function of the first two dimensions; culture 1 is unlabelled (y = -1)."""
    rng = np.random.default_rng(seed)
    c = np.repeat([0, 1], n // 2).astype("int32")
    x = (rng.normal(size=(n, dim)) + shift * c[:, None]).astype("float32")
    y_true = (2 * (x[:, 0] - shift * c > 0) + (x[:, 1] - shift * c > 0)).astype("int32")
    y = np.where(c == 0, y_true, -1).astype("int32")
    return x, c, y, y_true


def batch(x, c, y):
    return {"features": tf.constant(x), "culture": tf.constant(c)}, tf.constant(y)


def culture_loss(model, xn, c):
    per, _ = model._per_example_culture_loss(tf.constant(c), model.culture_classifier(
        model.feature_generator(xn, training=False), training=False))
    return float(tf.reduce_mean(per))


def test_model_checks_adv_and_bsl(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 6)).astype("float32")
    y = rng.integers(0, 4, 8)
    # ADV: a batch without cultures is refused (eq. 4 needs them); the remaining checks (config and
    # SavedModel round trips) on a model trained with cultures
    adv = AdversarialCultureModel(**TINY)
    adv.compile(optimizer=keras.optimizers.Adam(1e-2))
    with pytest.raises(SchemaError, match="culture"):
        adv.train_on_batch(x, y)
    c = np.repeat([0, 1], 4).astype("int32")
    logs = adv.train_on_batch({"features": x, "culture": c}, y, return_dict=True)
    assert np.isfinite(logs["loss"]) and np.isfinite(logs["culture_loss"])
    clone = AdversarialCultureModel.from_config(adv.get_config())
    clone.set_weights(adv.get_weights())
    np.testing.assert_allclose(clone(x), adv(x), rtol=1e-5, atol=1e-5)
    run_model_checks(AdversarialCultureModel, {**TINY, "mode": "bsl", "num_cultures": 1}, x, y, tmp_path / "bsl",
                     expected_output_shape=(8, 4))


def test_culture_update_decreases_and_generator_update_increases_culture_loss():
    """Algorithm 1 on a problem whose culture is linearly separable in x: every C update lowers
    L_cul, every following G (+E) update with C fixed raises it."""
    keras.utils.set_random_seed(0)
    x, c, y, _ = separable_problem()
    # no culture-specific normalisation here: it would remove the culture shift we want C to see
    m = AdversarialCultureModel(**{**TINY, "generator_units": (16, 8), "culture_units": (16,)})
    m.fit_normalization(x)
    m.compile(optimizer=keras.optimizers.Adam(1e-2))
    xn, c_lab, yy, w, mask, n_lab, n_all = m._prepare(batch(x, c, y))
    for _ in range(5):
        before = culture_loss(m, xn, c)
        m.culture_update(xn, c_lab, n_all)
        after_c = culture_loss(m, xn, c)
        assert after_c < before, ("C update must decrease L_cul", before, after_c)
        for _ in range(2):
            before_g = culture_loss(m, xn, c)
            m.generator_update(xn, c_lab, yy, w, mask, n_lab, n_all)
            after_g = culture_loss(m, xn, c)
            assert after_g > before_g, ("G update must increase L_cul", before_g, after_g)


def test_confusion_objective_generator_update_moves_culture_classifier_towards_uniform():
    """Ablation objective (not in the paper): G's update lowers the uniform-target cross-entropy."""
    keras.utils.set_random_seed(0)
    x, c, y, _ = separable_problem()
    m = AdversarialCultureModel(**{**TINY, "generator_units": (16, 8), "culture_units": (16,),
                                   "generator_objective": "confusion"})
    m.fit_normalization(x)
    m.compile(optimizer=keras.optimizers.Adam(1e-2))
    xn, c_lab, yy, w, mask, n_lab, n_all = m._prepare(batch(x, c, y))
    conf = lambda: float(tf.reduce_mean(m._per_example_confusion_loss(  # noqa: E731
        m.culture_classifier(m.feature_generator(xn, training=False), training=False))))
    for _ in range(3):
        m.culture_update(xn, c_lab, n_all)
        before = conf()
        m.generator_update(xn, c_lab, yy, w, mask, n_lab, n_all)
        assert conf() < before
    logs = m.train_on_batch(*batch(x, c, y), return_dict=True)
    assert "confusion_loss" in logs and np.isfinite(logs["generator_loss"])


def test_prediction_does_not_depend_on_culture_classifier(tmp_path):
    x, c, y, _ = separable_problem(n=32)
    m = AdversarialCultureModel(**{**TINY, "dropout": 0.3})
    m.fit_normalization(x, c)
    m.compile(optimizer=keras.optimizers.Adam(1e-2))
    m.fit({"features": x, "culture": c}, y, epochs=1, batch_size=16, verbose=0)
    inputs = {"features": x, "culture": c}
    before = m.predict(inputs, verbose=0)
    before_call, before_embed = m(inputs).numpy(), m.embed(inputs).numpy()
    rng = np.random.default_rng(1)
    for v in m.culture_classifier.weights:
        v.assign(rng.normal(0, 10, v.shape).astype("float32"))
    np.testing.assert_array_equal(m.predict(inputs, verbose=0), before)
    np.testing.assert_array_equal(m(inputs).numpy(), before_call)
    np.testing.assert_array_equal(m.embed(inputs).numpy(), before_embed)
    # the exported inference SavedModel holds no culture-classifier variable at all
    path = m.export_inference(str(tmp_path / "sm"), classes=["n", "h", "a", "s"])
    restored = tf.saved_model.load(path)
    names = [v.name for v in restored.variables]
    assert names and not any("culture_classifier" in n for n in names), names
    out = restored.serve_features_culture(tf.constant(x), tf.constant(c))
    np.testing.assert_allclose(out["logits"].numpy(), before_call, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(restored.serve_features(tf.constant(x))["logits"].numpy(), m(x).numpy(),
                               rtol=1e-5, atol=1e-5)


def _one_step_weights(model_kwargs, x, c, y, init):
    m = AdversarialCultureModel(**model_kwargs)
    m.set_weights(init)
    m.compile(optimizer=keras.optimizers.Adam(1e-2))
    m.train_on_batch({"features": x, "culture": c}, y)
    return [w.numpy() for w in m.weights]


def test_target_culture_labels_never_train():
    """With culture 1 the target (labelled_cultures=(0,)), any labels of culture-1 examples give the
    same update as y = -1; without that guard real labels would change it (the test has teeth)."""
    x, c, y, y_true = separable_problem(n=32)
    kw = {**TINY, "labelled_cultures": [0]}
    ref = AdversarialCultureModel(**kw)
    ref.fit_normalization(x, c)
    init = [w.numpy() for w in ref.weights]
    rand = np.where(c == 1, np.random.default_rng(3).integers(0, 4, len(c)), y).astype("int32")
    a = _one_step_weights(kw, x, c, y, init)
    b = _one_step_weights(kw, x, c, rand, init)
    for wa, wb in zip(a, b):
        np.testing.assert_array_equal(wa, wb)
    unguarded = {**TINY, "labelled_cultures": None}
    d = _one_step_weights(unguarded, x, c, rand, init)
    assert any(not np.array_equal(wa, wd) for wa, wd in zip(a, d))
    # y = -1 alone masks: the emotion loss over a mixed batch equals the one over its labelled rows
    ev = AdversarialCultureModel(**TINY)
    ev.set_weights(init)
    ev.compile()
    mixed = ev.evaluate({"features": x, "culture": c}, y, verbose=0, return_dict=True)["emotion_loss"]
    lab = c == 0
    only = ev.evaluate({"features": x[lab], "culture": c[lab]}, y[lab], verbose=0, return_dict=True)["emotion_loss"]
    assert mixed == pytest.approx(only, rel=1e-5)


def test_culture_specific_normalisation_uses_each_cultures_training_statistics():
    x, c, _, _ = separable_problem(n=400)
    m = AdversarialCultureModel(**TINY)
    m.fit_normalization(x, c)
    z = m.normalise({"features": x, "culture": c}).numpy()
    for k in (0, 1):
        np.testing.assert_allclose(z[c == k].mean(0), 0, atol=1e-4)
        np.testing.assert_allclose(z[c == k].std(0), 1, atol=1e-3)
    pooled = m.normalise(x).numpy()   # culture unknown: pooled statistics
    np.testing.assert_allclose(pooled.mean(0), 0, atol=1e-4)
    with pytest.raises(SchemaError):
        m.fit_normalization(x, np.full(len(x), 5))


def test_three_cultures_softmax_early_fusion_and_config_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    kw = dict(num_classes=4, input_dim=7, num_cultures=3, generator_units=(6, 4), emotion_units=(4,),
              culture_units=(4,), dropout=0.1, feature_names=("is10", "dface"), input_dims=(4, 3),
              culture_names=("german", "mandarin", "english"))
    m = AdversarialCultureModel(**kw)
    assert m.culture_classifier.layers[-1].units == 3   # softmax over 3 cultures
    a, b = rng.normal(size=(12, 4)).astype("float32"), rng.normal(size=(12, 3)).astype("float32")
    c = np.repeat([0, 1, 2], 4).astype("int32")
    y = np.where(c < 2, rng.integers(0, 4, 12), -1).astype("int32")
    m.fit_normalization(np.concatenate([a, b], 1), c)
    m.compile()
    logs = m.fit({"is10": a, "dface": b, "culture": c}, y, epochs=1, batch_size=6, verbose=0).history
    for key in ("emotion_loss", "culture_loss", "generator_loss", "culture_accuracy", "uar"):
        assert np.isfinite(logs[key][0]), (key, logs)
    np.testing.assert_allclose(m([a, b]).numpy(), m(np.concatenate([a, b], 1)).numpy(), rtol=1e-6)
    cfg = m.get_config()
    clone = AdversarialCultureModel.from_config(cfg)
    assert clone.get_config() == cfg
    path = tmp_path / "m.keras"
    m.save(path)
    loaded = keras.models.load_model(path)
    inputs = {"is10": a, "dface": b, "culture": c}
    np.testing.assert_allclose(loaded(inputs).numpy(), m(inputs).numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(SchemaError):
        m({"features": rng.normal(size=(2, 5)).astype("float32")})


def test_bad_configs_raise():
    with pytest.raises(ExperimentError):
        AdversarialCultureModel(**{**TINY, "num_cultures": 1})          # adv needs >= 2 cultures
    with pytest.raises(ExperimentError):
        AdversarialCultureModel(**{**TINY, "mode": "gan"})
    with pytest.raises(ExperimentError):
        AdversarialCultureModel(**{**TINY, "culture_steps": 0})
    with pytest.raises(ExperimentError):
        AdversarialCultureModel(**{**TINY, "input_dims": (3, 2), "feature_names": ("a", "b")})


def test_paper_configuration_parameter_counts():
    adv = AdversarialCultureModel(num_classes=4, input_dim=1582, num_cultures=2)
    bsl = AdversarialCultureModel(num_classes=4, input_dim=1582, num_cultures=2, mode="bsl")
    dense = lambda dims: sum(a * b + b for a, b in zip(dims[:-1], dims[1:]))  # noqa: E731
    stats = 2 * 3 * 1582   # mean/std rows: 2 cultures + pooled
    assert bsl.count_params() - stats == dense([1582, 512, 256, 500, 4])
    assert adv.count_params() - stats == dense([1582, 512, 256, 500, 4]) + dense([256, 500, 1])


MIRRORED = r'''
import json, sys
import numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from emozoo.models.adv_culture import AdversarialCultureModel
from tests.models.adv_culture.test_adv_culture_model import TINY, separable_problem
x, c, y, _ = separable_problem(n=32)
def run(strategy):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        m = AdversarialCultureModel(**TINY)
        m.set_weights(init)
        m.compile(optimizer=keras.optimizers.Adam(1e-2))
    ds = tf.data.Dataset.from_tensor_slices(({"features": x, "culture": c}, y)).batch(16)
    h = m.fit(ds, epochs=1, steps_per_epoch=1, verbose=0).history
    return {k: float(v[0]) for k, v in h.items()}, [w.numpy().tolist() for w in m.trainable_weights]
ref = AdversarialCultureModel(**TINY); ref.fit_normalization(x, c); init = ref.get_weights()
devices = [d.name for d in tf.config.list_logical_devices("CPU")]
a = run(tf.distribute.get_strategy())
b = run(tf.distribute.MirroredStrategy(devices=devices, cross_device_ops=tf.distribute.ReductionToOneDevice()))
json.dump({"default": a, "mirrored": b, "replicas": len(devices)}, sys.stdout)
'''


def test_mirrored_two_cpu_devices_matches_default_first_step():
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "-1"}
    proc = subprocess.run([sys.executable, "-c", MIRRORED], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["replicas"] == 2
    (la, wa), (lb, wb) = out["default"], out["mirrored"]
    for key in ("emotion_loss", "culture_loss", "generator_loss", "culture_accuracy", "accuracy"):
        assert lb[key] == pytest.approx(la[key], rel=1e-4, abs=1e-5), (key, la, lb)
    for a, b in zip(wa, wb):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-4, atol=1e-5)
