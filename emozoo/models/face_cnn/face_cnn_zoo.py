"""Face CNN zoo recipe: publish ``face_cnn_fer2013``, ``face_cnn_jaffe``, ``face_cnn_ckplus`` from
finished trainer runs (``python -m emozoo.publish face_cnn_jaffe --runs runs``).

The runs are the trainer's run folders of the registered experiments (:data:`EXPERIMENTS`,
``python -m emozoo.train --experiment face_cnn/tables/cpu`` writes ``runs/face_cnn_culture_jaffe_cpu``
etc.), read back with :func:`emozoo.train.trainer.load_run`:

* ``face_cnn_jaffe`` / ``face_cnn_ckplus``: the seed-0 model (allocation 0) of the per-culture run;
  the card holds its held-out test metrics, the mean +- std over the allocations (seeds) and the
  cross-culture accuracy (train on one culture, test on every image of the other)
  (:func:`culture_card`);
* ``face_cnn_fer2013``: the seed with the best PublicTest accuracy (selection on validation, never on
  test); the card holds its PrivateTest metrics and the mean +- std over seeds (:func:`fer_card`).

Each is exported by :func:`~emozoo.models.face_cnn.face_cnn_export.export_face_cnn` (SavedModel for
``emozoo.load``'s FacePredictor, plus the Keras weights for ``python -m emozoo.explain``) and published
with :func:`emozoo.zoo.publish`.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from emozoo.errors import ExportError

NAMES = ("face_cnn_jaffe", "face_cnn_ckplus", "face_cnn_fer2013")
#: the registered experiment each preset is exported from
EXPERIMENTS = {"face_cnn_jaffe": "face_cnn/culture/jaffe/cpu", "face_cnn_ckplus": "face_cnn/culture/ckplus/cpu",
               "face_cnn_fer2013": "face_cnn/fer2013/cpu"}


def run_folder(runs, experiment: str) -> Path:
    """The folder ``python -m emozoo.train --experiment EXPERIMENT`` writes under ``runs``."""
    return Path(runs) / experiment.replace("/", "_")


def _ms(v):
    v = np.asarray(v, np.float64)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0, "n": int(v.size)}


def _folds(run_dir: Path) -> list[dict]:
    """Every seed's (one) fold result of a face CNN run, in seed order."""
    from emozoo.train.trainer import load_run

    run = load_run(run_dir)                        # ExperimentError naming the command when unfinished
    recs = [f for s in run["seeds"] for f in s["folds"]]
    if not recs:
        raise ExportError(f"{run_dir} holds no finished fold; run python -m emozoo.train --experiment "
                          f"{run['summary'].get('experiment', '<experiment>')} --model-dir {run_dir}")
    return recs


def _weights(run_dir: Path, rec: dict) -> Path:
    return Path(run_dir) / f"seed_{rec['seed']}" / rec["fold"] / rec.get("weights", "best.weights.h5")


def culture_card(run_dir, name: str):
    """``(model_config, weights, classes, card)`` of the first seed's (allocation 0's) per-culture
    model of the run in ``run_dir``."""
    from emozoo.models.face_cnn.face_cnn_presets import PRESETS

    run_dir = Path(run_dir)
    recs = _folds(run_dir)
    r0, n = recs[0], len(recs)
    card = dict(PRESETS[name])
    card["metrics"] = {
        f"split{r0['seed']}_test_accuracy": r0["test"]["accuracy"], f"split{r0['seed']}_test_uar": r0["test"]["uar"],
        f"split{r0['seed']}_test_subjects": r0["test_subjects"],
        f"test_accuracy_{n}_splits": _ms([r["test"]["accuracy"] for r in recs]),
        f"test_uar_{n}_splits": _ms([r["test"]["uar"] for r in recs]),
        f"cross_culture_accuracy_{n}_splits": {o: _ms([r["extra_tests"][o]["accuracy"] for r in recs])
                                               for o in r0.get("extra_tests", {})},
    }
    card["training"] = {"model_config": r0["model_config"], "train_config": r0["train_config"],
                        "best_epoch": r0["best_epoch"], "sizes": r0["sizes"], "run": str(run_dir)}
    card["classes"] = r0["classes"]
    return r0["model_config"], _weights(run_dir, r0), r0["classes"], card


def fer_card(run_dir, name: str):
    """``(model_config, weights, classes, card)`` of the FER2013 seed with the best PublicTest accuracy."""
    from emozoo.models.face_cnn.face_cnn_presets import PRESETS

    run_dir = Path(run_dir)
    recs = _folds(run_dir)
    best = max(recs, key=lambda r: r["valid"]["accuracy"])
    card = dict(PRESETS[name])
    card["metrics"] = {
        "fer2013_private_test_accuracy": best["test"]["accuracy"],
        "fer2013_private_test_uar": best["test"]["uar"],
        "fer2013_public_test_accuracy": best["valid"]["accuracy"],
        "private_test_accuracy_over_seeds": _ms([r["test"]["accuracy"] for r in recs]),
        "selected_seed": best["seed"],
    }
    card["training"] = {"model_config": best["model_config"], "train_config": best["train_config"],
                        "best_epoch": best["best_epoch"], "sizes": best["sizes"], "run": str(run_dir)}
    card["classes"] = best["classes"]
    return best["model_config"], _weights(run_dir, best), best["classes"], card


def publish_from_runs(name: str, *, repo: Path, zoo_dir=None, command: str, runs: str = "runs") -> dict:
    """Recipe of the presets ``face_cnn_jaffe``, ``face_cnn_ckplus`` and ``face_cnn_fer2013``: export
    the selected model of the finished trainer run of :data:`EXPERIMENTS` ``[name]`` under ``runs``
    (no training) and publish it.

    Args:
        name: one of :data:`NAMES`.
        repo: folder a relative ``runs`` resolves against.
        zoo_dir: zoo folder (default ``saved_models/``).
        command: the command line recorded on the card (``command``; ``train_command`` names the
            training command).
        runs: the folder holding the run folders of ``python -m emozoo.train`` (``runs``).

    Example:
        >>> publish_from_runs("face_cnn_jaffe", repo=Path("."),
        ...                   command="python -m emozoo.publish face_cnn_jaffe")  # doctest: +SKIP
    """
    from emozoo.models.face_cnn.face_cnn_export import export_face_cnn, model_from_config
    from emozoo.zoo import publish

    if name not in EXPERIMENTS:
        raise ExportError(f"unknown face_cnn zoo model {name!r}; known: {', '.join(NAMES)}")
    runs_dir = Path(runs) if Path(runs).is_absolute() else Path(repo) / runs
    run_dir = run_folder(runs_dir, EXPERIMENTS[name])
    if name == "face_cnn_fer2013":
        cfg, weights, classes, card = fer_card(run_dir, name)
    else:
        cfg, weights, classes, card = culture_card(run_dir, name)
    card["command"] = command
    model = model_from_config(cfg, weights)
    entry = publish(name, lambda d: export_face_cnn(model, cfg, classes, d), card, zoo_dir)
    print(json.dumps({"name": entry["name"], "path": entry["path"], "metrics": entry["metrics"]}), flush=True)
    return entry


__all__ = ["EXPERIMENTS", "NAMES", "culture_card", "fer_card", "publish_from_runs", "run_folder"]
