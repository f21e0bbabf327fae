"""Name -> experiment factory registry; method packages register on import."""
from __future__ import annotations

import importlib
from typing import Callable

from emozoo.errors import ExperimentError
from emozoo.experiments.config import ExperimentConfig

_EXPERIMENTS: dict[str, Callable[[], ExperimentConfig]] = {}
_RUNNERS: dict[str, str] = {}
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
    """Import :mod:`emozoo.models`, which imports every method's experiments module."""
    global _LOADED
    if not _LOADED:
        importlib.import_module("emozoo.models").discover()
        _LOADED = True


def list_experiments(prefix: str = "") -> list[str]:
    _load_all()
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
