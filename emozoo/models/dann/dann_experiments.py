"""Registered experiments of DANN (Lian et al. 2019).

* ``dann/iemocap/text/<ts>/{ci,dann}``: IEMOCAP conversations (MiniLM sentence embeddings of the
  transcripts: the text modality; audio is licensed and not in shared data), TS settings
  ``ts_1234, ts_123, ts_134, ts_234, ts_23`` (train on the listed sessions, test on session 5,
  the others unlabelled target data), speaker domain (10 speakers), 4 classes (Table 2);
* ``dann/meld/text/{7class,4class}/{ci,dann}``: MELD official splits, speaker domain;
* ``dann/speech/<corpus>/is10/{ci,dann}``: the utterance-level variant, leave-one-speaker-out on
  EmoDB / CASIA / RAVDESS IS10 functionals, speaker domain (test speaker unlabelled in training);
  run through the generic trainer: ``python -m emozoo.train --experiment dann/speech/emodb/is10/dann``
  (the model's ``prepare_fold``/``fold_arrays`` hooks build the speaker domains).

``ci`` is the paper's comparison system CI: the same model with ``lambda = 0`` in eq. (5).

The defaults are the **CPU preset** (``CPU_PRESET``): the paper's network (d = 100, bi-GRU 50+50,
4 heads, L2 1e-5, batch of 20 conversations, lambda 1) trained with Adam 1e-3 for 20 epochs,
5 seeds, because the paper's schedule (Adam 1e-4, >= 200 epochs, 20 seeds: ``PAPER_PRESET``)
takes ~1.5 s per epoch here and the table has 50 runs. ``--preset paper`` of the pipelines (or
``--override``) restores it.
"""
from __future__ import annotations

import dataclasses

from emozoo.data.protocols import IEMOCAP_TS
from emozoo.experiments import (DataConfig, ExperimentConfig, ModelConfig, OptimizerConfig, TrainerConfig,
                                register_experiment, register_group)

# Lian et al. 2019, sec. 3.2
MODEL = dict(fusion_units=100, gru_units=50, num_heads=4, l2=1e-5, grl_lambda=1.0, domain_units=[100],
             emotion_units=[])
PAPER_PRESET = dict(epochs=200, batch_size=20, seeds=20, learning_rate=1e-4)
CPU_PRESET = dict(epochs=20, batch_size=20, seeds=5, learning_rate=1e-3)
VARIANTS = {"ci": {"grl_lambda": 0.0}, "dann": {"grl_lambda": 1.0}}
SPEECH_CORPORA = ("emodb", "casia", "ravdess")
SPEAKERS = {"emodb": 10, "casia": 4, "ravdess": 24}
SPEECH_MODEL = dict(encoder_units=[256, 100], domain_units=[100], emotion_units=[], l2=1e-5, dropout=0.2)
SPEECH_PRESET = dict(epochs=40, batch_size=32, seeds=5, learning_rate=1e-3)


def _trainer(preset):
    return TrainerConfig(epochs=preset["epochs"], batch_size=preset["batch_size"], seeds=preset["seeds"],
                         patience=0, tensorboard=False)


# text encoders of the IEMOCAP experiments: ``dann/iemocap/text/...`` = MiniLM (the table's),
# ``dann/iemocap/mpnet/...`` = all-mpnet-base-v2 (emozoo.backbones.mpnet; store
# ``python -m emozoo.extract --corpus iemocap_text --features mpnet --label-set 4class``)
TEXT_FEATURES = {"text": "minilm", "mpnet": "mpnet"}


def _register_iemocap(setting, variant, kind="text"):
    name = f"dann/iemocap/{kind}/{setting.lower()}/{variant}"
    feature = TEXT_FEATURES[kind]

    @register_experiment(name)
    def factory():
        return ExperimentConfig(
            name=name, model=ModelConfig("dann_conversation", {**MODEL, **VARIANTS[variant]}),
            data=DataConfig(corpora=("iemocap_text",), features=feature,
                            stores={"iemocap_text": f"tfrecords/iemocap_text_{feature}"},
                            protocol=setting.lower(), protocol_kwargs={"domain": "speaker"}, valid_speakers=0),
            optimizer=OptimizerConfig("adam", CPU_PRESET["learning_rate"]), trainer=_trainer(CPU_PRESET),
            description=f"IEMOCAP {setting} (test session 5), text ({feature}), speaker domain, "
                        f"{'CI (lambda 0)' if variant == 'ci' else 'DANN (lambda 1)'}: Table 2")


def _register_meld(subset, variant):
    name = f"dann/meld/text/{subset}/{variant}"

    @register_experiment(name)
    def factory():
        return ExperimentConfig(
            name=name, model=ModelConfig("dann_conversation", {**MODEL, **VARIANTS[variant]}),
            data=DataConfig(corpora=("meld",), features="minilm", stores={"meld": "tfrecords/meld_minilm"},
                            protocol="official", protocol_kwargs={"domain": "speaker", "subset": subset,
                                                                  "min_speaker_turns": 50},
                            label_set="7basic", valid_speakers=0),
            optimizer=OptimizerConfig("adam", CPU_PRESET["learning_rate"]), trainer=_trainer(CPU_PRESET),
            description=f"MELD official splits, {subset}, text (MiniLM), speaker domain "
                        f"(speakers with >= 50 turns, others pooled), {variant}")


def _register_speech(corpus, variant):
    name = f"dann/speech/{corpus}/is10/{variant}"

    @register_experiment(name)
    def factory():
        return ExperimentConfig(
            name=name, model=ModelConfig("dann", {**SPEECH_MODEL, **VARIANTS[variant],
                                                  "num_domains": SPEAKERS[corpus]}),
            data=DataConfig(corpora=(corpus,), features="is10", protocol="loso", valid_speakers=0),
            optimizer=OptimizerConfig("adam", SPEECH_PRESET["learning_rate"]), trainer=_trainer(SPEECH_PRESET),
            description=f"{corpus} IS10, leave-one-speaker-out, utterance-level DANN with speaker domain "
                        f"(held-out speaker's clips unlabelled target data), {variant}")


# The "then better" study of lambda (pipelines/dann_lambda_study.py, docs/methods/dann_lambda_study.md): on
# IEMOCAP TS_1234 (text), the GRL's lambda schedule vs the speaker information left in r_i; 3 seeds each.
LAMBDA_STUDY = {
    "ci": {"grl_lambda": 0.0},
    "dann": {"grl_lambda": 1.0},
    "dann_ganin": {"grl_lambda": 0.0, "grl_schedule": "ganin"},   # Ganin et al. 2016: lambda_p from 0 to ~1
    "dann_l0.1": {"grl_lambda": 0.1},
    "dann_dom2": {"grl_lambda": 1.0, "domain_units": [100, 100]},
}


def _register_lambda_study(variant):
    name = f"dann/lambda_study/{variant}"

    @register_experiment(name)
    def factory():
        base = _iemocap_config("dann/iemocap/text/ts_1234/dann")
        return ExperimentConfig(
            name=name, model=ModelConfig("dann_conversation", {**MODEL, **LAMBDA_STUDY[variant]}), data=base.data,
            optimizer=base.optimizer, trainer=dataclasses.replace(base.trainer, seeds=3),
            description=f"lambda study on IEMOCAP TS_1234 (text, speaker domain): {variant} {LAMBDA_STUDY[variant]}")


def _iemocap_config(name):
    from emozoo.experiments import get_experiment
    return get_experiment(name)


for _s in IEMOCAP_TS:
    for _v in VARIANTS:
        for _kind in TEXT_FEATURES:
            _register_iemocap(_s, _v, _kind)
for _sub in ("7class", "4class"):
    for _v in VARIANTS:
        _register_meld(_sub, _v)
for _c in SPEECH_CORPORA:
    for _v in VARIANTS:
        _register_speech(_c, _v)


# the tables as experiment groups (``python -m emozoo.train --experiment dann/table2/text`` then
# ``python -m emozoo.report dann/table2/text``)
for _kind in TEXT_FEATURES:
    register_group(f"dann/table2/{_kind}", [f"dann/iemocap/{_kind}/*/ci", f"dann/iemocap/{_kind}/*/dann"],
                   f"Lian et al. 2019, Table 2: CI (lambda 0) vs DANN over the IEMOCAP TS settings, session 5 "
                   f"tested ({_kind} sentence embeddings)", doc="docs/methods/dann_iemocap_table.md",
                   layout="emozoo.models.dann.dann_tables:iemocap_table2")
for _v in LAMBDA_STUDY:
    _register_lambda_study(_v)
register_group("dann/lambda_study", [f"dann/lambda_study/{v}" for v in LAMBDA_STUDY],
               "DANN then better: the GRL's lambda (0, 1, 0.1, Ganin's schedule, a deeper domain classifier) vs the "
               "speaker information left in r_i, IEMOCAP TS_1234 (text)", doc="docs/methods/dann_lambda_study.md",
               kind="study")
register_group("dann/meld_table", ["dann/meld/text/7class/*", "dann/meld/text/4class/*"],
               "CI vs DANN on MELD (text), 7 and 4 classes, official splits (not in the paper: its second "
               "corpus here)", doc="docs/methods/dann_meld.md", layout="emozoo.models.dann.dann_tables:meld_table")
register_group("dann/speech_table", ["dann/speech/*/is10/ci", "dann/speech/*/is10/dann"],
               "CI vs DANN, utterance-level speech variant (IS10, leave-one-speaker-out) on EmoDB, CASIA, RAVDESS",
               doc="docs/methods/dann_speech.md")
