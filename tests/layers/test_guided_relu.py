"""Must-show 1 of issue 9: guided backpropagation equals the analytic guided rule on a tiny
network with known weights (Springenberg et al. 2014: R_in = (x > 0) * (R > 0) * R)."""
import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from emozoo.layers.guided_relu import GuidedReLU, guided_relu  # noqa: E402

# x [3] -> W1 [3, 4] + b1 -> ReLU -> W2 [4, 3] + b2 -> ReLU -> w3 [3, 1] -> y
W1 = np.array([[1.0, -2.0, 0.5, 1.5], [0.5, 1.0, -1.0, 2.0], [-1.0, 0.5, 2.0, -0.5]], np.float32)
B1 = np.array([0.1, -0.2, 0.3, -3.0], np.float32)
W2 = np.array([[1.0, -1.0, 0.5], [-2.0, 1.0, 1.0], [0.5, 0.5, -1.5], [1.0, 1.0, 1.0]], np.float32)
B2 = np.array([0.0, 0.5, 0.2], np.float32)
W3 = np.array([[1.0], [-2.0], [0.5]], np.float32)
X = np.array([0.7, -0.3, 0.9], np.float32)


def analytic(x, guided: bool):
    """Hand-derived backward pass: ReLU mask of the forward input, plus (guided) of the signal."""
    h1 = x @ W1 + B1
    a1 = np.maximum(h1, 0)
    h2 = a1 @ W2 + B2
    r = W3[:, 0].copy()                        # dy/da2
    r = r * (h2 > 0) * ((r > 0) if guided else 1.0)
    r = W2 @ r                                 # dy/da1
    r = r * (h1 > 0) * ((r > 0) if guided else 1.0)
    return W1 @ r


def tiny(relu_layer):
    m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), relu_layer(),
                          keras.layers.Dense(3), relu_layer(), keras.layers.Dense(1, use_bias=False)])
    m.layers[0].set_weights([W1, B1])
    m.layers[2].set_weights([W2, B2])
    m.layers[4].set_weights([W3])
    return m


def grad(model, x):
    x = tf.constant(x[None])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = model(x)
    return tape.gradient(y, x).numpy()[0]


def test_guided_gradient_equals_analytic_rule():
    g = grad(tiny(GuidedReLU), X)
    np.testing.assert_allclose(g, analytic(X, guided=True), rtol=1e-6, atol=1e-6)
    # the test can fail: on this network the guided and the plain gradients differ
    assert not np.allclose(analytic(X, guided=True), analytic(X, guided=False), atol=1e-3)


def test_plain_relu_copy_gives_plain_gradient_and_same_forward():
    np.testing.assert_allclose(grad(tiny(keras.layers.ReLU), X), analytic(X, guided=False), rtol=1e-6, atol=1e-6)
    xs = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    np.testing.assert_allclose(tiny(GuidedReLU)(xs).numpy(), tiny(keras.layers.ReLU)(xs).numpy(), rtol=1e-6)


def test_guided_relu_elementwise_rule():
    x = tf.constant([-1.0, 2.0, 3.0, 0.5])
    upstream = tf.constant([5.0, 1.0, -1.0, 0.0])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(guided_relu(x) * upstream)
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [0.0, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(guided_relu(x).numpy(), [0.0, 2.0, 3.0, 0.5])
