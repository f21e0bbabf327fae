"""The speed defaults of the utterance DANN (issue 21): one epoch per graph call in the trainer when
no callback needs every step (the same training, bit for bit), Keras's "auto" XLA in ``compile``."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from emozoo.experiments import TrainerConfig  # noqa: E402
from emozoo.models.dann import DANNConversationModel, DANNUtteranceModel  # noqa: E402
from emozoo.train.callbacks import FaultInjection  # noqa: E402
from emozoo.train.trainer import _dataset, compile_defaults  # noqa: E402


def _model(seed=0, dropout=0.2):
    keras.utils.set_random_seed(seed)
    return DANNUtteranceModel(3, 12, num_domains=2, encoder_units=(8, 6), domain_units=(5,), l2=1e-4, dropout=dropout)


def test_compile_keeps_keras_auto_xla_and_takes_an_explicit_choice():
    m = _model()
    m.compile()
    assert m.jit_compile is bool(tf.config.list_physical_devices("GPU")), "auto: XLA on GPU, not on CPU"
    m.compile(jit_compile=True)
    assert m.jit_compile is True


def test_trainer_runs_one_epoch_per_call_only_when_no_callback_needs_each_step(monkeypatch):
    m, tr = _model(), TrainerConfig()
    monkeypatch.delenv(FaultInjection.ENV, raising=False)
    assert compile_defaults(m, tr, 17) == {"steps_per_execution": 17}
    assert compile_defaults(m, TrainerConfig(backup_every_steps=5), 17) == {}
    assert compile_defaults(m, tr, 17, mid_epoch=True) == {}
    assert compile_defaults(m, tr, 1) == {}
    assert compile_defaults(keras.Sequential([keras.layers.Dense(2)]), tr, 17) == {}
    monkeypatch.setenv(FaultInjection.ENV, "3")
    assert compile_defaults(m, tr, 17) == {}


def _fit(kw, dropout, epochs=3, n=40, bs=8):
    rng = np.random.default_rng(0)
    x = {"features": rng.normal(size=(n, 12)).astype(np.float32), "domain": rng.integers(0, 2, n).astype(np.int32)}
    y = np.where(rng.random(n) < 0.3, -1, rng.integers(0, 3, n)).astype(np.int32)
    steps = n // bs
    m = _model(dropout=dropout)
    m.fit_normalization(x["features"])
    kw = compile_defaults(m, TrainerConfig(), steps) if kw == "defaults" else kw
    m.compile(optimizer=keras.optimizers.Adam(1e-2), **kw)
    keras.utils.set_random_seed(1)
    hist = m.fit(_dataset(x, y, None, bs, shuffle=True, seed=0, epochs=epochs), epochs=epochs, steps_per_epoch=steps,
                 verbose=0, shuffle=False)
    assert int(m.optimizer.iterations.numpy()) == epochs * steps
    return m, hist.history


def _same(a, b, **tol):
    (ma, ha), (mb, hb) = a, b
    for wa, wb in zip(ma.get_weights(), mb.get_weights()):
        np.testing.assert_allclose(wa, wb, **tol)
    for k in ("loss", "emotion_loss", "domain_loss", "accuracy", "domain_accuracy"):
        np.testing.assert_allclose(ha[k], hb[k], **tol)


def test_one_epoch_per_call_is_the_same_training():
    """``steps_per_execution`` = steps per epoch: bit for bit the weights and metrics of a call per
    step (same batches, dropout masks, updates), with and without XLA."""
    fast = _fit("defaults", dropout=0.2)
    assert fast[0].steps_per_execution == 5
    _same(fast, _fit({}, dropout=0.2), rtol=0, atol=0)
    _same(_fit({"jit_compile": True, "steps_per_execution": 5}, dropout=0.2), _fit({"jit_compile": True}, dropout=0.2),
          rtol=0, atol=0)


def test_xla_changes_only_float_rounding_without_dropout():
    """XLA vs the default kernels: the same training up to float32 rounding (~1e-6). With dropout
    XLA draws other masks from the same seeds (docs/performance.md): a different random draw."""
    _same(_fit({"jit_compile": True, "steps_per_execution": 5}, dropout=0.0), _fit({"jit_compile": False}, dropout=0.0),
          rtol=1e-4, atol=1e-5)
