"""Experiment config dataclasses and ``key=value`` overrides."""
from __future__ import annotations

import ast
import dataclasses
import json
from typing import Any, Sequence

from emozoo.errors import ExperimentError


@dataclasses.dataclass
class ModelConfig:
    """Which registered model to build and its constructor arguments.

    Args:
        name: model registry name (``baseline``).
        params: keyword arguments of the model's builder (``dropout``, ``hidden_units`` ...).
    """

    name: str = "baseline"
    params: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class DataConfig:
    """Where the features are and how they are split.

    Args:
        corpora: training corpora (LOSO/k-fold run inside them).
        target: test corpus of a cross-corpus protocol ("" otherwise).
        features: feature name in the stores (``is10``).
        store_pattern: store folder for a corpus, formatted with ``corpus`` and ``features``;
            relative paths resolve against the working directory.
        stores: explicit ``corpus -> store folder`` overrides of the pattern.
        protocol: ``loso``, ``speaker_kfold``, ``cross_corpus`` or ``all`` (train on all speakers
            but the validation ones, no test: used for zoo models).
        protocol_kwargs: extra arguments of the protocol (``k`` for speaker_kfold).
        valid_speakers: speakers held out of training for model selection (validation UAR).
        label_set: the label set the stores were written with (``4class``).
        folds: run only these fold indices (empty = all); for quick runs.
        streaming: ``auto`` (default), ``true`` or ``false``: read the training side from the
            store's shards with a tf.data pipeline instead of into memory
            (:mod:`emozoo.train.streaming`); ``auto`` streams stores whose feature arrays exceed
            ``emozoo.train.streaming.STREAM_THRESHOLD_BYTES`` (2 GiB). Left out of ``config.json``
            when ``auto``, so runs written before the option existed resume.
    """

    corpora: tuple = ("emodb",)
    target: str = ""
    features: str = "is10"
    store_pattern: str = "tfrecords/{corpus}_{features}"
    stores: dict = dataclasses.field(default_factory=dict)
    protocol: str = "loso"
    protocol_kwargs: dict = dataclasses.field(default_factory=dict)
    valid_speakers: int = 1
    label_set: str = "4class"
    folds: tuple = ()
    streaming: str = "auto"

    def store_for(self, corpus: str) -> str:
        return self.stores.get(corpus) or self.store_pattern.format(corpus=corpus, features=self.features)


@dataclasses.dataclass
class OptimizerConfig:
    """Keras optimizer by name (``adam``, ``sgd`` ...) and its learning rate."""

    name: str = "adam"
    learning_rate: float = 1e-4
    params: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class TrainerConfig:
    """Loop settings.

    Args:
        epochs: maximum epochs per fold.
        batch_size: global batch size (split over replicas under a strategy).
        seeds: how many seeds ``python -m emozoo.train`` runs by default (``--seeds`` wins).
        seed: the first seed; seed ``i`` of a multi-seed run is ``seed + i``.
        patience: early stopping on validation UAR after this many epochs without improvement
            (0 disables it; then the last epoch is kept).
        min_epochs: no early stop before this epoch.
        backup_every_steps: fault-tolerance backup frequency in steps (0 = every epoch).
        class_weighting: ``none`` or ``balanced`` (inverse class frequency of the training fold).
        tensorboard: write TensorBoard logs (scalars, confusion image, projector).
        projector_examples: at most this many training+test examples in the projector.
    """

    epochs: int = 40
    batch_size: int = 32
    seeds: int = 1
    seed: int = 0
    patience: int = 10
    min_epochs: int = 0
    backup_every_steps: int = 0
    class_weighting: str = "none"
    tensorboard: bool = True
    projector_examples: int = 1000


@dataclasses.dataclass
class ExperimentConfig:
    """One registered experiment: model + data + optimizer + trainer, and a description."""

    name: str
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    optimizer: OptimizerConfig = dataclasses.field(default_factory=OptimizerConfig)
    trainer: TrainerConfig = dataclasses.field(default_factory=TrainerConfig)
    description: str = ""

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        if str(d["data"].get("streaming")).lower() == "auto":
            del d["data"]["streaming"]      # the default: config.json of earlier runs stays equal
        return d

    @classmethod
    def from_json(cls, d: dict) -> "ExperimentConfig":
        try:
            data = dict(d["data"])
            data["corpora"] = tuple(data.get("corpora", ()))
            data["folds"] = tuple(data.get("folds", ()))
            return cls(name=d["name"], model=ModelConfig(**d["model"]), data=DataConfig(**data),
                       optimizer=OptimizerConfig(**d["optimizer"]), trainer=TrainerConfig(**d["trainer"]),
                       description=d.get("description", ""))
        except (KeyError, TypeError) as exc:
            raise ExperimentError(f"malformed experiment config: {exc}") from exc


def parse_value(text: str) -> Any:
    """``3`` -> int, ``1e-3`` -> float, ``true`` -> True, ``[1,2]``/``{"a":1}`` -> JSON, else the string."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    try:
        return json.loads(text)
    except (json.JSONDecodeError, ValueError):
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _coerce(old: Any, new: Any, key: str) -> Any:
    if isinstance(old, bool):
        if not isinstance(new, bool):
            raise ExperimentError(f"override {key}: expected true/false, got {new!r}")
        return new
    if isinstance(old, int) and isinstance(new, (int, float)) and not isinstance(new, bool):
        if isinstance(new, float) and not new.is_integer():
            raise ExperimentError(f"override {key}: expected an integer, got {new!r}")
        return int(new)
    if isinstance(old, float) and isinstance(new, (int, float)):
        return float(new)
    if isinstance(old, tuple):
        if isinstance(new, str):
            new = [v for v in new.split(",") if v]
        if not isinstance(new, (list, tuple)):
            new = [new]
        return tuple(new)
    if isinstance(old, str) and not isinstance(new, str):
        return str(new)
    return new


def apply_overrides(cfg: ExperimentConfig, overrides: Sequence[str]) -> ExperimentConfig:
    """A copy of ``cfg`` with ``section.field=value`` (or ``model.params.key=value``) applied."""
    cfg = ExperimentConfig.from_json(json.loads(json.dumps(cfg.to_json())))
    for item in overrides or ():
        if "=" not in item:
            raise ExperimentError(f"override {item!r} is not key=value (e.g. trainer.epochs=5)")
        key, raw = item.split("=", 1)
        parts = key.strip().split(".")
        value = parse_value(raw)
        obj: Any = cfg
        for i, part in enumerate(parts[:-1]):
            if isinstance(obj, dict):
                obj = obj.setdefault(part, {})
            elif dataclasses.is_dataclass(obj) and part in {f.name for f in dataclasses.fields(obj)}:
                obj = getattr(obj, part)
            else:
                raise ExperimentError(f"override {key!r}: {'.'.join(parts[:i + 1])!r} is not a config section; "
                                      "sections are model, data, optimizer, trainer")
        last = parts[-1]
        if isinstance(obj, dict):
            obj[last] = value
        elif dataclasses.is_dataclass(obj):
            names = {f.name for f in dataclasses.fields(obj)}
            if last not in names:
                raise ExperimentError(f"override {key!r}: {type(obj).__name__} has no field {last!r}; "
                                      f"it has {sorted(names)}")
            setattr(obj, last, _coerce(getattr(obj, last), value, key))
        else:
            raise ExperimentError(f"override {key!r} does not name a config field")
    return cfg
