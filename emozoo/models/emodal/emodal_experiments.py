"""Registered experiments of EMODal (Zhang et al., SenSys 2018) on real paired audio-visual data.

Data: RAVDESS audio-visual clips as per-clip features (``ravdess_av_features``: 259-dim MFCC
audio vector + 35 OpenFace action units of the same recording; 24 actors), stores built by
``python pipelines/emodal_build_stores.py``. The visual branch is the dense (vector-input) one:
these are action units, not face images. Names::

    emodal/ravdess_av/<classes>/<variant>

* ``<classes>``: ``4class`` (angry/happy/sad/neutral, the paper's four; 672 clips) or ``8class``
  (all eight RAVDESS emotions; 1440 clips);
* ``<variant>`` (Table 1 and an ablation): ``audio`` (audio network + softmax), ``visual``
  (visual network + softmax), ``both`` (EMODal: common + classify + two specific losses),
  ``both_nocommon`` (EMODal without the common loss; not in the paper).

Protocol: actor-independent 6-fold cross-validation (``speaker_kfold``, k = 6: four test actors
per fold), two further training actors of every fold held out for model selection on
validation UAR (early stopping); predictions pooled over the folds per seed; 5 seeds.

The defaults are the *CPU preset* (``CPU_PRESET``): the paper's networks and Adam, batch 32, at
most 60 epochs with patience 10 (the paper gives no epoch count, batch size or learning rate;
Adam's default 1e-3). ``PAPER_MODEL`` keeps the paper's sizes; they are what the CPU preset
uses too (the networks are small), so only the epoch budget differs on a GPU
(``--override trainer.epochs=200 trainer.patience=30``).
"""
from __future__ import annotations

from emozoo.experiments import (DataConfig, ExperimentConfig, ModelConfig, OptimizerConfig, TrainerConfig,
                                register_experiment, register_group)
from emozoo.experiments import register_store_builder

# the mfcc_au stores are not extracted from audio: they come from the pre-extracted RAVDESS AV features
register_store_builder("mfcc_au", "python pipelines/emodal_build_stores.py")

AUDIO_DIM, VISUAL_DIM = 259, 35
FEATURE = "mfcc_au"
STORES = {"4class": ("4class", "tfrecords/ravdess_av_emodal_4class"),
          "8class": ("ravdess8", "tfrecords/ravdess_av_emodal_8class")}
K_FOLDS = 6
VALID_ACTORS = 2
LEARNING_RATE = 1e-3
# sec. 2: audio network 128-64-10, 10-dim features; the dense visual branch mirrors it
PAPER_MODEL = dict(audio_dim=AUDIO_DIM, visual_dim=VISUAL_DIM, visual_branch="dense", audio_units=[128, 64],
                   visual_units=[128, 64], feature_dim=10, dropout=0.5, audio_dropout=0.0,
                   common_weight=1.0, classify_weight=1.0, specific_weight=1.0, learning_rate=LEARNING_RATE)
CPU_PRESET = dict(epochs=60, batch_size=32, seeds=5, patience=10, min_epochs=5, tensorboard=True,
                  projector_examples=300)
VARIANTS = {"audio": {"modalities": "audio"}, "visual": {"modalities": "visual"},
            "both": {"modalities": "both", "use_common": True},
            "both_nocommon": {"modalities": "both", "use_common": False}}
VARIANT_TITLES = {"audio": "audio-only", "visual": "visual-only", "both": "audio+visual (EMODal)",
                  "both_nocommon": "audio+visual without common loss"}


def experiment_name(classes: str, variant: str) -> str:
    return f"emodal/ravdess_av/{classes}/{variant}"


def make_config(classes: str, variant: str) -> ExperimentConfig:
    label_set, store = STORES[classes]
    data = DataConfig(corpora=("ravdess_av",), features=FEATURE, stores={"ravdess_av": store},
                      protocol="speaker_kfold", protocol_kwargs={"k": K_FOLDS}, valid_speakers=VALID_ACTORS,
                      label_set=label_set)
    return ExperimentConfig(
        name=experiment_name(classes, variant), model=ModelConfig("emodal", {**PAPER_MODEL, **VARIANTS[variant]}),
        data=data, optimizer=OptimizerConfig("adam", LEARNING_RATE), trainer=TrainerConfig(**CPU_PRESET),
        description=f"EMODal {VARIANT_TITLES[variant]} on RAVDESS AV features (MFCC 259 + OpenFace AU 35), "
                    f"{classes}, actor-independent {K_FOLDS}-fold, {VALID_ACTORS} validation actors (Table 1)")


def _register(classes, variant):
    name = experiment_name(classes, variant)

    @register_experiment(name)
    def factory():
        return make_config(classes, variant)


for _c in STORES:
    for _v in VARIANTS:
        _register(_c, _v)


# Table 1 of the paper as experiment groups, one per label set
for _k in ("4class", "8class"):
    register_group(f"emodal/table1/{_k}", [f"emodal/ravdess_av/{_k}/{v}" for v in
                                           ("audio", "visual", "both", "both_nocommon")],
                   f"Zhang et al. 2018, Table 1: audio-only / visual-only / both / both without the common loss "
                   f"(RAVDESS AV, {_k}, actor-independent 6-fold)", doc="docs/methods/emodal.md",
                   layout="emozoo.models.emodal.emodal_tables:table1")
