"""Registered leave-one-corpus-out experiments ``loco/speech/<row>`` (runner: :mod:`emozoo.evaluation.loco`).

Each row names its features and learner; the adversarial rows take their network, optimiser and
schedule from the method's own registered experiment (``method_experiment``), so a LOCO row
trains the method exactly as its table does. ``python -m emozoo.train --experiment loco/speech``
runs the whole group; ``python -m emozoo.report loco/speech`` writes the table and figure.
Importing this module does not import TensorFlow.
"""
from __future__ import annotations

from emozoo.experiments.config import DataConfig, ExperimentConfig, ModelConfig, TrainerConfig
from emozoo.experiments.registry import register_experiment, register_group, register_runner

SPEECH_CORPORA = ("emodb", "casia", "ravdess")

#: row -> (features, learner params, description)
SPEECH_ROWS = {
    "is10_bsl": ("is10", {"learner": "adv_culture", "mode": "bsl",
                          "method_experiment": "adv_culture/multi/emodb+casia+ravdess/is10/bsl"},
                 "IS10 functionals -> BSL (Liang et al. 2019: G 512-256, E 500, dropout 0.5)"),
    "is10_adv": ("is10", {"learner": "adv_culture", "mode": "adv",
                          "method_experiment": "adv_culture/multi/emodb+casia+ravdess/is10/adv"},
                 "IS10 -> cross-culture adversarial network (one culture per training corpus; transductive: "
                 "+ the target as an unlabelled culture)"),
    "is10_dann": ("is10", {"learner": "dann", "method_experiment": "dann/speech/emodb/is10/dann"},
                  "IS10 -> utterance DANN, speaker adversary (one domain per training speaker; transductive: "
                  "+ the target's speakers, unlabelled)"),
    "whisper_base_linear": ("whisper_base", {"learner": "head", "head": "linear"},
                            "Whisper-base layer-wise states -> learned layer weighting + linear: the "
                            "emotion_speech flagship recipe"),
    "whisper_base_mlp256": ("whisper_base", {"learner": "head", "head": "mlp256"},
                            "Whisper-base -> layer weighting + MLP 256"),
    "whisper_tiny_en_linear": ("whisper_tiny_en", {"learner": "head", "head": "linear"},
                               "Whisper tiny.en layer-wise states -> layer weighting + linear"),
    "whisper_base_adv": ("whisper_base", {"learner": "adv_culture", "mode": "adv",
                                          "method_experiment": "adv_culture/multi/emodb+casia+ravdess/is10/adv"},
                         "Whisper-base layer mean (512) -> cross-culture adversarial network"),
    "whisper_base_bsl": ("whisper_base", {"learner": "adv_culture", "mode": "bsl",
                                          "method_experiment": "adv_culture/multi/emodb+casia+ravdess/is10/bsl"},
                         "Whisper-base layer mean (512) -> BSL"),
    "whisper_base_dann": ("whisper_base", {"learner": "dann", "method_experiment": "dann/speech/emodb/is10/dann"},
                          "Whisper-base layer mean (512) -> utterance DANN, speaker adversary"),
}

register_runner("loco", "emozoo.evaluation.loco:run_experiment")


def _register(row: str, features: str, params: dict, description: str):
    name = f"loco/speech/{row}"

    @register_experiment(name)
    def factory():
        return ExperimentConfig(
            name=name, model=ModelConfig("loco", dict(params)),
            data=DataConfig(corpora=SPEECH_CORPORA, features=features, protocol="leave_one_corpus_out",
                            valid_speakers=0, label_set="4class"),
            trainer=TrainerConfig(seeds=5, tensorboard=False),
            description=f"leave-one-corpus-out over EmoDB / CASIA / RAVDESS, 4 classes: {description}")


for _row, (_f, _p, _d) in SPEECH_ROWS.items():
    _register(_row, _f, _p, _d)


register_group("loco/speech", ["loco/speech/*"],
               "leave-one-corpus-out benchmark, speech (EmoDB, CASIA, RAVDESS; 4 classes), every row with and "
               "without adaptation (issue 20)", doc="docs/benchmark.md", kind="benchmark")
