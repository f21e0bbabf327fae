"""Cross-culture emotion recognition with adversarial learning (Liang et al., ICASSP 2019).

* :mod:`.adv_culture_model`: :class:`AdversarialCultureModel` (G, E, C; Algorithm 1 in ``train_step``).
* :mod:`.culture_standardization`: culture-specific z-normalisation (sec. 3.1).
* :mod:`.adv_culture_task`: the paper's three settings (mono-, cross-, multi-culture) as culture folds
  (data roles); ``train_fold`` only for the LOCO learner (the tables, the study, Fig. 2 and the zoo
  train through the one trainer, ``emozoo.train.trainer``).
* :mod:`.adv_culture_runs`: a finished trainer run read back as a model (config + ``best.weights.h5``).
* :mod:`.adv_culture_experiments`: registered experiments ``adv_culture/<setting>/...``.
* :mod:`.adv_culture_presets`: zoo entries.
"""

# Lazy (PEP 562): importing this package (e.g. to register its experiments for
# ``python -m emozoo.train --list``) must not import TensorFlow.
_LAZY = {'AdversarialCultureModel': 'emozoo.models.adv_culture.adv_culture_model', 'CultureStandardization': 'emozoo.models.adv_culture.culture_standardization'}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
