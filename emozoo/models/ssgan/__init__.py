"""Semi-supervised multimodal emotion recognition with CT-GAN (Liang, Chen, Jin 2019).

* :mod:`.ssgan_model`: :class:`SemiSupervisedGAN` (G, D, multimodal C; Algorithm 1 in
  ``train_step``; FSBase/MFSBase with ``mode="fsbase"``).
* :mod:`.ssgan_task`: data assembly (labelled fractions, unlabelled pools, the four
  normalisation strategies), training with model selection on validation UAR, SSBase
  (pseudo-label self-training), scoring; :class:`~.ssgan_task.SSGANTask`, the method's Task on
  the one trainer (``python -m emozoo.train --experiment ssgan/...``, ``pipelines/ssgan_table.py``).
* :mod:`.fuzzy_labels`: annotator votes -> soft targets, tie-aware scoring (sec. IV-B).
* :mod:`.ssgan_experiments`: registered experiments ``ssgan/...``.
* :mod:`.ssgan_presets`: zoo entries ``ssgan_speech``, ``ssgan_face``.
"""
from emozoo.experiments import register_task as _register_task  # noqa: E402
from emozoo.zoo.predictor import register_predictor as _register_predictor  # noqa: E402

# labelled/unlabelled pools, Fbank frames, GAN schedule: ssgan/... experiments are a Task on the one trainer
_register_task("ssgan", "emozoo.models.ssgan.ssgan_task:SSGANTask")

# ``ssgan_speech`` takes waveforms (Fbank in the graph): preprocessing.json "input": "ssgan_waveform"
_register_predictor("ssgan_waveform", "emozoo.models.ssgan.ssgan_zoo:WaveformPredictor")

# Lazy (PEP 562): importing this package (e.g. to register its experiments for
# ``python -m emozoo.train --list``) must not import TensorFlow.
_LAZY = {'SemiSupervisedGAN': 'emozoo.models.ssgan.ssgan_model'}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
