"""Export trained models as TF SavedModels with serving signatures and assets.

:func:`export_feature_classifier` writes a SavedModel (``tf.saved_model.save`` of a ``tf.Module``
holding the Keras model) with the signature
``serve_features(features: float32 [N, D]) -> {probabilities, logits, embedding}``;
the z-normalisation fitted on the training data is inside the graph (model weights), so the
signature takes raw features. The labels and the preprocessing parameters are written as
assets (``assets/labels.json``, ``assets/preprocessing.json``).

Feature-level models on openSMILE functionals (IS10) cannot take a waveform signature: openSMILE
is a C++ library that does not run inside a TensorFlow graph. Their predictor
(:mod:`emozoo.zoo`) computes the features in Python with the extractor named in
``preprocessing.json`` and then calls ``serve_features``.

Why not ``keras.export.ExportArchive``: in Keras 3.15 it writes every variable twice (under
``variables`` and ``_all_variables``), doubling the size of a zoo model (8.6 MB instead of
4.3 MB for the IS10 baseline); ``tf.saved_model.save`` of a module with one signature does not.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import tensorflow as tf

from emozoo.errors import ExportError


class _FeatureServing(tf.Module):
    """The exported object: the Keras model and its ``serve_features`` function."""

    def __init__(self, model, spec: tf.TensorSpec):
        super().__init__(name="feature_serving")
        self.model = model
        self.serve_features = tf.function(self._serve, input_signature=[spec], autograph=False)

    def _serve(self, features):
        logits = self.model(features, training=False)
        out = {"logits": logits, "probabilities": tf.nn.softmax(logits, axis=-1)}
        if hasattr(self.model, "embed"):
            out["embedding"] = self.model.embed(features, training=False)
        return out


def export_feature_classifier(model, out_dir: str | os.PathLike, *, classes, feature: str, input_dim: int,
                              preprocessing: dict | None = None) -> Path:
    """Write ``model`` as a SavedModel at ``out_dir`` (which must not exist).

    Args:
        model: a Keras model mapping features ``[N, input_dim]`` to logits ``[N, K]``; if it has
            ``embed(x)``, the representation is exported too.
        classes: class names in logit order (written to ``assets/labels.json``).
        feature: the store feature the model takes (``is10``).
        input_dim: feature dimension.
        preprocessing: extra preprocessing facts (extractor config, sample rate) for the asset.
    """
    out = Path(out_dir)
    if out.exists():
        raise ExportError(f"{out} already exists; export into a fresh folder")
    if len(classes) != int(model.num_classes if hasattr(model, "num_classes") else len(classes)):
        raise ExportError(f"{len(classes)} class names for a model with {model.num_classes} outputs")
    spec = tf.TensorSpec((None, int(input_dim)), tf.float32, name="features")

    serving = _FeatureServing(model, spec)
    tf.saved_model.save(serving, str(out), signatures={"serve_features": serving.serve_features})
    assets = out / "assets"
    assets.mkdir(exist_ok=True)
    (assets / "labels.json").write_text(json.dumps(list(classes), indent=1))
    pre = {"input": "features", "feature": feature, "input_dim": int(input_dim),
           "normalisation": "z-normalisation fitted on the training data, inside the graph"}
    pre.update(preprocessing or {})
    (assets / "preprocessing.json").write_text(json.dumps(pre, indent=1))
    return out
