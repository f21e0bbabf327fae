"""DANN for emotion recognition (Lian, Tao, Liu, Huang 2019, "Domain adversarial learning for
emotion recognition").

* :mod:`.dann_model`: :class:`DANNConversationModel` (AT-Fusion -> SA-GRU -> emotion classifier,
  speaker/domain classifier behind a gradient reversal layer; eq. 1-5) and
  :class:`DANNUtteranceModel` (the utterance-level twin for speech corpora).
* :mod:`.dann_task`: conversations from feature stores, the IEMOCAP TS settings, MELD official
  splits, LOSO for speech; training and scoring (used by ``pipelines/dann_*.py``).
* :mod:`.dann_experiments`: registered experiments ``dann/...``.
* :mod:`.dann_presets`: zoo model cards; :mod:`.dann_predictor`: ``emozoo.load('dann_iemocap')``.
"""

from emozoo.experiments import register_task as _register_task
from emozoo.zoo.predictor import register_predictor as _register_predictor

# conversations are not one feature vector per clip: dann/iemocap/... and dann/meld/... train through this
# Task inside the one trainer's loop
_register_task("dann_conversation", "emozoo.models.dann.dann_task:ConversationTask")

_register_predictor("conversation", "emozoo.models.dann.dann_predictor:ConversationPredictor")

# Lazy (PEP 562): importing this package (e.g. to register its experiments for
# ``python -m emozoo.train --list``) must not import TensorFlow.
_LAZY = {'DANNConversationModel': 'emozoo.models.dann.dann_model', 'DANNUtteranceModel': 'emozoo.models.dann.dann_model'}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
