"""Dface expression classifier: DenseNet-BC backbone + softmax head over FER2013's 7 classes.

The classifier is what is trained on FER2013 (cross-entropy, eq. of a plain softmax
classifier); the backbone's pooled output is the Dface embedding that the other methods use.

Args:
    backbone: a :class:`DFaceBackbone`.
    num_classes: int, number of expression classes (7 for FER2013).

Example:

>>> clf = DFaceClassifier(DFaceBackbone(growth_rate=4, block_layers=(1, 1), stem_channels=8))
>>> clf(np.zeros((2, 48, 48, 1), "float32")).shape
TensorShape([2, 7])
"""
from __future__ import annotations

import keras
import numpy as np  # noqa: F401  (used in the docstring example)
from keras import layers

from emozoo.models.dface.dface_backbone import DFaceBackbone


@keras.saving.register_keras_serializable(package="emozoo.dface")
class DFaceClassifier(keras.Model):
    """Face crop ``[B, S, S, 1]`` (grey 0..255) -> class probabilities ``[B, num_classes]``."""

    def __init__(self, backbone: DFaceBackbone, num_classes: int = 7, **kwargs):
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        inputs = keras.Input(backbone.input_shape[1:], name="face")
        embedding = backbone(inputs)
        probs = layers.Dense(num_classes, activation="softmax", name="expression")(embedding)
        super().__init__(inputs=inputs, outputs=probs, **kwargs)
        self.backbone = backbone
        self.num_classes = int(num_classes)

    def get_config(self):
        return {"backbone": keras.saving.serialize_keras_object(self.backbone),
                "num_classes": self.num_classes, "name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)
