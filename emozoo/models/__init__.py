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


def register_model(name: str):
    """Decorator registering ``builder(num_classes, input_dim, **params) -> keras.Model``."""
    def deco(builder):
        _MODELS[name] = builder
        return builder
    return deco


def discover() -> None:
    """Import every ``emozoo.models.<method>`` package and its ``*_experiments`` modules."""
    for info in pkgutil.iter_modules(__path__):
        if not info.ispkg:
            continue
        pkg = importlib.import_module(f"{__name__}.{info.name}")
        for sub in pkgutil.iter_modules(pkg.__path__):
            if sub.name.endswith("_experiments"):
                importlib.import_module(f"{pkg.__name__}.{sub.name}")


def build_model(name: str, **kwargs):
    if name not in _MODELS:
        discover()
    if name not in _MODELS:
        raise ExperimentError(f"no model {name!r} is registered; known: {sorted(_MODELS)}")
    return _MODELS[name](**kwargs)
