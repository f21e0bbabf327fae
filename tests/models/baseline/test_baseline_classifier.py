import numpy as np
import pytest

from emozoo.models.baseline import BaselineClassifier
from tests.helpers import run_model_checks

TINY = dict(num_classes=4, input_dim=6, generator_units=(5, 3), classifier_units=(4,), dropout=0.1)


def test_model_checks(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 6)).astype("float32")
    y = rng.integers(0, 4, 8)
    run_model_checks(BaselineClassifier, TINY, x, y, tmp_path, expected_output_shape=(8, 4))


def test_embed_shape_and_normalisation_is_fitted_on_given_data():
    m = BaselineClassifier(**TINY)
    x = np.random.default_rng(1).normal(5.0, 3.0, size=(200, 6)).astype("float32")
    m.fit_normalization(x)
    z = m.standardization(x).numpy()
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(z.std(0), 1, atol=1e-3)
    assert tuple(m.embed(x[:3]).shape) == (3, 3)


def test_learns_a_separable_problem():
    import keras

    rng = np.random.default_rng(0)
    centres = rng.normal(0, 3, (4, 6))
    y = rng.integers(0, 4, 256)
    x = (centres[y] + rng.normal(0, 0.5, (256, 6))).astype("float32")
    m = BaselineClassifier(**{**TINY, "generator_units": (16,), "classifier_units": (16,), "dropout": 0.0})
    m.fit_normalization(x)
    m.compile(optimizer=keras.optimizers.Adam(3e-2))
    hist = m.fit(x, y, epochs=15, batch_size=32, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    assert hist.history["uar"][-1] > 0.9


def test_paper_configuration_parameter_count():
    m = BaselineClassifier(num_classes=4, input_dim=1582)
    dims = [1582, 512, 256, 500, 4]
    expected = sum(a * b + b for a, b in zip(dims[:-1], dims[1:]))
    assert m.count_params() - 2 * 1582 == expected  # minus the z-normalisation statistics


def test_bad_config_raises():
    with pytest.raises((ValueError, TypeError)):
        BaselineClassifier(num_classes=4, input_dim=6, generator_units=("x",))


def test_no_hidden_layers_is_a_linear_model():
    m = BaselineClassifier(num_classes=4, input_dim=6, generator_units=(), classifier_units=())
    assert m.count_params() == 6 * 4 + 4 + m.standardization.count_params()
    x = np.random.default_rng(2).normal(size=(5, 6)).astype("float32")
    m.fit_normalization(x)
    np.testing.assert_allclose(m.embed(x).numpy(), m.standardization(x).numpy())   # z = normalised features
    assert tuple(m(x).shape) == (5, 4)
