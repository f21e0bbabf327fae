"""EMODal: common and modality-specific audio-visual emotion recognition (Zhang et al., SenSys 2018).

* :mod:`.emodal_model`: :class:`EMODalModel` (audio network, image CNN or vector visual branch,
  common soft-HGR loss + classify loss + two specific losses in ``train_step``).
* :mod:`.emodal_video`: the raw path: video clip -> middle-frame largest face (128x128 grey) +
  audio track -> 68 short-term features -> model; predictor kinds ``emodal_av`` and ``emodal_video``.
* :mod:`.emodal_experiments`: registered experiments ``emodal/ravdess_av/<classes>/<variant>``.
* :mod:`.emodal_presets`: zoo entries.
"""
from emozoo.models.emodal.emodal_model import EMODalModel  # noqa: F401
from emozoo.zoo.predictor import register_predictor

register_predictor("emodal_av", "emozoo.models.emodal.emodal_video:EMODalFeaturePredictor")
register_predictor("emodal_video", "emozoo.models.emodal.emodal_video:EMODalVideoPredictor")
