"""The facial-expression CNN of Yousefi, Thorstad & Agichtein (Section 2.1, Fig. 2), after Khorrami et al.

"The model consists of three convolutional layers each followed by Relu non-linearity and 2 x 2 max
pooling. The convolutional layers are followed by a fully connected layer which in turn is
followed by a Softmax layer." Sizes after Khorrami, Paine & Huang (ICCVW 2015): 64, 128 and 256
filters of 5x5, a 300-unit fully connected layer with dropout; all configurable.

Training (Section 2.1 and 3.3): mini-batch SGD with momentum and exponential learning-rate decay;
augmentation by random horizontal flip and random rotation only (no scale or crop). The two
augmentation layers are part of the network and act only when ``training=True``.

The network takes raw grey faces ``[N, 48, 48, 1]`` in 0..255; per-image standardisation (zero
mean, unit variance, Khorrami's contrast normalisation) is its first layer, so gradients with
respect to the raw image (the saliency maps of :mod:`emozoo.explain`) pass through it.

Pure Keras 3 (no TensorFlow op): trainable under the TensorFlow and the JAX backend; the weights
files are backend-independent.

Example:

>>> model = build_face_cnn(6, filters=(8, 8, 8), dense_units=16)
>>> model.output_shape
(None, 6)
"""
from __future__ import annotations

import keras
from keras import layers, ops

from emozoo.errors import ExperimentError

ARCH_PRESETS = {
    # the paper's (Khorrami-style) network
    "khorrami": {"filters": (64, 128, 256), "kernel_size": 5, "dense_units": 300, "dropout": 0.5},
    # the same network at a quarter of the channels (1/16 of the convolution cost), for the shared 2-core CPU
    "cpu": {"filters": (16, 32, 64), "kernel_size": 5, "dense_units": 128, "dropout": 0.5},
}


@keras.saving.register_keras_serializable(package="emozoo")
class PerImageStandardization(layers.Layer):
    """``(x - mean(x)) / max(std(x), 1/sqrt(H*W*C))`` over each image (as ``tf.image.per_image_standardization``)."""

    def call(self, x):
        x = ops.cast(x, "float32")
        mean = ops.mean(x, axis=(1, 2, 3), keepdims=True)
        std = ops.std(x, axis=(1, 2, 3), keepdims=True)
        n = float(x.shape[1] * x.shape[2] * x.shape[3])
        return (x - mean) / ops.maximum(std, 1.0 / n ** 0.5)

    def compute_output_shape(self, input_shape):
        return input_shape


def build_face_cnn(num_classes: int, *, image_size: int = 48, filters=(64, 128, 256), kernel_size: int = 5,
                   dense_units: int = 300, dropout: float = 0.5, weight_decay: float = 5e-4,
                   flip: bool = True, rotation_degrees: float = 15.0, guided: bool = False,
                   name: str = "face_cnn") -> keras.Model:
    """The CNN of Fig. 2 as a functional Keras model ``face [N, S, S, 1] (0..255) -> probabilities [N, K]``.

    Args:
        num_classes: softmax size K.
        image_size: side S of the square grey input.
        filters: channels of the three 5x5 convolutions (Khorrami: 64, 128, 256).
        kernel_size: convolution kernel side.
        dense_units: width of the fully connected layer (Khorrami: 300).
        dropout: dropout rate before the softmax layer.
        weight_decay: L2 coefficient on the convolution and dense kernels.
        flip, rotation_degrees: the paper's two augmentations (Section 3.3), training only.
        guided: use :class:`emozoo.layers.guided_relu.GuidedReLU` for every ReLU (saliency copy
            of a trained network; needs the TensorFlow backend). Layer names are the same, so
            ``guided.set_weights(model.get_weights())`` copies a trained model.

    Layer names: ``conv1..3``, ``relu1..3``, ``pool1..3``, ``fc``, ``relu_fc``, ``logits``,
    ``probabilities`` (softmax over the logits: ``p_c`` whose gradient is the saliency map).
    """
    if num_classes < 2:
        raise ExperimentError(f"num_classes must be >= 2, got {num_classes}")
    if len(filters) != 3 or min(filters) < 1:
        raise ExperimentError(f"the paper's CNN has three convolutional layers: give 3 filter counts, got {filters}")
    if image_size < 8 or image_size % 8:
        raise ExperimentError(f"image_size must be a multiple of 8 (three 2x2 poolings), got {image_size}")
    if not 0.0 <= dropout < 1.0:
        raise ExperimentError(f"dropout must be in [0, 1), got {dropout}")
    reg = keras.regularizers.L2(weight_decay) if weight_decay else None
    if guided:
        from emozoo.layers.guided_relu import GuidedReLU
        relu = GuidedReLU
    else:
        relu = layers.ReLU

    face = keras.Input((image_size, image_size, 1), name="face")
    x = PerImageStandardization(name="standardize")(face)
    if flip:
        x = layers.RandomFlip("horizontal", name="random_flip")(x)
    if rotation_degrees:
        x = layers.RandomRotation(rotation_degrees / 360.0, fill_mode="nearest", name="random_rotation")(x)
    for i, f in enumerate(filters, start=1):
        x = layers.Conv2D(int(f), kernel_size, padding="same", kernel_regularizer=reg, name=f"conv{i}")(x)
        x = relu(name=f"relu{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(int(dense_units), kernel_regularizer=reg, name="fc")(x)
    x = relu(name="relu_fc")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    logits = layers.Dense(num_classes, kernel_regularizer=reg, name="logits")(x)
    probs = layers.Softmax(name="probabilities")(logits)
    return keras.Model(face, probs, name=name)


def guided_copy(model: keras.Model, config: dict) -> keras.Model:
    """A copy of trained ``model`` (built from ``config``) whose ReLUs are guided (for saliency only)."""
    cfg = dict(config)
    cfg.update(guided=True, flip=False, rotation_degrees=0.0)
    copy = build_face_cnn(**cfg)
    src = {l.name: l for l in model.layers}
    for layer in copy.layers:
        if layer.weights:
            layer.set_weights(src[layer.name].get_weights())
    return copy


def sgd_exponential(learning_rate: float, steps_per_epoch: int, decay_rate: float = 0.95,
                    momentum: float = 0.9) -> keras.optimizers.Optimizer:
    """SGD with momentum and ``lr_t = lr_0 * decay_rate ** (t / steps_per_epoch)`` (Section 2.1)."""
    schedule = keras.optimizers.schedules.ExponentialDecay(
        learning_rate, decay_steps=max(1, int(steps_per_epoch)), decay_rate=decay_rate)
    return keras.optimizers.SGD(learning_rate=schedule, momentum=momentum)
