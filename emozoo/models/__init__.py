"""emozoo models, one folder per method (``emozoo/models/<method>/``).

Each method package registers its Keras model builder with :func:`register_model` and its
experiments (``<method>_experiments.py``) with :func:`emozoo.experiments.register_experiment`;
:func:`discover` imports them all, so the training driver never names a method.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Callable

from emozoo.errors import ExperimentError

_MODELS: dict[str, Callable] = {}
# module -> error of method packages that failed to import (reported, never hidden)
IMPORT_ERRORS: dict[str, str] = {}


def register_model(name: str):
    """Decorator registering ``builder(num_classes, input_dim, **params) -> keras.Model``."""
    def deco(builder):
        _MODELS[name] = builder
        return builder
    return deco


def discover() -> None:
    """Import every ``emozoo.models.<method>`` package and its ``*_experiments`` modules.

    A method package that fails to import does not take the others down: its error is kept in
    :data:`IMPORT_ERRORS` and named when one of its experiments is requested.
    """
    for info in pkgutil.iter_modules(__path__):
        if not info.ispkg:
            continue
        name = f"{__name__}.{info.name}"
        try:
            pkg = importlib.import_module(name)
            for sub in pkgutil.iter_modules(pkg.__path__):
                if sub.name.endswith("_experiments"):
                    importlib.import_module(f"{name}.{sub.name}")
        except Exception as exc:  # noqa: BLE001 - reported by the registry
            IMPORT_ERRORS[name] = f"{type(exc).__name__}: {exc}"


def _import_model_modules() -> None:
    """Import the modules that register Keras model builders (``*_model``, ``*_classifier``).
    The method packages themselves are light (lazy attributes), so :func:`discover` (experiment
    registration, ``python -m emozoo.train --list``) never imports TensorFlow; building a model does."""
    for info in pkgutil.iter_modules(__path__):
        if not info.ispkg:
            continue
        name = f"{__name__}.{info.name}"
        try:
            pkg = importlib.import_module(name)
            for sub in pkgutil.iter_modules(pkg.__path__):
                if sub.name.endswith(("_model", "_classifier")):
                    importlib.import_module(f"{name}.{sub.name}")
        except Exception as exc:  # noqa: BLE001 - reported by the registry
            IMPORT_ERRORS[name] = f"{type(exc).__name__}: {exc}"


def registered_models() -> list[str]:
    """Names of every registered Keras model builder (imports the model modules: TensorFlow)."""
    discover()
    _import_model_modules()
    return sorted(_MODELS)


def build_model(name: str, **kwargs):
    if name not in _MODELS:
        discover()
        _import_model_modules()
    if name not in _MODELS:
        raise ExperimentError(f"no model {name!r} is registered; known: {sorted(_MODELS)}")
    return _MODELS[name](**kwargs)
