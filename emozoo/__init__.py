"""emozoo: a TensorFlow/Keras model zoo for multimodal emotion recognition.

``import emozoo`` stays light (no TensorFlow import); :func:`load` and :func:`list_models`
import the zoo on first use.

Example::

    import emozoo
    emozoo.list_models()
    model = emozoo.load("baseline_emodb_is10")
    model.predict("03a01Wa.wav"), model.labels
"""
__version__ = "0.1.0"

from emozoo import _quiet as _quiet

_quiet.install()   # no TensorFlow start-up noise on any emozoo command (see emozoo/_quiet.py)


def load(name: str, root=None):
    """Load zoo model ``name`` after verifying its sha256 checksums (see :mod:`emozoo.zoo`)."""
    from emozoo.zoo import load as _load
    return _load(name, root)


def list_models(root=None) -> list:
    """The registered zoo models (name, method, description, corpora, metrics ...)."""
    from emozoo.zoo import list_models as _list
    return _list(root)
