"""EMODal: common and modality-specific audio-visual emotion recognition (Zhang et al., SenSys 2018).

* :mod:`.emodal_model`: :class:`EMODalModel` (audio network, image CNN or vector visual branch,
  common soft-HGR loss + classify loss + two specific losses in ``train_step``).
* :mod:`.emodal_video`: the raw path: video clip -> middle-frame largest face (128x128 grey) +
  audio track -> 68 short-term features -> model; predictor kinds ``emodal_av`` and ``emodal_video``.
* :mod:`.emodal_experiments`: registered experiments ``emodal/ravdess_av/<classes>/<variant>``.
* :mod:`.emodal_presets`: zoo entries.
"""
from emozoo.zoo.predictor import register_predictor

register_predictor("emodal_av", "emozoo.models.emodal.emodal_video:EMODalFeaturePredictor")
register_predictor("emodal_video", "emozoo.models.emodal.emodal_video:EMODalVideoPredictor")

# Lazy (PEP 562): importing this package (e.g. to register its experiments for
# ``python -m emozoo.train --list``) must not import TensorFlow.
_LAZY = {'EMODalModel': 'emozoo.models.emodal.emodal_model'}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
