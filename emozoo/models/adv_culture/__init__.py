"""Cross-culture emotion recognition with adversarial learning (Liang et al., ICASSP 2019).

* :mod:`.adv_culture_model`: :class:`AdversarialCultureModel` (G, E, C; Algorithm 1 in ``train_step``).
* :mod:`.culture_standardization`: culture-specific z-normalisation (sec. 3.1).
* :mod:`.adv_culture_task`: the paper's three settings (mono-, cross-, multi-culture) on feature
  stores: data assembly, training, scoring; used by ``pipelines/adv_culture_table.py``.
* :mod:`.adv_culture_experiments`: registered experiments ``adv_culture/<setting>/...``.
* :mod:`.adv_culture_presets`: zoo entries.
"""
from emozoo.models.adv_culture.adv_culture_model import AdversarialCultureModel  # noqa: F401
from emozoo.models.adv_culture.culture_standardization import CultureStandardization  # noqa: F401
