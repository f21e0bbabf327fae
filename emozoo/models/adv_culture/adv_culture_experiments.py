"""Registered experiments of the cross-culture adversarial method (Liang et al. 2019, sec. 4.2).

Speech cultures: EmoDB (German), CASIA (Mandarin), RAVDESS (English); IS10 features (and the same
experiments with ``egemaps`` in place of ``is10``); 4 classes
(neutral, happy, angry, sad). Names:

* ``adv_culture/mono/<corpus>/is10/bsl``: mono-culture, speaker-independent k folds (k = 5;
  CASIA has only 4 speakers: k = 4), G + E (Table 2);
* ``adv_culture/cross/<A>_to_<B>/is10/{bsl,adv}``: emotion labels of A, features of A and B (B
  unlabelled), tested on B; the six ordered pairs (Table 3);
* ``adv_culture/multi/emodb+casia+ravdess/is10/{bsl,adv}``: all three cultures labelled, smaller
  ones upsampled, k = 4 speaker folds inside every corpus, tested per culture (Table 4).
* ``.../adv_confusion`` (cross and multi): ablation, not in the paper: G minimises
  ``L_emo + alpha * L_conf`` (C pushed to the uniform culture distribution) instead of eq. 5.
* ``adv_culture/study/<A>_to_<B>/is10/<variant>`` (the group ``adv_culture/study``, kind study,
  ``pipelines/adv_culture_study.py``): the "then better" study, the cross-culture IS10 experiment of
  the pair with the model changes of :data:`STUDY_VARIANTS` (``bsl``, ``adv``, ``adv_a0.1``,
  ``adv_sc5``, ``adv_ramp``), 3 seeds, no TensorBoard.

Face cultures (the paper's facial modality): JAFFE (Japanese posers) and CK+48 (American
posers), Dface embeddings (``tfrecords/{jaffe,ckplus}_dface``, the DenseNet trained here on
FER2013), the 6 emotions they share (label set ``6basic``), subject-disjoint folds; the same
names with ``dface``: ``adv_culture/mono/jaffe/dface/bsl``,
``adv_culture/cross/jaffe_to_ckplus/dface/{bsl,adv,adv_confusion}``,
``adv_culture/multi/jaffe+ckplus/dface/{bsl,adv,adv_confusion}``.

The defaults are the *CPU preset* of ``pipelines/adv_culture_table.py``: the paper's network and
optimiser (G 512-256, E and C 500, dropout, Adam 1e-4 for the three optimisers, alpha 1,
S_C 1, S_G 2) trained for a fixed number of epochs with batch 64 and no model selection, sized
so the whole table (5 seeds) runs in under 20 minutes on two CPU cores. ``--override
trainer.epochs=...`` trains longer; the paper gives neither its epoch count nor its batch size.
"""
from __future__ import annotations

import dataclasses

from emozoo.experiments import (DataConfig, ExperimentConfig, ModelConfig, OptimizerConfig, TrainerConfig,
                                register_experiment, register_group)

CORPORA = ("emodb", "casia", "ravdess")
CULTURE = {"emodb": "German", "casia": "Mandarin", "ravdess": "English", "jaffe": "Japanese", "ckplus": "American"}
FEATURES = ("is10", "egemaps")   # openSMILE IS10 (1582) and eGeMAPS v02 (88) functionals
FACE_CORPORA = ("jaffe", "ckplus")
FACE_FEATURES = ("dface", "face_mobilenet")   # Dface (DenseNet-BC trained on FER2013, 336-d); HSE VGGFace2 MobileNet (1024-d)


def modality_of(features: str) -> str:
    """``"face"`` for the face features (Dface), ``"speech"`` otherwise."""
    return "face" if features in FACE_FEATURES else "speech"


def corpora_of(features: str) -> tuple:
    return FACE_CORPORA if modality_of(features) == "face" else CORPORA


LABEL_SET = {"speech": "4class", "face": "6basic"}

# Liang et al. 2019 sec. 4.2
MODEL = dict(generator_units=[512, 256], emotion_units=[500], culture_units=[500], dropout=0.5, alpha=1.0,
             culture_steps=1, generator_steps=2, learning_rate=1e-4)
LEARNING_RATE = 1e-4
CPU_PRESET = dict(epochs=10, batch_size=64, seeds=5, patience=0, min_epochs=0, tensorboard=True)
MONO_K = {"emodb": 5, "casia": 4, "ravdess": 5,   # speaker folds: CASIA has only 4 speakers
          "jaffe": 5, "ckplus": 5}                  # JAFFE: 10 posers, 2 per fold
MULTI_K = {"speech": 4, "face": 5}
# the face sets are ~10x smaller than the speech ones (213 JAFFE, 927 CK+48 images): more epochs
# give the same number of updates (see docs/methods/adv_culture.md)
EPOCHS = {"speech": CPU_PRESET["epochs"], "face": 20}


# model variants: the paper's two, and an ablation of the generator objective (not in the paper)
VARIANTS = {"bsl": {"mode": "bsl"}, "adv": {"mode": "adv"},
            "adv_confusion": {"mode": "adv", "generator_objective": "confusion"}}


def _exp(name, variant, data, description) -> ExperimentConfig:
    # culture index i = the i-th corpus (the cross-culture target last); the source cultures are labelled
    cultures = list(data.corpora) + ([data.target] if data.target else [])
    model = {**MODEL, **VARIANTS[variant], "num_cultures": len(cultures), "culture_names": cultures,
             "labelled_cultures": list(range(len(data.corpora)))}
    modality = modality_of(data.features)
    data = dataclasses.replace(data, label_set=LABEL_SET[modality])
    trainer = {**CPU_PRESET, "epochs": EPOCHS[modality]}
    return ExperimentConfig(name=name, model=ModelConfig("adv_culture", model),
                            data=data, optimizer=OptimizerConfig("adam", LEARNING_RATE),
                            trainer=TrainerConfig(**trainer), description=description)


def experiment_name(setting: str, mode: str, *, corpus: str = "", source: str = "", target: str = "",
                    corpora=None, features: str = "is10") -> str:
    corpora = corpora or corpora_of(features)
    if setting == "mono":
        return f"adv_culture/mono/{corpus}/{features}/{mode}"
    if setting == "cross":
        return f"adv_culture/cross/{source}_to_{target}/{features}/{mode}"
    if setting == "multi":
        return f"adv_culture/multi/{'+'.join(corpora)}/{features}/{mode}"
    raise ValueError(setting)


def _register_mono(corpus, features):
    name = experiment_name("mono", "bsl", corpus=corpus, features=features)
    who = "subject" if modality_of(features) == "face" else "speaker"

    @register_experiment(name)
    def factory():
        return _exp(name, "bsl", DataConfig(corpora=(corpus,), features=features, protocol="speaker_kfold",
                                            protocol_kwargs={"k": MONO_K[corpus]}, valid_speakers=0),
                    f"mono-culture {corpus} ({CULTURE[corpus]}), {features}, {who} k-fold, BSL (Table 2)")


def _register_cross(src, tgt, mode, features):
    name = experiment_name("cross", mode, source=src, target=tgt, features=features)

    @register_experiment(name)
    def factory():
        return _exp(name, mode, DataConfig(corpora=(src,), target=tgt, features=features, protocol="cross_corpus",
                                           protocol_kwargs={"transductive": True}, valid_speakers=0),
                    f"cross-culture {src} ({CULTURE[src]}) -> {tgt} ({CULTURE[tgt]}), {features}, {mode.upper()}: "
                    f"emotion labels of {src} only, C sees {src} and unlabelled {tgt}, tested on {tgt} (Table 3)")


def _register_multi(mode, features):
    name = experiment_name("multi", mode, features=features)
    corpora, k = corpora_of(features), MULTI_K[modality_of(features)]

    @register_experiment(name)
    def factory():
        return _exp(name, mode, DataConfig(corpora=corpora, features=features, protocol="multi_corpus",
                                           protocol_kwargs={"k": k}, valid_speakers=0),
                    f"multi-culture {'+'.join(corpora)}, {features}, {mode}: all cultures labelled, "
                    f"smaller ones upsampled, speaker {k}-fold in every corpus, tested per culture (Table 4)")


for _f in FEATURES + FACE_FEATURES:
    for _c in corpora_of(_f):
        _register_mono(_c, _f)
        for _t in corpora_of(_f):
            if _t != _c:
                for _m in VARIANTS:
                    _register_cross(_c, _t, _m, _f)
    for _m in VARIANTS:
        _register_multi(_m, _f)


# the paper's tables as experiment groups (``python -m emozoo.train --experiment adv_culture/table3/is10``,
# ``python -m emozoo.report adv_culture/table3/is10``); one set per feature
_TABLE_DOC = {"is10": "docs/methods/adv_culture_table.md", "egemaps": "docs/methods/adv_culture_table_egemaps.md",
              "dface": "docs/methods/adv_culture_table_dface.md", "face_mobilenet": "docs/methods/adv_culture.md"}
for _f in FEATURES + FACE_FEATURES:
    register_group(f"adv_culture/table2/{_f}", [f"adv_culture/mono/*/{_f}/bsl"],
                   f"Liang et al. 2019, Table 2: mono-culture BSL per culture ({_f})", doc=_TABLE_DOC[_f])
    register_group(f"adv_culture/table3/{_f}", [f"adv_culture/cross/*/{_f}/bsl", f"adv_culture/cross/*/{_f}/adv"],
                   f"Liang et al. 2019, Table 3: cross-culture BSL vs ADV, every ordered pair ({_f})",
                   doc=_TABLE_DOC[_f])
    register_group(f"adv_culture/table4/{_f}", [f"adv_culture/multi/*/{_f}/bsl", f"adv_culture/multi/*/{_f}/adv"],
                   f"Liang et al. 2019, Table 4: multi-culture BSL vs ADV ({_f})", doc=_TABLE_DOC[_f])
    register_group(f"adv_culture/ablation_confusion/{_f}", [f"adv_culture/*/*/{_f}/adv_confusion"],
                   f"ablation (not in the paper): G against the uniform culture distribution ({_f})",
                   doc="docs/methods/adv_culture.md", kind="study")


# The "then better" study (pipelines/adv_culture_study.py, docs/methods/adv_culture_study.md): on the
# cross-culture IS10 folds, the usual remedies for an adversary that does not help, paired with BSL by seed.
STUDY_VARIANTS = {
    "bsl": {"mode": "bsl"},
    "adv": {"mode": "adv"},
    "adv_a0.1": {"mode": "adv", "alpha": 0.1},                                # a weaker adversary
    "adv_sc5": {"mode": "adv", "culture_steps": 5},                           # a stronger culture classifier
    "adv_ramp": {"mode": "adv", "alpha": 1.0, "alpha_schedule": "ganin"},     # Ganin et al. 2016: alpha 0 -> 1
}
STUDY_SEEDS = 3


def study_name(src: str, tgt: str, variant: str) -> str:
    return f"adv_culture/study/{src}_to_{tgt}/is10/{variant}"


def _register_study(src, tgt, variant):
    name = study_name(src, tgt, variant)

    @register_experiment(name)
    def factory():
        from emozoo.experiments import get_experiment
        base = get_experiment(experiment_name("cross", "adv", source=src, target=tgt))
        return ExperimentConfig(
            name=name, model=ModelConfig("adv_culture", {**base.model.params, **STUDY_VARIANTS[variant]}),
            data=base.data, optimizer=base.optimizer,
            trainer=dataclasses.replace(base.trainer, seeds=STUDY_SEEDS, tensorboard=False),
            description=f"then-better study, cross-culture {src} -> {tgt} (IS10): {variant} {STUDY_VARIANTS[variant]}")


for _c in CORPORA:
    for _t in CORPORA:
        if _t != _c:
            for _v in STUDY_VARIANTS:
                _register_study(_c, _t, _v)
register_group("adv_culture/study", [f"adv_culture/study/*/is10/{v}" for v in STUDY_VARIANTS],
               "ADV then better: alpha 0.1, S_C 5 and Ganin's ramp of alpha vs BSL and the paper's ADV, "
               "cross-culture IS10 (every ordered pair), with a linear culture probe on z",
               doc="docs/methods/adv_culture_study.md", kind="study")
