"""Reading a finished run of the one trainer back as a model (the study's probes, Fig. 2's t-SNE).

:func:`emozoo.train.trainer.run_experiment` writes, for every seed and fold of an ``adv_culture``
experiment, ``<run>/seed_<s>/<fold>/best.weights.h5`` (the selected weights; with no validation set,
the last epoch's) beside ``result.json``, and the experiment's config as ``<run>/config.json``.
:func:`load_trained` rebuilds the model from that config exactly as
:func:`emozoo.train.trainer.train_fold` builds it (the registered ``adv_culture`` builder, the fold's
training side for the culture normalisation) and loads the weights, so nothing is retrained.

Example::

    from emozoo.models.adv_culture.adv_culture_runs import load_trained
    model, fold, classes, cfg, folder = load_trained("runs/adv_culture_cross_casia_to_ravdess_is10_adv", seed=0)
    z = model.embed({"features": fold.test.x, "culture": model.culture_index(fold.test.meta["corpus"])})
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from emozoo.errors import ExperimentError


def seed_fold_dir(model_dir: str | os.PathLike, seed: int, experiment: str = "<its experiment>") -> Path:
    """The one fold folder of seed ``seed`` in a finished single-fold run (the transductive cross-culture
    setting): ``<model_dir>/seed_<seed>/<fold>/`` with ``result.json`` and ``best.weights.h5``. A missing
    run is an :class:`~emozoo.errors.ExperimentError` naming the command that trains it."""
    from emozoo.train.trainer import seed_fold_dir as single_fold

    folder = single_fold(model_dir, seed, experiment)
    if not (folder / "best.weights.h5").exists():
        raise ExperimentError(f"{folder} has no best.weights.h5 (a run older than the trainer's weight files): "
                              f"train it again with python -m emozoo.train --experiment {experiment} "
                              f"--model-dir <an empty folder>")
    return folder


def load_fold(cfg, root: str | os.PathLike = "."):
    """``(fold, classes)`` of a single-fold experiment (the transductive cross-culture setting) in memory,
    as :class:`emozoo.train.task.FeatureVectorTask` makes it (:func:`emozoo.train.data.make_folds`)."""
    from emozoo.train.data import make_folds

    folds, classes = make_folds(cfg.data, root=root)
    if len(folds) != 1:
        raise ExperimentError(f"{cfg.name}: expected one fold (the transductive cross-culture setting), got "
                              f"{len(folds)}")
    return folds[0], classes


def rebuild_model(cfg, fold, classes, weights: str | os.PathLike):
    """The model of ``cfg`` built as the trainer builds it for ``fold``, with ``weights`` loaded."""
    from emozoo.models import build_model, discover

    discover()
    model = build_model(cfg.model.name, num_classes=len(classes), input_dim=int(fold.train.x.shape[1]),
                        **cfg.model.params)
    model.prepare_fold(fold)          # the normalisation rows are weights too: the file's values replace these
    model.load_weights(str(weights))
    return model


def load_trained(model_dir: str | os.PathLike, seed: int = 0, *, root: str | os.PathLike = ".", fold=None,
                 classes=None, experiment: str = "<its experiment>"):
    """``(model, fold, classes, cfg, fold_dir)`` of seed ``seed`` of the finished run ``model_dir``: the
    config from its ``config.json``, the fold rebuilt from the stores under ``root`` (or the given ``fold``),
    the model with the fold's ``best.weights.h5``."""
    from emozoo.experiments import ExperimentConfig

    folder = seed_fold_dir(model_dir, seed, experiment)
    cfg = ExperimentConfig.from_json(json.loads((Path(model_dir) / "config.json").read_text()))
    if fold is None:
        fold, classes = load_fold(cfg, root)
    return rebuild_model(cfg, fold, classes, folder / "best.weights.h5"), fold, classes, cfg, folder
