"""The face CNN's training parts (Khorrami et al. 2015 as used by the per-culture face study):
per-image standardisation, weight decay on every kernel, dropout before the softmax, the two
training-only augmentations, SGD with momentum and exponential decay per epoch, and the guided copy
used for saliency."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from emozoo.errors import ExperimentError
from emozoo.models.face_cnn.face_cnn_model import PerImageStandardization, build_face_cnn, guided_copy, sgd_exponential

TINY = dict(filters=(4, 4, 8), kernel_size=3, dense_units=8, dropout=0.0)


def test_per_image_standardization_matches_tensorflow_including_flat_images():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (3, 8, 8, 1)).astype("float32")
    x[1] = 77.0                                                   # a flat image: std 0 -> divide by 1/sqrt(N)
    x[2] *= 0.001                                                  # std below 1/sqrt(N) = 0.125
    got = PerImageStandardization()(x).numpy()
    np.testing.assert_allclose(got, tf.image.per_image_standardization(x).numpy(), rtol=1e-5, atol=1e-5)
    assert np.all(got[1] == 0.0)
    np.testing.assert_allclose(got[0].mean(), 0.0, atol=1e-5)
    np.testing.assert_allclose(got[0].std(), 1.0, rtol=1e-4)
    # works on uint8 input; non-square / multi-channel images use H*W*C
    y = rng.integers(0, 256, (2, 4, 6, 3)).astype("uint8")
    np.testing.assert_allclose(PerImageStandardization()(y).numpy(), tf.image.per_image_standardization(y).numpy(),
                               rtol=1e-5, atol=1e-5)
    y = y.astype("float32")
    y[1] = 9 + 0.1 * (np.arange(72).reshape(4, 6, 3) % 2)           # std 0.05 < 1/sqrt(72): the floor applies
    np.testing.assert_allclose(PerImageStandardization()(y).numpy(), tf.image.per_image_standardization(y).numpy(),
                               rtol=1e-5, atol=1e-5)
    assert PerImageStandardization().compute_output_shape((None, 4, 6, 3)) == (None, 4, 6, 3)


def test_weight_decay_dropout_and_augmentation_layers():
    m = build_face_cnn(3, **{**TINY, "dropout": 0.3}, weight_decay=0.003, rotation_degrees=18.0, image_size=16)
    kernels = [m.get_layer(n).kernel for n in ("conv1", "conv2", "conv3", "fc", "logits")]
    want = 0.003 * sum(float(np.sum(k.numpy() ** 2)) for k in kernels)
    assert len(m.losses) == 5 and float(sum(m.losses)) == pytest.approx(want, rel=1e-5)
    assert m.get_layer("dropout").rate == pytest.approx(0.3)
    assert m.get_layer("random_flip").mode == "horizontal"
    assert m.get_layer("random_rotation").factor == pytest.approx((-0.05, 0.05))      # 18 degrees of 360
    assert m.get_layer("random_rotation").fill_mode == "nearest"
    assert all(m.get_layer(f"conv{i}").kernel_size == (3, 3) and m.get_layer(f"conv{i}").padding == "same"
               for i in (1, 2, 3))
    assert m.get_layer("pool3").output.shape[1:] == (2, 2, 8) and m.get_layer("fc").units == 8
    x = np.random.default_rng(1).integers(0, 256, (2, 16, 16, 1)).astype("float32")
    np.testing.assert_allclose(m(x, training=False).numpy(), m(x, training=False).numpy())   # no augmentation at test
    bare = build_face_cnn(3, **TINY, weight_decay=0.0, flip=False, rotation_degrees=0.0, image_size=16)
    assert not bare.losses
    assert not [l for l in bare.layers if type(l).__name__.startswith("Random")]
    assert bare.name == "face_cnn" and bare.get_layer("probabilities").output.shape[-1] == 3
    for bad in (dict(num_classes=1), dict(num_classes=3, filters=(4, 0, 4)), dict(num_classes=3, image_size=4),
                dict(num_classes=3, dropout=-0.1)):
        with pytest.raises(ExperimentError):
            build_face_cnn(**bad)
    build_face_cnn(2, **{**TINY, "filters": (1, 1, 1)}, image_size=8)   # the smallest valid sizes
    for bad, msg in ((dict(num_classes=1), r"^num_classes must be >= 2, got 1$"),
                     (dict(num_classes=3, filters=(4, 4)), r"^the paper's CNN has three convolutional layers: give 3 "
                                                           r"filter counts, got \(4, 4\)$"),
                     (dict(num_classes=3, image_size=44), r"^image_size must be a multiple of 8 \(three 2x2 poolings\), "
                                                          r"got 44$"),
                     (dict(num_classes=3, dropout=1.0), r"^dropout must be in \[0, 1\), got 1.0$")):
        with pytest.raises(ExperimentError, match=msg):
            build_face_cnn(**bad)


def test_layer_names_and_paper_defaults():
    """Saliency, the guided copy and the exported signature find layers by name; the defaults are the
    paper's (weight decay 5e-4, +-15 degrees, plain ReLUs)."""
    m = build_face_cnn(3, filters=(2, 2, 2), dense_units=4)
    assert [l.name for l in m.layers] == ["face", "standardize", "random_flip", "random_rotation",
                                          "conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "conv3", "relu3",
                                          "pool3", "flatten", "fc", "relu_fc", "dropout", "logits", "probabilities"]
    assert m.input.name == "face" and m.get_layer("dropout").rate == pytest.approx(0.5)
    kernels = [m.get_layer(n).kernel for n in ("conv1", "conv2", "conv3", "fc", "logits")]
    assert float(sum(m.losses)) == pytest.approx(5e-4 * sum(float(np.sum(k.numpy() ** 2)) for k in kernels), rel=1e-5)
    assert m.get_layer("random_rotation").factor == pytest.approx((-15 / 360, 15 / 360))
    assert type(m.get_layer("relu1")).__name__ == "ReLU" and m.get_layer("pool1").pool_size == (2, 2)


def test_guided_copy_has_no_augmentation_and_the_trained_weights():
    cfg = dict(num_classes=3, **TINY, image_size=16)
    m = build_face_cnn(**cfg)
    g = guided_copy(m, cfg)
    assert not [l for l in g.layers if type(l).__name__.startswith("Random")]
    assert [type(g.get_layer(n)).__name__ for n in ("relu1", "relu2", "relu3", "relu_fc")] == ["GuidedReLU"] * 4
    for layer in m.layers:
        if layer.weights:
            for a, b in zip(layer.get_weights(), g.get_layer(layer.name).get_weights()):
                np.testing.assert_array_equal(a, b)
    assert cfg == dict(num_classes=3, **TINY, image_size=16)        # the caller's config is not changed


def test_sgd_exponential_decays_per_epoch_with_momentum():
    opt = sgd_exponential(0.01, steps_per_epoch=20, decay_rate=0.9, momentum=0.8)
    sched = opt.learning_rate if callable(opt.learning_rate) else opt._learning_rate
    assert isinstance(opt, keras.optimizers.SGD) and opt.momentum == pytest.approx(0.8)
    for step, want in ((0, 0.01), (20, 0.009), (50, 0.01 * 0.9 ** 2.5)):
        assert float(sched(step)) == pytest.approx(want, rel=1e-5)
    default = sgd_exponential(0.1, steps_per_epoch=0)              # decay every step, defaults 0.95 / 0.9
    s2 = default._learning_rate
    assert float(s2(1)) == pytest.approx(0.095, rel=1e-5) and default.momentum == pytest.approx(0.9)
    assert not s2.staircase
