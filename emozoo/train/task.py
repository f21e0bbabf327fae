"""Tasks: what one method contributes to training (TF Model Garden ``official/core/base_task.py``).

The one trainer, :func:`emozoo.train.trainer.run_experiment`, owns the loop: seeds x folds, the
distribution strategy, the run folder's identity (``config.json``, ``run.json``), resume (a fold
whose ``result.json`` exists is read back, not retrained), the per-seed report pooled over the
folds and the summary over seeds. A :class:`Task` knows one problem and nothing about that loop:

* :meth:`Task.build_folds` returns the experiment's folds (each with ``name`` and ``slug``) and
  its class names;
* :meth:`Task.train_fold` builds the method's Keras model (with its own ``train_step``) in the
  strategy's scope, trains it on one fold, scores the fold's test side and returns the fold's
  result: a dict with ``"test"`` (:func:`emozoo.evaluation.metrics.classification_report`) and
  whatever the method records (per-epoch losses, the selected epoch, sizes). It writes its files
  (weights, logs) under ``fold_dir`` and, on the chief, the result as ``fold_dir/result.json``.

The feature-vector task (:class:`FeatureVectorTask`: one vector per clip, the generic fold trainer
:func:`emozoo.train.trainer.train_fold`) serves every model that registers no task of its own. A
method whose data are shaped otherwise registers one next to its package::

    from emozoo.experiments import register_task
    register_task("dann_conversation", "emozoo.models.dann.dann_task:ConversationTask")

and ``python -m emozoo.train --experiment dann/...`` then runs through the same loop as every
other method (``--strategy``, resume, reports and summaries behave the same).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol, runtime_checkable


@runtime_checkable
class Task(Protocol):
    """One method's part of an experiment (see the module docstring)."""

    def build_folds(self, cfg, *, data_root: str | os.PathLike = ".", log=print) -> tuple[list, tuple]:
        """``(folds, classes)`` of ``cfg``; each fold has ``name`` and ``slug`` (its folder name)."""

    def train_fold(self, cfg, fold, fold_index: int, classes, seed: int, fold_dir: Path, strategy, *,
                   is_chief: bool = True, verbose: int = 0) -> dict:
        """Train and score one fold under ``strategy``; returns its result (with ``"test"``)."""


class FeatureVectorTask:
    """Feature stores with one vector per clip (baseline, ADV, EMODal, utterance DANN): folds from
    :func:`emozoo.train.streaming.fold_source` (in memory or streamed from the shards), each fold
    trained by :func:`emozoo.train.trainer.train_fold` (model selection, early stopping, exact
    backups, TensorBoard)."""

    def build_folds(self, cfg, *, data_root=".", log=print):
        from emozoo.train.streaming import fold_source
        return fold_source(cfg.data, root=data_root, log=log)

    def train_fold(self, cfg, fold, fold_index, classes, seed, fold_dir, strategy, *, is_chief=True, verbose=0):
        from emozoo.train.trainer import train_fold
        return train_fold(cfg, fold, fold_index, classes, seed, fold_dir, strategy, is_chief=is_chief,
                          verbose=verbose)
