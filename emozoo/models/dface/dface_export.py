"""Export Dface as a SavedModel with ``embed`` and ``classify`` signatures and publish it to the zoo.

    python -m emozoo.models.dface.dface_export --run runs/dface_fer2013 [--weights best.weights.h5]

Signatures (``keras.export.ExportArchive``; the 1/255 rescaling is inside the graph, so they
take raw grey pixels):

* ``embed(face: float32 [N, 48, 48, 1] in 0..255) -> {"embedding": float32 [N, D]}``
* ``classify(face) -> {"probabilities": float32 [N, 7], "embedding": float32 [N, D]}``

Assets: ``labels.json`` (class order), ``preprocessing.json`` (input size, pixel range, the
face-cropping recipe of :mod:`emozoo.features.face`, embedding dimension).

The zoo side (checksums, atomic publish, registry) is :func:`emozoo.zoo.publish`; the card is
:data:`emozoo.models.dface.dface_presets.PRESETS` plus the measured metrics of the run.
:func:`load_dface` verifies the checksums (:func:`emozoo.zoo.verify`) and loads the SavedModel.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ZOO_NAME = "dface_fer2013"


def build_from_run(run: str | os.PathLike, weights: str = "best.weights.h5"):
    """The trained :class:`DFaceClassifier` of a ``train_dface.py`` run folder, and its results."""
    from emozoo.errors import ExportError
    from emozoo.models.dface import DFaceBackbone, DFaceClassifier

    run = Path(run)
    state_path = run / "state.json"
    if not state_path.exists() or not (run / weights).exists():
        raise ExportError(f"{run} is not a finished pipelines/train_dface.py run (need state.json and {weights})")
    state = json.loads(state_path.read_text())
    a = state["args"]
    backbone = DFaceBackbone(growth_rate=a["growth_rate"],
                             block_layers=tuple(int(v) for v in str(a["block_layers"]).split(",")),
                             stem_channels=a["stem_channels"], compression=a["compression"],
                             weight_decay=a["weight_decay"])
    model = DFaceClassifier(backbone, num_classes=7)
    model.load_weights(run / weights)
    results = json.loads((run / "results.json").read_text()) if (run / "results.json").exists() else None
    return model, state, results


def export_dface(model, out_dir: str | os.PathLike, classes) -> Path:
    """Write ``model`` (a :class:`DFaceClassifier`) as a SavedModel with ``embed`` and ``classify``."""
    import keras
    import tensorflow as tf

    from emozoo.errors import ExportError

    out = Path(out_dir)
    if out.exists():
        raise ExportError(f"{out} already exists; export into a fresh folder")
    if len(classes) != model.num_classes:
        raise ExportError(f"{len(classes)} class names for a model with {model.num_classes} outputs")
    size = model.backbone.image_size
    spec = tf.TensorSpec((None, size, size, 1), tf.float32, name="face")
    backbone = model.backbone

    def embed(face):
        return {"embedding": backbone(face, training=False)}

    def classify(face):
        emb = backbone(face, training=False)
        return {"probabilities": model.get_layer("expression")(emb), "embedding": emb}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint("embed", embed, input_signature=[spec])
    archive.add_endpoint("classify", classify, input_signature=[spec])
    archive.write_out(str(out), verbose=False)
    assets = out / "assets"
    assets.mkdir(exist_ok=True)
    (assets / "labels.json").write_text(json.dumps(list(classes), indent=1))
    pre = {"input": "face", "size": size, "channels": 1, "pixel_range": [0, 255],
           "embedding_dim": int(backbone.embedding_dim),
           "cropping": "emozoo.features.face.FaceCropper(size=48): MTCNN largest face, square of the box's "
                       "longer side, ITU-R 601-2 grey, antialiased bilinear resize",
           "backbone_config": backbone.get_config()}
    (assets / "preprocessing.json").write_text(json.dumps(pre, indent=1))
    return out


def publish_dface(run: str | os.PathLike, *, weights: str = "best.weights.h5", root=None) -> dict:
    """Export the run's selected weights and publish them as zoo model ``dface_fer2013``."""
    from emozoo.errors import ExportError
    from emozoo.models.dface.dface_presets import PRESETS
    from emozoo.zoo import publish

    model, state, results = build_from_run(run, weights)
    if results is None:
        raise ExportError(f"{run}/results.json is missing: the run has not been evaluated on PrivateTest yet")
    classes = results["classes"]
    card = dict(PRESETS[ZOO_NAME])
    card["metrics"] = {"fer2013_private_test_accuracy": results["private_test_accuracy"],
                       "fer2013_public_test_accuracy": results["public_test_accuracy"],
                       "private_test_uar": results["private_test_report"]["uar"],
                       "private_test_macro_f1": results["private_test_report"]["macro_f1"]}
    card["training"] = {"epochs_run": results["epochs_run"], "best_epoch": results["best_epoch"],
                        "train_minutes": results["train_minutes"], "command": results["command"],
                        "parameters": results["parameters"]}
    card["embedding_dim"] = results["embedding_dim"]
    card["image_size"] = int(model.backbone.image_size)
    card["classes"] = classes
    return publish(ZOO_NAME, lambda d: export_dface(model, d, classes), card, root)


def load_dface(name: str = ZOO_NAME, root=None):
    """``(SavedModel, registry entry)`` of a Dface zoo model, after verifying every checksum.

    ``emozoo.zoo.load`` returns a feature-model Predictor (``serve_features``); Dface models take
    face crops, so they are loaded here.
    """
    import tensorflow as tf

    from emozoo.errors import ModelNotFoundError
    from emozoo.zoo import read_registry, verify, zoo_dir

    root = zoo_dir(root)
    reg = read_registry(root)
    if name not in reg["models"]:
        raise ModelNotFoundError(f"no zoo model {name!r} in {root}; train it with pipelines/train_dface.py and "
                                 "export it with python -m emozoo.models.dface.dface_export --run RUN")
    entry = reg["models"][name]
    folder = verify(entry, root)
    return tf.saved_model.load(str(folder)), entry


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m emozoo.models.dface.dface_export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", default="runs/dface_fer2013", help="pipelines/train_dface.py output folder")
    p.add_argument("--weights", default="best.weights.h5", help="weights file in the run folder")
    p.add_argument("--root", help="zoo folder (default saved_models/ or $EMOZOO_ZOO_DIR)")
    args = p.parse_args(argv)
    entry = publish_dface(args.run, weights=args.weights, root=args.root)
    print(json.dumps({k: entry[k] for k in ("name", "path", "metrics")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
