"""Export the face CNN to the zoo and load it back as a Keras model (for saliency / modification).

A zoo folder holds:

* a SavedModel (``keras.export.ExportArchive``) with the signatures the zoo's
  :class:`emozoo.zoo.predictor.FacePredictor` calls (``"input": "face"`` in preprocessing.json):
  ``classify(face float32 [N, 48, 48, 1] in 0..255) -> {"probabilities" [N, K], "embedding" [N, D]}``
  and ``embed(face) -> {"embedding"}`` (the fully connected layer after its ReLU);
* ``assets/face_cnn.weights.h5`` (Keras weights, HDF5, no pickle) and
  ``assets/face_cnn_config.json`` (the :func:`build_face_cnn` arguments), from which
  :func:`load_face_cnn` rebuilds the Keras network and its guided-ReLU copy, which
  :mod:`emozoo.explain` differentiates (a SavedModel cannot swap its ReLUs' gradients);
* ``assets/labels.json`` and ``assets/preprocessing.json``.

Every file is checksummed by :func:`emozoo.zoo.publish` and verified before loading.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from emozoo.errors import ExportError, ModelNotFoundError

WEIGHTS = "face_cnn.weights.h5"
CONFIG = "face_cnn_config.json"


def model_from_config(config: dict, weights: str | os.PathLike | None = None):
    """:func:`build_face_cnn` from a saved config (JSON lists -> tuples), weights loaded if given."""
    from emozoo.models.face_cnn.face_cnn_model import build_face_cnn

    cfg = dict(config)
    cfg["filters"] = tuple(int(f) for f in cfg["filters"])
    model = build_face_cnn(**cfg)
    if weights is not None:
        model.load_weights(str(weights))
    return model


def export_face_cnn(model, config: dict, classes, out_dir: str | os.PathLike) -> Path:
    """Write ``model`` (built from ``config``) as a zoo folder (SavedModel + Keras weights)."""
    import keras
    import tensorflow as tf

    out = Path(out_dir)
    if out.exists():
        raise ExportError(f"{out} already exists; export into a fresh folder")
    classes = [str(c) for c in classes]
    if len(classes) != int(model.output_shape[-1]):
        raise ExportError(f"{len(classes)} class names for a model with {model.output_shape[-1]} outputs")
    size = int(model.input_shape[1])
    spec = tf.TensorSpec((None, size, size, 1), tf.float32, name="face")
    embedder = keras.Model(model.input, model.get_layer("relu_fc").output)

    def embed(face):
        return {"embedding": embedder(face, training=False)}

    def classify(face):
        return {"probabilities": model(face, training=False), "embedding": embedder(face, training=False)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.track(embedder)
    archive.add_endpoint("embed", embed, input_signature=[spec])
    archive.add_endpoint("classify", classify, input_signature=[spec])
    archive.write_out(str(out), verbose=False)
    assets = out / "assets"
    assets.mkdir(exist_ok=True)
    model.save_weights(assets / WEIGHTS)
    cfg = {k: (list(v) if isinstance(v, tuple) else v) for k, v in config.items()}
    (assets / CONFIG).write_text(json.dumps(cfg, indent=1))
    (assets / "labels.json").write_text(json.dumps(classes, indent=1))
    pre = {"input": "face", "size": size, "channels": 1, "pixel_range": [0, 255],
           "embedding_dim": int(model.get_layer("fc").units),
           "cropping": "emozoo.features.face.FaceCropper(size=48, policy='full'): MTCNN largest face, square of "
                       "the box's longer side, ITU-R 601-2 grey, antialiased bilinear resize; the whole image "
                       "when no face is found",
           "keras_weights": f"assets/{WEIGHTS}", "keras_config": f"assets/{CONFIG}"}
    (assets / "preprocessing.json").write_text(json.dumps(pre, indent=1))
    return out


def load_face_cnn(name: str, root=None):
    """``(model, guided_model, classes, entry)`` of a face_cnn zoo model, after verifying every checksum."""
    from emozoo.models.face_cnn.face_cnn_model import guided_copy
    from emozoo.zoo import read_registry, verify, zoo_dir

    root = zoo_dir(root)
    reg = read_registry(root)
    if name not in reg["models"]:
        raise ModelNotFoundError(f"no zoo model {name!r} in {root}; known: {sorted(reg['models'])} "
                                 "(publish face_cnn models with python -m emozoo.publish face_cnn_jaffe --runs runs)")
    entry = reg["models"][name]
    folder = Path(verify(entry, root))
    assets = folder / "assets"
    if not (assets / WEIGHTS).exists() or not (assets / CONFIG).exists():
        raise ExportError(f"zoo model {name!r} has no {WEIGHTS}/{CONFIG}: it is not a face_cnn model, "
                          "so it cannot be explained with saliency maps")
    config = json.loads((assets / CONFIG).read_text())
    model = model_from_config(config, assets / WEIGHTS)
    classes = json.loads((assets / "labels.json").read_text())
    return model, guided_copy(model, config), classes, entry
