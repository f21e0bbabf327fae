"""SemiSupervisedGAN: Algorithm 1 steps, shapes, variants, serialisation, bad input."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from emozoo.errors import ExperimentError, SchemaError
from emozoo.models.ssgan import SemiSupervisedGAN

DENSE = [{"name": "f", "shape": (8,), "d_units": (16, 8), "g_units": (8, 16)}]
CONV = [{"name": "fbank", "shape": (16, 16), "variant": "conv", "d_channels": (4, 8), "g_channels": (8, 4)}]


def _batch(n=16, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = (rng.normal(size=(n, dim)) + 2 * np.eye(3, dim)[y]).astype(np.float32)
    return x, y, rng.normal(size=(n, dim)).astype(np.float32)


def test_one_d_step_lowers_ldis_and_one_g_step_lowers_lgen():
    """Algorithm 1 on a fixed batch and fixed noise (dropout 0: deterministic losses)."""
    keras.utils.set_random_seed(1)
    m = SemiSupervisedGAN(3, DENSE, dropout=0.0, learning_rate=1e-3)
    m.compile()
    x, y, u = _batch()
    z = tf.random.normal((32, m.noise_dim), seed=2)
    before = float(m.discriminator_losses(x, y, u, z=z)["total"])
    m.discriminator_step(x, y, u, z=z)
    after = float(m.discriminator_losses(x, y, u, z=z)["total"])
    assert after < before, (before, after)
    g_before = float(m.generator_loss(x, u, z=z))
    d_weights = [w.numpy().copy() for w in m.discriminator_variables]
    m.generator_step(x, u, z=z)
    assert float(m.generator_loss(x, u, z=z)) < g_before
    for w, w0 in zip(m.discriminator_variables, d_weights):      # D and C fixed in the G step
        np.testing.assert_array_equal(w.numpy(), w0)


def test_fit_conv_variant_and_shapes(tmp_path):
    keras.utils.set_random_seed(0)
    m = SemiSupervisedGAN(4, CONV, noise_dim=10)
    m.compile(run_eagerly=True)
    x = np.random.default_rng(0).normal(size=(8, 16, 16)).astype(np.float32)
    assert tuple(m(x).shape) == (8, 4)
    assert tuple(m.generate(tf.zeros((3, 10)))[0].shape) == (3, 16, 16)
    assert tuple(m.embed(x).shape) == (8, m.feature_dim)
    g0 = [w.numpy().copy() for w in m.generator_variables]
    hist = m.fit(tf.data.Dataset.from_tensors({"x": x, "y": np.arange(8) % 4, "u": x}).repeat(2), verbose=0,
                 shuffle=False)
    for k in ("discriminator_loss", "generator_loss", "consistency", "supervised_loss", "fake_loss", "real_loss"):
        assert np.isfinite(hist.history[k][-1]), k
    assert any(not np.array_equal(w.numpy(), w0) for w, w0 in zip(m.generator_variables, g0))
    # keras round trip: config and weights
    path = tmp_path / "m.keras"
    m.save(path)
    m2 = keras.models.load_model(path)
    np.testing.assert_allclose(m2(x).numpy(), m(x).numpy(), atol=1e-5)
    assert m2.get_config()["modalities"][0]["d_channels"] == [4, 8]
    # both optimisers of Algorithm 1 come back with their state (training can resume)
    for a, b in ((m.d_optimizer, m2.d_optimizer), (m.g_optimizer, m2.g_optimizer)):
        assert int(b.iterations.numpy()) == int(a.iterations.numpy()) == 2
        assert len(b.variables) == len(a.variables)
        for va, vb in zip(a.variables, b.variables):
            np.testing.assert_allclose(vb.numpy(), va.numpy())


def test_multimodal_and_fsbase():
    keras.utils.set_random_seed(0)
    mods = [{"name": "a", "shape": (6,), "d_units": (8,), "g_units": (8,)},
            {"name": "v", "shape": (4,), "d_units": (5,), "g_units": (5,)}]
    m = SemiSupervisedGAN(3, mods, noise_dim=7)
    m.compile()
    a, v = np.ones((5, 6), np.float32), np.ones((5, 4), np.float32)
    assert tuple(m((a, v)).shape) == (5, 3)
    np.testing.assert_allclose(m({"a": a, "v": v}).numpy(), m([a, v]).numpy())
    assert m.feature_dim == 13                                     # D_a (+) D_v, eq. 6
    assert len(m.generate(tf.zeros((2, 7)))) == 2
    terms = m.discriminator_losses((a, v), np.arange(5) % 3, (a, v))
    assert np.isfinite(float(terms["total"]))
    fs = SemiSupervisedGAN(3, mods, mode="fsbase")
    fs.compile(run_eagerly=True)
    assert fs.generators == [] and fs.generator_variables == []
    hist = fs.fit(tf.data.Dataset.from_tensors({"x": (a, v), "y": np.arange(5) % 3}), verbose=0, shuffle=False)
    assert np.isfinite(hist.history["loss"][-1])
    with pytest.raises(ExperimentError):
        fs.generate(tf.zeros((1, 100)))


@pytest.mark.parametrize("kwargs", [dict(mode="wgan"), dict(dropout=1.0), dict(discriminator_steps=0),
                                    dict(modalities=[{"name": "x", "shape": (10, 10), "d_channels": (4,),
                                                      "g_channels": (4, 4)}]),
                                    dict(modalities=[{"name": "x", "shape": (8,), "variant": "rnn"}]),
                                    dict(modalities=[]), dict(num_classes=1)])
def test_bad_config_raises(kwargs):
    args = {"num_classes": 3, "modalities": DENSE, **kwargs}
    with pytest.raises(ExperimentError):
        SemiSupervisedGAN(**args)


def test_bad_inputs_raise():
    m = SemiSupervisedGAN(3, DENSE + [{"name": "g", "shape": (2,)}])
    with pytest.raises(SchemaError, match="list or dict"):
        m(np.zeros((2, 8), np.float32))
    with pytest.raises(SchemaError, match="lack"):
        m({"f": np.zeros((2, 8), np.float32)})
    with pytest.raises(SchemaError):
        m.train_step({"nothing": 1})


def test_registry_builder():
    from emozoo.models import build_model
    m = build_model("ssgan", num_classes=3, input_dim=8)
    assert m.modalities[0]["variant"] == "dense"
    with pytest.raises(ExperimentError, match="ssgan_table"):
        build_model("ssgan", num_classes=3, input_dim=8, run={"setting": "speech"})
