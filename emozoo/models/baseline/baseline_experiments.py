"""Registered baseline experiments on IS10 features (4 classes: neutral, happy, angry, sad).

* ``baseline/<corpus>/is10/loso``: leave-one-speaker-out inside EmoDB, CASIA or RAVDESS;
  one speaker of the training side is held out for model selection (validation UAR).
* ``baseline/cross_corpus/<A>_to_<B>/is10``: train on all of A (one speaker for validation),
  test on all of B; the six directions of EmoDB, CASIA and RAVDESS.
* ``baseline/<corpus>/is10/all``: train on all speakers of a corpus but two held out for
  model selection: the model exported to the zoo.

The CPU preset (these defaults) trains the paper's network (G 512-256, E 500, Adam 1e-4) for at
most 40 epochs with batch 32 and early stopping after 10 epochs without validation-UAR gain, so
EmoDB LOSO (10 folds) takes a few minutes on two CPU cores.
"""
from __future__ import annotations

from emozoo.experiments import (DataConfig, ExperimentConfig, ModelConfig, OptimizerConfig, TrainerConfig,
                                register_experiment, register_group)

CORPORA = ("emodb", "casia", "ravdess")

# Liang et al. 2019 sec. 4.2: G 512-256, E 500, dropout, Adam 1e-4 ("BSL").
MODEL = dict(generator_units=[512, 256], classifier_units=[500], dropout=0.5)


def _trainer(**kw) -> TrainerConfig:
    base = dict(epochs=40, batch_size=32, patience=10, min_epochs=10, seeds=1)
    base.update(kw)
    return TrainerConfig(**base)


def _exp(name, data, description) -> ExperimentConfig:
    return ExperimentConfig(name=name, model=ModelConfig("baseline", dict(MODEL)), data=data,
                            optimizer=OptimizerConfig("adam", 1e-4), trainer=_trainer(),
                            description=description)


def _register_loso(corpus):
    name = f"baseline/{corpus}/is10/loso"

    @register_experiment(name)
    def factory():
        return _exp(name, DataConfig(corpora=(corpus,), protocol="loso", valid_speakers=1),
                    f"BSL baseline, IS10, leave-one-speaker-out on {corpus} (4 classes)")


def _register_all(corpus):
    name = f"baseline/{corpus}/is10/all"

    @register_experiment(name)
    def factory():
        # two validation speakers: model selection on one speaker's ~40 clips is too coarse for
        # the single model the zoo ships (LOSO folds average that noise out over folds and seeds)
        return _exp(name, DataConfig(corpora=(corpus,), protocol="all", valid_speakers=2),
                    f"BSL baseline, IS10, trained on all {corpus} speakers but two (validation): zoo model")


def _register_cross(src, tgt):
    name = f"baseline/cross_corpus/{src}_to_{tgt}/is10"

    @register_experiment(name)
    def factory():
        return _exp(name, DataConfig(corpora=(src,), target=tgt, protocol="cross_corpus", valid_speakers=1),
                    f"BSL baseline, IS10, trained on {src}, tested on {tgt} (4 classes)")


for _c in CORPORA:
    _register_loso(_c)
    _register_all(_c)
    for _t in CORPORA:
        if _t != _c:
            _register_cross(_c, _t)


register_group("baseline/table/loso", ["baseline/*/is10/loso"],
               "IS10 + MLP baseline, leave-one-speaker-out per corpus (EmoDB, CASIA, RAVDESS)",
               doc="benchmarks/RESULTS.md")
register_group("baseline/cross_corpus", ["baseline/cross_corpus/*/is10"],
               "IS10 + MLP baseline, the six cross-corpus directions of EmoDB, CASIA, RAVDESS",
               doc="benchmarks/RESULTS.md", kind="benchmark")
