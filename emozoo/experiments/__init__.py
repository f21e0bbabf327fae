"""Registered experiment configs (TF Model Garden ``official/core`` style).

An experiment is an :class:`ExperimentConfig` dataclass (model, data, optimizer, trainer)
returned by a factory registered under a name next to its model, e.g.
``baseline/emodb/is10/loso`` in :mod:`emozoo.models.baseline.baseline_experiments`.
``python -m emozoo.train`` only resolves the name, applies ``--override key=value`` and
runs it; it knows no method by name.

Example::

    from emozoo.experiments import get_experiment, apply_overrides
    cfg = apply_overrides(get_experiment("baseline/emodb/is10/loso"), ["trainer.epochs=3"])
"""
from emozoo.experiments.config import (  # noqa: F401
    DataConfig, ExperimentConfig, ModelConfig, OptimizerConfig, TrainerConfig, apply_overrides,
)
from emozoo.experiments.registry import (  # noqa: F401
    ExperimentGroup, get_experiment, get_group, get_runner, get_task, group_members, list_experiments, list_groups,
    member_folder, register_experiment, register_group, register_runner, register_store_builder, register_task, store_command,
)
