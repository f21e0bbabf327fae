"""Registered experiments of the face CNN (Yousefi et al.), run by ``python -m emozoo.train``:

* ``face_cnn/culture/{jaffe,ckplus}/{cpu,gpu}``: one culture's CNN over subject-disjoint
  allocations (60/20/20 % of subjects, allocation k drawn with seed k; ``--seeds N`` = N
  allocations, default 5), tested on its own test subjects and on every face of the other culture
  (cross-culture, Section 4.1.1);
* ``face_cnn/fer2013/{cpu,gpu}``: FER2013 official splits (Training / PublicTest for model
  selection / PrivateTest), one run per seed, with the per-step error curves of Fig. 4.

``cpu`` is the preset the committed results and zoo models use (a quarter of the channels, 80
culture epochs, JAFFE 300 epochs at decay 0.99, 6 FER2013 epochs); ``gpu`` is the paper-size
network (Khorrami et al.). Both match ``pipelines/face_cnn_train.py --preset``. The face stores
come from ``EMOZOO_DATA_DIR=../shared/data python pipelines/face_cnn_prepare.py``
(``tfrecords/face_cnn_<corpus>/faces.npz``). Face images are not one feature vector per clip, so
``emozoo.models.face_cnn`` registers its own runner (:func:`run_experiment`).
"""
from __future__ import annotations

from pathlib import Path

from emozoo.errors import ExperimentError
from emozoo.experiments import (DataConfig, ExperimentConfig, ModelConfig, OptimizerConfig, TrainerConfig,
                                register_experiment, register_runner)

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

register_runner("face_cnn", "emozoo.models.face_cnn.face_cnn_experiments:run_experiment")


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


def run_experiment(cfg, model_dir, *, strategy=None, seeds=None, data_root=".", verbose=0, log=print) -> dict:
    """Train/test the experiment's allocations (culture) or seeds (FER2013) with
    :func:`~emozoo.models.face_cnn.face_cnn_task.run_culture` / ``run_benchmark``; writes their
    records under ``model_dir`` and ``summary.json``/``summary.md`` (accuracy, UAR, macro-F1 mean
    +- std; cross-culture accuracy per other corpus; the strategy and replica count). Finished
    allocations/seeds are read back.

    ``strategy`` (``None``, a name of :data:`emozoo.train.strategies.STRATEGIES` or a
    ``tf.distribute.Strategy``): the CNN is built and compiled in its scope, ``trainer.batch_size``
    is the global batch split over its replicas, the cross-entropy is scaled by the global batch
    (:func:`~emozoo.models.face_cnn.face_cnn_task.global_batch_crossentropy`). A folder trained
    under another strategy or replica count is refused (``run.json``); a worker other than the
    chief of a multi-worker run writes only under ``<model_dir>/.workers/<task>``."""
    from emozoo.evaluation.metrics import summarise_runs
    from emozoo.utils import write_json_atomic
    from emozoo.models.face_cnn.face_cnn_data import load_faces
    from emozoo.models.face_cnn.face_cnn_task import run_benchmark, run_culture
    from emozoo.train.strategies import SINGLE_DEVICE, check_placement, resolve, write_dir

    model_dir = Path(model_dir)
    tc = train_config(cfg)
    n = int(seeds or cfg.trainer.seeds)
    strategy = resolve(strategy)
    is_chief, out_dir = write_dir(model_dir)
    finished = any(out_dir.glob("*/split*.json")) or any(out_dir.glob("*/seed*.json"))
    placement = check_placement(out_dir, model_dir, strategy, unrecorded=SINGLE_DEVICE if finished else None)
    write_json_atomic(out_dir / "run.json", placement)

    def store(c):
        path = Path(cfg.data.store_for(c))
        return load_faces(path if path.is_absolute() else Path(data_root) / path)

    protocol = cfg.data.protocol.lower()
    log(f"[emozoo.train] {cfg.name}: {protocol}, {n} run(s), arch {tc.arch}, {tc.epochs} epochs, "
        f"{placement['replicas']} replica(s) -> {model_dir}")
    if protocol == "subject_split":
        stores = {c: store(c) for c in cfg.data.corpora}
        corpus = cfg.data.corpora[0]
        fractions = tuple(cfg.data.protocol_kwargs.get("fractions", (0.6, 0.2, 0.2)))
        records = run_culture(stores, corpus, tc, n_splits=n, out=out_dir, fractions=fractions, verbose=verbose,
                              strategy=strategy)
    elif protocol == "official":
        records = run_benchmark(store(cfg.data.corpora[0]), tc, seeds=range(cfg.trainer.seed, cfg.trainer.seed + n),
                                out=out_dir / cfg.data.corpora[0], verbose=verbose, strategy=strategy)
    else:
        raise ExperimentError(f"{cfg.name}: face_cnn protocols are subject_split and official, not {protocol!r}")
    summary = {"experiment": cfg.name, "runs": len(records), "classes": records[0]["classes"],
               "test": summarise_runs([r["test"]["report"] for r in records]), **placement}
    cross = sorted({o for r in records for o in r.get("cross", {})})
    if cross:
        summary["cross"] = {o: summarise_runs([r["cross"][o]["report"] for r in records]) for o in cross}
    if not is_chief:
        return summary
    write_json_atomic(model_dir / "summary.json", summary)
    rows = [("test", summary["test"])] + [(f"cross: {o}", s) for o, s in summary.get("cross", {}).items()]
    lines = [f"# {cfg.name}: mean ± std over {len(records)} run(s)", "", "| tested on | accuracy | UAR | macro-F1 |",
             "|---|---|---|---|"] + [f"| {k} | " + " | ".join(f"{100 * s[m]['mean']:.2f} ± {100 * s[m]['std']:.2f}"
                                                            for m in ("accuracy", "uar", "macro_f1")) + " |"
                                     for k, s in rows]
    (model_dir / "summary.md").write_text("\n".join(lines) + "\n")
    log("[emozoo.train] " + "; ".join(f"{k} accuracy {100 * s['accuracy']['mean']:.2f} +- {100 * s['accuracy']['std']:.2f}"
                                      for k, s in rows))
    return summary


# the paper's tables as experiment groups, one per preset: per-culture training with cross-culture
# tests (Tables 2-4: confusion matrices and misclassification rates) and the FER2013 run (Fig. 4)
from emozoo.experiments import register_group as _register_group  # noqa: E402

for _p in PRESETS:
    _register_group(f"face_cnn/tables/{_p}", [f"face_cnn/culture/*/{_p}", f"face_cnn/fer2013/{_p}"],
                    f"Yousefi et al., Tables 2-4 and Fig. 4: per-culture CNN on JAFFE and CK+ tested on both "
                    f"cultures, and FER2013 ({_p} preset)", doc="docs/methods/face_cnn.md")
