"""Face CNN zoo recipe: publish ``face_cnn_fer2013``, ``face_cnn_jaffe``, ``face_cnn_ckplus`` from
finished training runs (``python -m emozoo.publish face_cnn_jaffe --runs runs/face_cnn``).

* ``face_cnn_jaffe`` / ``face_cnn_ckplus``: the split-0 model of the per-culture runs; the card holds
  split 0's held-out test metrics, the mean +- std over the 5 splits and the cross-culture accuracy
  (train on one culture, test on every image of the other) (:func:`culture_card`);
* ``face_cnn_fer2013``: the seed with the best PublicTest accuracy (selection on validation, never on
  test); the card holds its PrivateTest metrics and the mean +- std over seeds (:func:`fer_card`).

Each is exported by :func:`~emozoo.models.face_cnn.face_cnn_export.export_face_cnn` (SavedModel for
``emozoo.load``'s FacePredictor, plus the Keras weights for ``python -m emozoo.explain``) and published
with :func:`emozoo.zoo.publish`. The runs are written by ``pipelines/face_cnn_train.py``.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from emozoo.errors import ExportError

NAMES = ("face_cnn_jaffe", "face_cnn_ckplus", "face_cnn_fer2013")


def _ms(v):
    v = np.asarray(v, np.float64)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0, "n": int(v.size)}


def culture_card(runs: Path, corpus: str, name: str):
    """``(model_config, weights, classes, card)`` of the split-0 per-culture model of ``corpus``."""
    from emozoo.models.face_cnn.face_cnn_presets import PRESETS

    recs = [json.loads(p.read_text()) for p in sorted((runs / "culture" / corpus).glob("split*.json"))]
    if not recs:
        raise ExportError(f"no {corpus} runs under {runs}/culture; run pipelines/face_cnn_train.py --tasks culture")
    r0 = recs[0]
    card = dict(PRESETS[name])
    card["metrics"] = {
        "split0_test_accuracy": r0["test"]["report"]["accuracy"], "split0_test_uar": r0["test"]["report"]["uar"],
        "split0_test_subjects": r0["test_subjects"],
        "test_accuracy_5_splits": _ms([r["test"]["report"]["accuracy"] for r in recs]),
        "test_uar_5_splits": _ms([r["test"]["report"]["uar"] for r in recs]),
        "cross_culture_accuracy_5_splits": {o: _ms([r["cross"][o]["report"]["accuracy"] for r in recs])
                                            for o in r0["cross"]},
    }
    card["training"] = {"model_config": r0["model_config"], "train_config": r0["train_config"],
                        "best_epoch": r0["best_epoch"], "sizes": r0["sizes"]}
    card["classes"] = r0["classes"]
    return r0["model_config"], runs / "culture" / corpus / "split0.weights.h5", r0["classes"], card


def fer_card(runs: Path, name: str):
    """``(model_config, weights, classes, card)`` of the FER2013 seed with the best PublicTest accuracy."""
    from emozoo.models.face_cnn.face_cnn_presets import PRESETS

    recs = [json.loads(p.read_text()) for p in sorted((runs / "fer2013").glob("seed*.json"))]
    if not recs:
        raise ExportError(f"no FER2013 runs under {runs}/fer2013; run pipelines/face_cnn_train.py --tasks fer2013")
    best = max(recs, key=lambda r: r["valid"]["report"]["accuracy"])
    card = dict(PRESETS[name])
    card["metrics"] = {
        "fer2013_private_test_accuracy": best["test"]["report"]["accuracy"],
        "fer2013_private_test_uar": best["test"]["report"]["uar"],
        "fer2013_public_test_accuracy": best["valid"]["report"]["accuracy"],
        "private_test_accuracy_over_seeds": _ms([r["test"]["report"]["accuracy"] for r in recs]),
        "selected_seed": best["seed"],
    }
    card["training"] = {"model_config": best["model_config"], "train_config": best["train_config"],
                        "best_epoch": best["best_epoch"], "sizes": best["sizes"]}
    card["classes"] = best["classes"]
    return best["model_config"], runs / "fer2013" / f"seed{best['seed']}.weights.h5", best["classes"], card


def publish_from_runs(name: str, *, repo: Path, zoo_dir=None, command: str, runs: str = "runs/face_cnn") -> dict:
    """Recipe of the presets ``face_cnn_jaffe``, ``face_cnn_ckplus`` and ``face_cnn_fer2013``: export
    the selected model of the finished runs under ``runs`` (no training) and publish it.

    Args:
        name: one of :data:`NAMES`.
        repo: folder a relative ``runs`` resolves against.
        zoo_dir: zoo folder (default ``saved_models/``).
        command: the command line recorded on the card (``command``; ``train_command`` names the
            runs' training pipeline).
        runs: the runs folder of ``pipelines/face_cnn_train.py``.

    Example:
        >>> publish_from_runs("face_cnn_jaffe", repo=Path("."),
        ...                   command="python -m emozoo.publish face_cnn_jaffe")  # doctest: +SKIP
    """
    from emozoo.models.face_cnn.face_cnn_export import export_face_cnn, model_from_config
    from emozoo.zoo import publish

    runs_dir = Path(runs) if Path(runs).is_absolute() else Path(repo) / runs
    if name == "face_cnn_fer2013":
        cfg, weights, classes, card = fer_card(runs_dir, name)
    elif name in ("face_cnn_jaffe", "face_cnn_ckplus"):
        cfg, weights, classes, card = culture_card(runs_dir, name.split("_")[-1], name)
    else:
        raise ExportError(f"unknown face_cnn zoo model {name!r}; known: {', '.join(NAMES)}")
    card["command"] = command
    model = model_from_config(cfg, weights)
    entry = publish(name, lambda d: export_face_cnn(model, cfg, classes, d), card, zoo_dir)
    print(json.dumps({"name": entry["name"], "path": entry["path"], "metrics": entry["metrics"]}), flush=True)
    return entry


__all__ = ["NAMES", "culture_card", "fer_card", "publish_from_runs"]
