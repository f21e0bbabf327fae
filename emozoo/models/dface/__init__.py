"""Dface: a DenseNet-BC trained here on FER2013 48x48 faces; its pooled output is the face embedding."""

# Lazy (PEP 562): importing this package (e.g. to register its experiments for
# ``python -m emozoo.train --list``) must not import TensorFlow.
_LAZY = {'DFaceBackbone': 'emozoo.models.dface.dface_backbone', 'embedding_dim': 'emozoo.models.dface.dface_backbone', 'DFaceClassifier': 'emozoo.models.dface.dface_classifier'}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
