"""DenseNet-BC backbone for 48x48 grey face crops (the "Dface" embedding network).

Implements DenseNet-BC (Huang, Liu, van der Maaten, Weinberger, "Densely Connected
Convolutional Networks", CVPR 2017), sized for CPU training on FER2013 48x48 grey faces.

What it includes (paper section 3):

* dense connectivity: layer l sees the concatenation of all earlier feature maps of its
  block, ``x_l = H_l([x_0, x_1, ..., x_{l-1}])`` (eq. 2);
* the composite function H_l = BN -> ReLU -> Conv, with the bottleneck ("B") variant
  BN-ReLU-Conv(1x1, 4k)-BN-ReLU-Conv(3x3, k) (section 3, "Bottleneck layers");
* transition layers BN-ReLU-Conv(1x1)-AvgPool(2x2) with compression theta ("C",
  section 3, "Compression"), theta = 0.5 by default;
* after the last block: BN-ReLU and global average pooling, whose output is the Dface
  embedding (the "last pooling layer" that seeds 000/003 average over a clip's faces).

What it leaves out / changes: the ImageNet stem (7x7 stride-2 conv + max-pool) is
replaced by a 3x3 stride-1 conv and a 3x3 stride-2 conv for 48x48 inputs (the CIFAR-style
DenseNet uses a single 3x3 conv; our extra stride keeps block 1 at 24x24 so CPU training
is fast); dropout is omitted (data augmentation is used instead); the papers' Dface was
pre-trained on FERPlus at 224 px, ours is trained here from scratch at 48 px.

Embedding dimension: ``stem_channels`` after the stem, each block adds
``layers * growth_rate`` channels and each transition multiplies by ``compression``::

    c = stem_channels
    for i, n in enumerate(block_layers):
        c += n * growth_rate
        if i < len(block_layers) - 1: c = floor(c * compression)

With the defaults (``growth_rate=12``, ``block_layers=(6, 12, 20)``, ``stem_channels=24``)
that is 24 -> 96 -> 48 -> 192 -> 96 -> 336: a 336-dim embedding (seed 003's DenseNet gave 342).

Input pixels are grey values in [0, 255] (uint8 or float), shape ``[B, 48, 48, 1]``; the
network rescales to [0, 1] itself, so an exported model takes raw face crops.

Args:
    growth_rate: int, k, channels each bottleneck layer adds.
    block_layers: tuple of int, number of bottleneck layers in each dense block.
    stem_channels: int, channels of the stem convolutions (2k in the paper).
    compression: float in (0, 1], theta of the transition layers.
    image_size: int, side of the square grey input.
    weight_decay: float, L2 factor on convolution kernels (the paper uses 1e-4).

Example:

>>> backbone = DFaceBackbone(growth_rate=4, block_layers=(1, 1), stem_channels=8)
>>> backbone(np.zeros((2, 48, 48, 1), "float32")).shape
TensorShape([2, 14])
"""
from __future__ import annotations

import keras
import numpy as np  # noqa: F401  (used in the docstring example)
from keras import layers


def embedding_dim(growth_rate: int, block_layers, stem_channels: int, compression: float) -> int:
    """Channels of the global-average-pooled output (the embedding size)."""
    c = int(stem_channels)
    for i, n in enumerate(block_layers):
        c += int(n) * int(growth_rate)
        if i < len(block_layers) - 1:
            c = int(c * compression)
    return c


def _bn_relu(x, name):
    x = layers.BatchNormalization(epsilon=1.001e-5, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def _conv(filters, size, name, strides=1, weight_decay=0.0):
    reg = keras.regularizers.L2(weight_decay) if weight_decay else None
    return layers.Conv2D(filters, size, strides=strides, padding="same", use_bias=False,
                         kernel_initializer="he_normal", kernel_regularizer=reg, name=name)


@keras.saving.register_keras_serializable(package="emozoo.dface")
class DFaceBackbone(keras.Model):
    """DenseNet-BC face backbone: grey face crop ``[B, S, S, 1]`` -> embedding ``[B, D]``."""

    def __init__(self, growth_rate: int = 12, block_layers=(6, 12, 20), stem_channels: int = 24,
                 compression: float = 0.5, image_size: int = 48, weight_decay: float = 1e-4,
                 **kwargs):
        if growth_rate < 1 or stem_channels < 1 or not block_layers or min(block_layers) < 1:
            raise ValueError("growth_rate, stem_channels and every block_layers entry must be >= 1, "
                             f"got {growth_rate}, {stem_channels}, {block_layers}")
        if not 0.0 < compression <= 1.0:
            raise ValueError(f"compression must be in (0, 1], got {compression}")
        if image_size < 8:
            raise ValueError(f"image_size must be >= 8, got {image_size}")
        wd = weight_decay
        inputs = keras.Input((image_size, image_size, 1), name="face")
        x = layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
        x = _conv(stem_channels, 3, "stem_conv1", weight_decay=wd)(x)
        x = _bn_relu(x, "stem1")
        x = _conv(stem_channels, 3, "stem_conv2", strides=2, weight_decay=wd)(x)
        for b, n_layers in enumerate(block_layers):
            for i in range(n_layers):
                name = f"block{b + 1}_layer{i + 1}"
                # H_l: BN-ReLU-Conv(1x1, 4k)-BN-ReLU-Conv(3x3, k)   (DenseNet-B)
                y = _bn_relu(x, f"{name}_0")
                y = _conv(4 * growth_rate, 1, f"{name}_conv1x1", weight_decay=wd)(y)
                y = _bn_relu(y, f"{name}_1")
                y = _conv(growth_rate, 3, f"{name}_conv3x3", weight_decay=wd)(y)
                # x_l = H_l([x_0, ..., x_{l-1}])   (eq. 2)
                x = layers.Concatenate(name=f"{name}_concat")([x, y])
            if b < len(block_layers) - 1:
                # transition with compression theta   (DenseNet-C)
                channels = int(x.shape[-1] * compression)
                x = _bn_relu(x, f"transition{b + 1}")
                x = _conv(channels, 1, f"transition{b + 1}_conv", weight_decay=wd)(x)
                x = layers.AveragePooling2D(2, name=f"transition{b + 1}_pool")(x)
        x = _bn_relu(x, "final")
        embedding = layers.GlobalAveragePooling2D(name="embedding")(x)
        super().__init__(inputs=inputs, outputs=embedding, **kwargs)
        self.growth_rate = int(growth_rate)
        self.block_layers = tuple(int(n) for n in block_layers)
        self.stem_channels = int(stem_channels)
        self.compression = float(compression)
        self.image_size = int(image_size)
        self.weight_decay = float(weight_decay)
        self.embedding_dim = embedding_dim(growth_rate, block_layers, stem_channels, compression)

    def get_config(self):
        return {"growth_rate": self.growth_rate, "block_layers": list(self.block_layers),
                "stem_channels": self.stem_channels, "compression": self.compression,
                "image_size": self.image_size, "weight_decay": self.weight_decay,
                "name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
