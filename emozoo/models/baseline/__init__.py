"""The feature -> MLP -> emotion baseline the papers compare against (BSL / CI / FSBase)."""

# Lazy (PEP 562): importing this package (e.g. to register its experiments for
# ``python -m emozoo.train --list``) must not import TensorFlow.
_LAZY = {'BaselineClassifier': 'emozoo.models.baseline.baseline_classifier'}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
