"""Name -> experiment factory registry; method packages register on import."""
from __future__ import annotations

import importlib
from typing import Callable

from emozoo.errors import ExperimentError
from emozoo.experiments.config import ExperimentConfig

_EXPERIMENTS: dict[str, Callable[[], ExperimentConfig]] = {}
_RUNNERS: dict[str, str] = {}
_STORE_BUILDERS: dict[str, str] = {}
#: how a store of per-clip features is built when no method registered another command
EXTRACT_COMMAND = ("python -m emozoo.extract --corpus {corpus} --features {features} --label-set {label_set} "
                   "--out {store}")
_LOADED = False


def register_experiment(name: str):
    """Decorator registering ``factory() -> ExperimentConfig`` under ``name``."""
    def deco(factory: Callable[[], ExperimentConfig]):
        if name in _EXPERIMENTS and _EXPERIMENTS[name] is not factory:
            raise ExperimentError(f"experiment {name!r} is registered twice")
        _EXPERIMENTS[name] = factory
        return factory
    return deco


def _load_all() -> None:
    """Import :mod:`emozoo.models`, which imports every method's experiments module, and the
    benchmark experiments (leave-one-corpus-out, :mod:`emozoo.evaluation.loco_experiments`)."""
    global _LOADED
    if not _LOADED:
        importlib.import_module("emozoo.models").discover()
        importlib.import_module("emozoo.evaluation.loco_experiments")
        _LOADED = True


def list_experiments(prefix: str = "") -> list[str]:
    _load_all()
    return sorted(n for n in _EXPERIMENTS if n.startswith(prefix))


def group_members(name: str) -> list[str]:
    """The registered experiments under the group ``name`` (a prefix ending at a ``/``), sorted;
    empty when ``name`` is itself an experiment or no experiment lies under it."""
    _load_all()
    if name in _EXPERIMENTS:
        return []
    prefix = name.rstrip("/") + "/"
    return sorted(n for n in _EXPERIMENTS if n.startswith(prefix))


def get_experiment(name: str) -> ExperimentConfig:
    _load_all()
    if name not in _EXPERIMENTS:
        from emozoo.models import IMPORT_ERRORS

        close = [n for n in _EXPERIMENTS if name.split("/")[0] in n][:10]
        broken = {m: e for m, e in IMPORT_ERRORS.items() if m.rsplit(".", 1)[-1] == name.split("/")[0]}
        raise ExperimentError(f"no experiment {name!r}; list them with `python -m emozoo.train --list`"
                              + (f"; similar: {close}" if close else "")
                              + (f"; method package failed to import: {broken}" if broken else ""))
    cfg = _EXPERIMENTS[name]()
    if cfg.name != name:
        cfg.name = name
    return cfg


def register_runner(model_name: str, target: str) -> None:
    """Run experiments of model ``model_name`` with ``target`` (``"package.module:function"``,
    imported when first used) instead of the generic feature-vector fold trainer.

    The function is called as ``fn(cfg, model_dir, *, strategy, seeds, data_root, verbose, log)``
    and returns the summary dict (the trainer's ``summary.json`` shape). Method packages whose
    data are not one feature vector per clip (conversations, raw spectrograms, GAN schedules)
    register one, so that ``python -m emozoo.train --experiment NAME`` runs every registered name.
    """
    if ":" not in target:
        raise ExperimentError(f"runner target must be 'module:function', got {target!r}")
    if _RUNNERS.get(model_name, target) != target:
        raise ExperimentError(f"model {model_name!r} already has the runner {_RUNNERS[model_name]!r}")
    _RUNNERS[model_name] = target


def get_runner(model_name: str):
    """The registered runner function of ``model_name``, or None (the generic trainer)."""
    _load_all()
    target = _RUNNERS.get(model_name)
    if target is None:
        return None
    module, _, fn = target.partition(":")
    try:
        return getattr(importlib.import_module(module), fn)
    except (ImportError, AttributeError) as exc:
        raise ExperimentError(f"runner {target!r} of model {model_name!r} cannot be loaded: {exc}") from exc


def register_store_builder(features: str, command: str) -> None:
    """Name the command that builds stores of feature ``features`` when ``python -m emozoo.extract``
    does not (e.g. EMODal's ``mfcc_au`` from pre-extracted RAVDESS AV features). ``command`` is
    formatted with ``corpus``, ``features``, ``label_set`` and ``store``."""
    if _STORE_BUILDERS.get(features, command) != command:
        raise ExperimentError(f"feature {features!r} already has the store builder {_STORE_BUILDERS[features]!r}")
    _STORE_BUILDERS[features] = command


def store_command(*, corpus: str, features: str, label_set: str, store: str) -> str:
    """The exact command that builds ``store`` (the one "store missing" errors name)."""
    _load_all()
    template = _STORE_BUILDERS.get(features, EXTRACT_COMMAND)
    return template.format(corpus=corpus or "<corpus>", features=features, label_set=label_set or "4class",
                           store=store)
