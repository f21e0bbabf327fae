"""GradientReversal (Ganin et al. 2016; Lian et al. 2019 sec. 2.3): forward identity, backward
exactly -lambda * upstream, eagerly, in tf.function, under MirroredStrategy, after SavedModel
export/reload; lambda in a variable with the Ganin schedule."""
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from emozoo.errors import ExperimentError
from emozoo.layers import GaninLambdaSchedule, GradientReversal
from emozoo.layers.gradient_reversal import ganin_lambda

X = np.random.default_rng(0).normal(size=(3, 5)).astype("float32")
UP = np.random.default_rng(1).normal(size=(3, 5)).astype("float32")   # an arbitrary upstream gradient


def _grad(fn, x, up):
    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
        loss = tf.reduce_sum(y * up)          # dloss/dy = up
    return y, tape.gradient(loss, x)


@pytest.mark.parametrize("lam", [1.0, 0.3, 0.0, 2.5])
def test_forward_identity_backward_minus_lambda(lam):
    grl = GradientReversal(lam)
    y, g = _grad(grl, X, UP)
    np.testing.assert_array_equal(y.numpy(), X)
    np.testing.assert_array_equal(g.numpy(), (-np.float32(lam) * UP))


def test_inside_tf_function_follows_variable_without_retrace():
    grl = GradientReversal(1.0)
    traces = []

    @tf.function
    def step(x, up):
        traces.append(1)
        return _grad(grl, x, up)

    y, g = step(X, UP)
    np.testing.assert_array_equal(y.numpy(), X)
    np.testing.assert_array_equal(g.numpy(), -UP)
    grl.set_lambda(0.25)
    _, g = step(X, UP)
    np.testing.assert_array_equal(g.numpy(), -np.float32(0.25) * UP)
    assert len(traces) == 1


def test_under_mirrored_strategy():
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        grl = GradientReversal(0.5)

    @tf.function
    def replica(x, up):
        return _grad(grl, x, up)[1]

    g = strategy.run(replica, args=(tf.constant(X), tf.constant(UP)))
    g = strategy.experimental_local_results(g)[0]
    np.testing.assert_array_equal(g.numpy(), -np.float32(0.5) * UP)
    grl.set_lambda(2.0)                        # the (mirrored) variable follows a schedule
    g = strategy.experimental_local_results(strategy.run(replica, args=(tf.constant(X), tf.constant(UP))))[0]
    np.testing.assert_array_equal(g.numpy(), -np.float32(2.0) * UP)


def test_savedmodel_export_reload(tmp_path):
    grl = GradientReversal(0.7)
    mod = tf.Module()
    mod.grl = grl
    mod.f = tf.function(lambda x: grl(x), input_signature=[tf.TensorSpec((None, 5), tf.float32)])
    tf.saved_model.save(mod, str(tmp_path / "sm"), options=tf.saved_model.SaveOptions(experimental_custom_gradients=True))
    loaded = tf.saved_model.load(str(tmp_path / "sm"))
    y, g = _grad(loaded.f, X, UP)
    np.testing.assert_array_equal(y.numpy(), X)
    np.testing.assert_array_equal(g.numpy(), -np.float32(0.7) * UP)


def test_keras_serialisation_round_trip():
    grl = GradientReversal(0.4, name="grl")
    clone = GradientReversal.from_config(grl.get_config())
    assert clone.initial_lambda == 0.4 and float(clone.hp_lambda.numpy()) == pytest.approx(0.4)
    inp = keras.Input((5,))
    model = keras.Model(inp, keras.layers.Dense(2)(GradientReversal(0.4)(inp)))
    again = keras.Model.from_config(model.get_config())
    assert isinstance(again.layers[1], GradientReversal)


def test_bad_lambda():
    with pytest.raises(ExperimentError, match="finite"):
        GradientReversal(float("nan"))
    with pytest.raises(ExperimentError, match=">= 0"):
        GradientReversal(-0.5)
    grl = GradientReversal(1.0)
    for bad in (-1e-3, float("inf"), float("nan")):
        with pytest.raises(ExperimentError, match=">= 0"):
            grl.set_lambda(bad)
    assert float(grl.hp_lambda) == 1.0                 # a refused value leaves lambda unchanged
    grl.set_lambda(0.0)
    assert float(grl.hp_lambda) == 0.0


def test_ganin_schedule_values_and_callback():
    assert ganin_lambda(0.0) == 0.0
    assert ganin_lambda(1.0) == pytest.approx(2 / (1 + math.exp(-10)) - 1)
    assert ganin_lambda(0.5, max_lambda=2.0) == pytest.approx(2 * (2 / (1 + math.exp(-5)) - 1))
    inp = keras.Input((5,))
    grl = GradientReversal(1.0)
    model = keras.Model(inp, keras.layers.Dense(1)(grl(inp)))
    model.compile("sgd", "mse")
    sched = GaninLambdaSchedule()
    model.fit(np.tile(X, (4, 1)), np.zeros((12, 1)), batch_size=4, epochs=2, verbose=0, callbacks=[sched])
    assert sched.total_steps == 6 and len(sched.history) == 6
    assert sched.history == pytest.approx([ganin_lambda(i / 6) for i in range(6)])
    assert float(grl.hp_lambda.numpy()) == pytest.approx(sched.history[-1])


@pytest.mark.filterwarnings("ignore:Your input ran out of data")  # the unknown-length case on purpose
def test_ganin_schedule_counts_steps_of_a_dataset_of_unknown_length():
    """A generator dataset has no known length: Keras calls on_train_batch_begin once more per epoch
    (the step that finds it exhausted); the schedule must still advance once per trained step."""
    import tensorflow as tf

    def gen():
        for _ in range(3):
            yield np.tile(X, (4, 1))[:4], np.zeros((4, 1), "float32")
    ds = tf.data.Dataset.from_generator(gen, output_signature=(tf.TensorSpec((None, 5), tf.float32),
                                                               tf.TensorSpec((None, 1), tf.float32)))
    inp = keras.Input((5,))
    grl = GradientReversal(1.0)
    model = keras.Model(inp, keras.layers.Dense(1)(grl(inp)))
    model.compile("sgd", "mse")
    sched = GaninLambdaSchedule(total_steps=6)
    model.fit(ds, epochs=2, verbose=0, callbacks=[sched], shuffle=False)
    assert sched.step == 6
    assert sched.history == pytest.approx([ganin_lambda(i / 6) for i in range(6)])


def test_schedule_without_grl():
    inp = keras.Input((5,))
    model = keras.Model(inp, keras.layers.Dense(1)(inp))
    model.compile("sgd", "mse")
    with pytest.raises(ExperimentError, match="no GradientReversal"):
        model.fit(X, np.zeros((3, 1)), epochs=1, verbose=0, callbacks=[GaninLambdaSchedule()])
