"""Registered experiments of the face CNN (Yousefi et al.), run by ``python -m emozoo.train``:

* ``face_cnn/culture/{jaffe,ckplus}/{cpu,gpu}``: one culture's CNN over subject-disjoint
  allocations (60/20/20 % of subjects; trainer seed k draws allocation k and seeds its training;
  ``--seeds N`` = N allocations, default 5), tested on its own test subjects and on every face of
  the other culture (cross-culture, Section 4.1.1; the fold's ``extra_tests``);
* ``face_cnn/fer2013/{cpu,gpu}``: FER2013 official splits (Training / PublicTest for model
  selection / PrivateTest), one run per seed (3 by default), with the per-step error curves of Fig. 4;
* the groups ``face_cnn/tables/{cpu,gpu}``: the three of one preset (Tables 2-4 and Fig. 4).

``cpu`` is the preset the committed results and zoo models use (a quarter of the channels, 80
culture epochs, JAFFE 300 epochs at decay 0.99, 6 FER2013 epochs); ``gpu`` is the paper-size
network (Khorrami et al.). The face stores come from ``EMOZOO_DATA_DIR=../shared/data python
pipelines/face_cnn_prepare.py`` (``tfrecords/face_cnn_<corpus>/faces.npz``). Face images are not
one feature vector per clip, so ``emozoo.models.face_cnn`` registers its own Task
(:class:`~emozoo.models.face_cnn.face_cnn_task.FaceCNNTask`) for the one trainer
(:func:`emozoo.train.trainer.run_experiment`: seeds, strategy, resume, reports, summary).
"""
from __future__ import annotations

from emozoo.errors import ExperimentError
from emozoo.experiments import (DataConfig, ExperimentConfig, ModelConfig, OptimizerConfig, TrainerConfig,
                                register_experiment, register_task)

CULTURES = ("jaffe", "ckplus")
#: (arch, culture epochs, culture decay, {corpus: (epochs, decay)}, FER2013 epochs, FER2013 decay)
PRESETS = {
    "cpu": dict(arch="cpu", culture_epochs=80, culture_decay=0.97, per_corpus={"jaffe": (300, 0.99)},
                fer_epochs=6, fer_decay=0.8),
    "gpu": dict(arch="khorrami", culture_epochs=100, culture_decay=0.97, per_corpus={"jaffe": (400, 0.99)},
                fer_epochs=60, fer_decay=0.95),
}
COMMON = dict(weight_decay=5e-4, rotation_degrees=15.0)


def _register_culture(corpus: str, preset: str) -> None:
    name = f"face_cnn/culture/{corpus}/{preset}"
    p = PRESETS[preset]
    epochs, decay = p["per_corpus"].get(corpus, (p["culture_epochs"], p["culture_decay"]))
    other = tuple(c for c in CULTURES if c != corpus)

    @register_experiment(name)
    def factory():
        return ExperimentConfig(
            name=name, model=ModelConfig("face_cnn", {"arch": p["arch"], "decay_rate": decay, **COMMON}),
            data=DataConfig(corpora=(corpus,) + other, features="face48",
                            stores={c: f"tfrecords/face_cnn_{c}" for c in (corpus,) + other},
                            protocol="subject_split", protocol_kwargs={"fractions": [0.6, 0.2, 0.2]},
                            valid_speakers=0, label_set="6basic"),
            optimizer=OptimizerConfig("sgd", 0.01, {"momentum": 0.9}),
            trainer=TrainerConfig(epochs=epochs, batch_size=16, seeds=5, patience=0, tensorboard=False),
            description=f"per-culture face CNN on {corpus} (subject-disjoint allocations), cross-culture test on "
                        f"{', '.join(other)}; {preset} preset")


def _register_fer(preset: str) -> None:
    name = f"face_cnn/fer2013/{preset}"
    p = PRESETS[preset]

    @register_experiment(name)
    def factory():
        return ExperimentConfig(
            name=name, model=ModelConfig("face_cnn", {"arch": p["arch"], "decay_rate": p["fer_decay"],
                                                      "eval_every_steps": 100, **COMMON}),
            data=DataConfig(corpora=("fer2013",), features="face48", stores={"fer2013": "tfrecords/face_cnn_fer2013"},
                            protocol="official", valid_speakers=0, label_set="7basic"),
            optimizer=OptimizerConfig("sgd", 0.01, {"momentum": 0.9}),
            trainer=TrainerConfig(epochs=p["fer_epochs"], batch_size=64, seeds=3, patience=0, tensorboard=False),
            description=f"face CNN on FER2013 official splits (PrivateTest), {preset} preset")


for _p in PRESETS:
    for _c in CULTURES:
        _register_culture(_c, _p)
    _register_fer(_p)

register_task("face_cnn", "emozoo.models.face_cnn.face_cnn_task:FaceCNNTask")


def train_config(cfg):
    """The :class:`~emozoo.models.face_cnn.face_cnn_task.TrainConfig` of an experiment."""
    from emozoo.models.face_cnn.face_cnn_task import TrainConfig

    p = dict(cfg.model.params)
    if cfg.optimizer.name.lower() != "sgd":
        raise ExperimentError(f"{cfg.name}: the face CNN trains with SGD + momentum (Section 2.1), "
                              f"not {cfg.optimizer.name!r}")
    known = {"arch", "decay_rate", "weight_decay", "rotation_degrees", "arch_overrides",
             "eval_every_steps", "eval_subset"}
    unknown = sorted(set(p) - known)
    if unknown:
        raise ExperimentError(f"{cfg.name}: unknown face_cnn model.params {unknown}; known: {sorted(known)}")
    return TrainConfig(epochs=cfg.trainer.epochs, batch_size=cfg.trainer.batch_size,
                       learning_rate=float(cfg.optimizer.learning_rate),
                       momentum=float(cfg.optimizer.params.get("momentum", 0.9)), **p)


# the paper's tables as experiment groups, one per preset: per-culture training with cross-culture
# tests (Tables 2-4: confusion matrices and misclassification rates) and the FER2013 run (Fig. 4)
from emozoo.experiments import register_group as _register_group  # noqa: E402

for _p in PRESETS:
    _register_group(f"face_cnn/tables/{_p}", [f"face_cnn/culture/*/{_p}", f"face_cnn/fer2013/{_p}"],
                    f"Yousefi et al., Tables 2-4 and Fig. 4: per-culture CNN on JAFFE and CK+ tested on both "
                    f"cultures, and FER2013 ({_p} preset)", doc="docs/methods/face_cnn.md")
