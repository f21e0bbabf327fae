"""Dface DenseNet-BC: tiny-config model checks, embedding size formula, SavedModel embed/classify parity."""
import json

import numpy as np
import pytest

from emozoo.models.dface import DFaceBackbone, DFaceClassifier, embedding_dim
from tests.helpers import run_model_checks

TINY = dict(growth_rate=4, block_layers=(2, 2), stem_channels=8, image_size=48)
CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def _faces(n=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 48, 48, 1)).astype("float32")


def test_embedding_dim_formula_matches_the_network():
    # 8 -> +2*4 = 16 -> theta 0.5 -> 8 -> +2*4 = 16
    assert embedding_dim(4, (2, 2), 8, 0.5) == 16
    assert DFaceBackbone(**TINY)(_faces(2)).shape == (2, 16)
    # the trained configuration: 24 -> 96 -> 48 -> 192 -> 96 -> 336
    assert embedding_dim(12, (6, 12, 20), 24, 0.5) == 336


def test_dense_connectivity_concatenates_every_layer():
    b = DFaceBackbone(**TINY)
    # a dense layer's output has the block input plus k channels per layer before it (eq. 2)
    assert b.get_layer("block1_layer1_concat").output.shape[-1] == 8 + 4
    assert b.get_layer("block1_layer2_concat").output.shape[-1] == 8 + 2 * 4
    assert b.get_layer("transition1_conv").output.shape[-1] == 8       # compression 0.5
    assert b.get_layer("block2_layer1_concat").output.shape[1:3] == (12, 12)


def test_classifier_model_checks(tmp_path):
    import keras

    x = _faces(4)
    y = keras.utils.to_categorical([0, 1, 2, 3], 7)
    model = run_model_checks(DFaceClassifier, {"backbone": DFaceBackbone(**TINY)}, x, y, tmp_path,
                             expected_output_shape=(4, 7))
    np.testing.assert_allclose(model(x).numpy().sum(-1), 1.0, rtol=1e-5)


def test_rejects_bad_configs():
    with pytest.raises(ValueError, match="compression"):
        DFaceBackbone(compression=0.0)
    with pytest.raises(ValueError, match="block_layers"):
        DFaceBackbone(block_layers=())
    with pytest.raises(ValueError, match="num_classes"):
        DFaceClassifier(DFaceBackbone(**TINY), num_classes=1)


def test_exported_embed_and_classify_equal_keras(tmp_path):
    """Parity: the SavedModel's signatures give the Keras model's embedding and probabilities."""
    import tensorflow as tf

    from emozoo.models.dface.dface_export import export_dface

    model = DFaceClassifier(DFaceBackbone(**TINY))
    # non-trivial BN statistics so inference-mode normalisation matters
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    model.fit(_faces(8, 1), np.eye(7)[np.arange(8) % 7], epochs=1, verbose=0)
    out = export_dface(model, tmp_path / "sm", CLASSES)
    sm = tf.saved_model.load(str(out))
    x = _faces(5, 2)
    emb = sm.embed(tf.constant(x))["embedding"].numpy()
    cls = sm.classify(tf.constant(x))
    np.testing.assert_allclose(emb, model.backbone(x, training=False).numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(cls["probabilities"].numpy(), model(x, training=False).numpy(),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cls["embedding"].numpy(), emb, rtol=1e-6, atol=1e-6)
    assert json.loads((out / "assets" / "labels.json").read_text()) == list(CLASSES)
    pre = json.loads((out / "assets" / "preprocessing.json").read_text())
    assert pre["embedding_dim"] == 16 and pre["size"] == 48
