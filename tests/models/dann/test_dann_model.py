"""DANNConversationModel / DANNUtteranceModel: train_step with masking (eq. 5), CI twin
(lambda = 0), serialisation, export, bad input."""
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from emozoo.errors import ExperimentError, ExportError, SchemaError
from emozoo.models.dann import DANNConversationModel, DANNUtteranceModel

TINY = dict(fusion_units=8, gru_units=4, num_heads=2, domain_units=(8,))


def _conversations(seed=0, B=6, L=9, D=6):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(B, L, D)).astype("float32")
    mask = np.ones((B, L), "float32")
    mask[:, 7:] = 0
    y = rng.integers(0, 4, (B, L)).astype("int32")
    y[mask == 0] = -1
    y[4:] = -1                                      # unlabelled (target) conversations
    dom = rng.integers(0, 3, (B, L)).astype("int32")
    dom[mask == 0] = -1
    return {"text": x, "mask": mask, "domain": dom}, y


def test_forward_shapes_and_masking():
    inp, _ = _conversations()
    m = DANNConversationModel(4, (6,), num_domains=3, **TINY)
    out = m({"text": inp["text"], "mask": inp["mask"]})
    assert out.shape == (6, 9, 4)
    x2 = inp["text"].copy()
    x2[:, 7:] = 50.0                                 # padding content must not matter
    np.testing.assert_allclose(m({"text": x2, "mask": inp["mask"]}).numpy()[:, :7], out.numpy()[:, :7],
                               rtol=1e-5, atol=1e-5)


def _loss_parts(m, inp, y):
    l_y, l_d, stats = m._dann_losses(inp, tf.constant(y), False)
    return float(l_y), float(l_d), stats


def test_losses_use_labelled_rows_and_domain_rows():
    inp, y = _conversations()
    m = DANNConversationModel(4, (6,), num_domains=3, **TINY)
    l_y, l_d, stats = _loss_parts(m, inp, y)
    assert float(stats["n"]) == (y >= 0).sum() == 4 * 7       # labelled, unpadded
    assert float(stats["nm"]) == (inp["domain"] >= 0).sum() == 6 * 7   # training + unlabelled rows
    # padding labels never count: corrupting a padded label changes nothing
    y2 = y.copy()
    y2[0, 8] = 2
    inp2 = dict(inp)
    assert _loss_parts(m, inp2, y2)[0] == pytest.approx(l_y, rel=1e-6)
    # by hand: mean CE over labelled rows, mean CE over domain rows
    logits = m({"text": inp["text"], "mask": inp["mask"]}).numpy()
    lab = y >= 0
    p = tf.nn.softmax(logits).numpy()
    ce = -np.log(p[lab, y[lab]])
    assert l_y == pytest.approx(ce.mean(), rel=1e-5)


def test_gradient_of_encoder_is_reversed_and_lambda_zero_blocks_it():
    inp, y = _conversations()
    enc = lambda m: m.fusion.trainable_variables + m.sa_gru.trainable_variables  # noqa: E731

    def grads(lam, which):
        keras.utils.set_random_seed(1)
        m = DANNConversationModel(4, (6,), num_domains=3, grl_lambda=lam, l2=0.0, **TINY)
        with tf.GradientTape() as tape:
            l_y, l_d, _ = m._dann_losses(inp, tf.constant(y), False)
            loss = {"y": l_y, "d": l_d}[which]
        g_enc = tape.gradient(loss, enc(m))
        return [g.numpy() for g in g_enc]

    g_d1, g_d0, g_d2 = grads(1.0, "d"), grads(0.0, "d"), grads(2.0, "d")
    # d L_d / d encoder arrives through the GRL: scaled by -lambda (eq. 5), zero for CI
    for a, b, c in zip(g_d1, g_d0, g_d2):
        np.testing.assert_allclose(b, 0, atol=0)
        np.testing.assert_allclose(c, 2 * a, rtol=1e-4, atol=1e-7)
    # the emotion gradient does not depend on lambda
    for a, b in zip(grads(1.0, "y"), grads(0.0, "y")):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_train_step_learns_and_ci_twin_keeps_domain_classifier_training():
    inp, y = _conversations()
    inp["text"][..., 0] += 3 * np.maximum(y, 0)          # make emotion learnable from the features
    keras.utils.set_random_seed(0)
    m = DANNConversationModel(4, (6,), num_domains=3, grl_lambda=1.0, learning_rate=1e-2, **TINY)
    m.compile()
    # DANN (lambda 1), then the CI twin (lambda 0) on the same traced train function
    for lam, epochs in ((1.0, 6), (0.0, 3)):
        m.set_lambda(lam)
        enc0 = [v.numpy().copy() for v in m.fusion.trainable_variables]
        dom0 = [v.numpy().copy() for v in m.domain_classifier.trainable_variables]
        h = m.fit(inp, y, batch_size=3, epochs=epochs, verbose=0).history
        assert set(h) >= {"loss", "emotion_loss", "domain_loss", "domain_accuracy", "accuracy"}
        assert any(not np.allclose(a, v.numpy()) for a, v in zip(enc0, m.fusion.trainable_variables))
        assert any(not np.allclose(a, v.numpy()) for a, v in zip(dom0, m.domain_classifier.trainable_variables))
        assert float(m.grl.hp_lambda.numpy()) == lam
        if lam == 1.0:
            assert h["emotion_loss"][-1] < h["emotion_loss"][0]


def test_two_modalities_audio_text():
    rng = np.random.default_rng(0)
    inp = {"audio": rng.normal(size=(2, 5, 7)).astype("float32"), "text": rng.normal(size=(2, 5, 6)).astype("float32"),
           "mask": np.ones((2, 5), "float32"), "domain": np.zeros((2, 5), "int32")}
    inp["domain"][1] = 1
    m = DANNConversationModel(4, (7, 6), modalities=("audio", "text"), num_domains=2, **TINY)
    m.compile()
    logs = m.train_step((inp, tf.zeros((2, 5), tf.int32)))          # eager step: both branches get gradients
    assert np.isfinite(float(logs["loss"])) and float(logs["domain_accuracy"]) >= 0
    assert m(inp).shape == (2, 5, 4)
    with pytest.raises(SchemaError, match="lacks modalities"):
        m({"text": inp["text"], "mask": inp["mask"]})


def test_config_round_trip_and_export(tmp_path):
    inp, y = _conversations()
    m = DANNConversationModel(4, (6,), num_domains=3, grl_lambda=0.5, **TINY)
    clone = DANNConversationModel.from_config(m.get_config())
    assert clone.get_config() == m.get_config()
    path = m.export_inference(str(tmp_path / "sm"), classes=("neutral", "happy", "angry", "sad"))
    loaded = tf.saved_model.load(path)
    out = loaded.serve_conversation(tf.constant(inp["text"]), tf.constant(inp["mask"]))   # modalities..., mask
    np.testing.assert_allclose(out["logits"].numpy(), m({"text": inp["text"], "mask": inp["mask"]}).numpy(),
                               rtol=1e-5, atol=1e-5)
    assert out["embedding"].shape == (6, 9, 8) and out["modality_attention"].shape == (6, 9, 1)
    assert json.loads((tmp_path / "sm" / "assets" / "labels.json").read_text())[0] == "neutral"
    with pytest.raises(ExportError, match="already exists"):
        m.export_inference(path)


def test_keras_file_round_trip_keeps_weights_and_optimizer_state(tmp_path):
    inp, y = _conversations()
    m = DANNConversationModel(4, (6,), num_domains=3, **TINY)
    m.compile()
    m.fit(inp, y, epochs=1, batch_size=3, verbose=0)
    m.save(tmp_path / "m.keras")
    m2 = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(m2(inp).numpy(), m(inp).numpy(), rtol=1e-5, atol=1e-6)
    assert int(m2.optimizer.iterations.numpy()) == int(m.optimizer.iterations.numpy()) == 2
    for a, b in zip(m.optimizer.variables, m2.optimizer.variables):
        np.testing.assert_allclose(b.numpy(), a.numpy())
    m2.fit(inp, y, epochs=1, batch_size=3, verbose=0)                      # and it trains on
    assert int(m2.optimizer.iterations.numpy()) == 4


def test_bad_arguments_and_batches():
    with pytest.raises(ExperimentError, match="domains"):
        DANNConversationModel(4, (6,), num_domains=1, **TINY)
    with pytest.raises(ExperimentError, match="grl_lambda"):
        DANNConversationModel(4, (6,), num_domains=2, grl_lambda=-1, **TINY)
    with pytest.raises(ExperimentError, match="one dimension per modality"):
        DANNConversationModel(4, (6, 3), **TINY)
    m = DANNConversationModel(4, (6,), num_domains=2, **TINY)
    m.compile()
    inp, y = _conversations()
    with pytest.raises(SchemaError, match="domain"):
        m.fit({"text": inp["text"], "mask": inp["mask"]}, y, epochs=1, verbose=0)
    with pytest.raises(SchemaError, match=r"\[conversations, utterances"):
        m(np.zeros((3, 6), "float32"))


def test_utterance_model_trains_and_exports(tmp_path):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 10)
    x = (rng.normal(size=(40, 12)) + 2 * y[:, None]).astype("float32")
    dom = np.tile(np.arange(4), 10)
    keras.utils.set_random_seed(0)
    m = DANNUtteranceModel(4, 12, num_domains=4, encoder_units=(16, 8), domain_units=(8,), learning_rate=1e-2)
    m.fit_normalization(x)
    m.compile()
    h = m.fit({"features": x, "domain": dom}, y, batch_size=8, epochs=10, verbose=0).history
    assert h["accuracy"][-1] > 0.6
    path = m.export_inference(str(tmp_path / "u"), classes=("a", "b", "c", "d"))
    loaded = tf.saved_model.load(path)
    out = loaded.serve_features(tf.constant(x))["probabilities"].numpy()
    np.testing.assert_allclose(out, tf.nn.softmax(m(x)).numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(SchemaError, match="dimension 5"):
        m(np.zeros((2, 5), "float32"))


def test_utterance_model_trainer_hooks(tmp_path):
    """The generic trainer's hooks: speaker domains over train + (transductive) test speakers, y = -1
    for the test speaker's clips, no domain outside training."""
    from emozoo.train.data import FeatureTable, Fold

    def table(speakers, n=4, label=True):
        sp = np.repeat(speakers, n)
        meta = {"clip_id": np.asarray([f"{s}_{i}" for i, s in enumerate(sp)]), "corpus": np.full(len(sp), "c"),
                "speaker": np.asarray(sp), "culture": np.full(len(sp), "x"), "emotion": np.full(len(sp), "neutral")}
        return FeatureTable("s", np.random.default_rng(0).normal(size=(len(sp), 5)).astype("float32"),
                            np.arange(len(sp)) % 4, meta, ("a", "b", "c", "d"))

    fold = Fold("loso/c/s3", table(["s1", "s2"]), None, table(["s3"]), {})
    m = DANNUtteranceModel(4, 5, num_domains=3, encoder_units=(8,), domain_units=(4,))
    m.prepare_fold(fold)
    inp, y = m.fold_arrays(fold, "train")
    assert list(inp["domain"]) == [0] * 4 + [1] * 4 + [2] * 4
    assert (y[8:] == -1).all() and (y[:8] >= 0).all()
    tinp, ty = m.fold_arrays(fold, "test")
    assert (tinp["domain"] == -1).all() and (ty >= 0).all()
    small = DANNUtteranceModel(4, 5, num_domains=2, encoder_units=(8,), domain_units=(4,))
    with pytest.raises(ExperimentError, match="num_domains"):
        small.prepare_fold(fold)
