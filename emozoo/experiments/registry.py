"""Name -> experiment factory registry; method packages register on import."""
from __future__ import annotations

import fnmatch
import importlib
from dataclasses import dataclass
from typing import Callable

from emozoo.errors import ExperimentError
from emozoo.experiments.config import ExperimentConfig

_EXPERIMENTS: dict[str, Callable[[], ExperimentConfig]] = {}
_RUNNERS: dict[str, str] = {}
_TASKS: dict[str, str] = {}
_STORE_BUILDERS: dict[str, str] = {}
_GROUPS: dict[str, "ExperimentGroup"] = {}
#: how a store of per-clip features is built when no method registered another command
EXTRACT_COMMAND = ("python -m emozoo.extract --corpus {corpus} --features {features} --label-set {label_set} "
                   "--out {store}")
_LOADED = False


def register_experiment(name: str):
    """Decorator registering ``factory() -> ExperimentConfig`` under ``name``."""
    def deco(factory: Callable[[], ExperimentConfig]):
        if name in _EXPERIMENTS and _EXPERIMENTS[name] is not factory:
            raise ExperimentError(f"experiment {name!r} is registered twice")
        _EXPERIMENTS[name] = factory
        return factory
    return deco


def _load_all() -> None:
    """Import :mod:`emozoo.models`, which imports every method's experiments module, and the
    benchmark experiments (leave-one-corpus-out, :mod:`emozoo.evaluation.loco_experiments`)."""
    global _LOADED
    if not _LOADED:
        importlib.import_module("emozoo.models").discover()
        importlib.import_module("emozoo.evaluation.loco_experiments")
        _LOADED = True


def list_experiments(prefix: str = "") -> list[str]:
    _load_all()
    return sorted(n for n in _EXPERIMENTS if n.startswith(prefix))


@dataclass(frozen=True)
class ExperimentGroup:
    """A named set of registered experiments that together make one table of a paper, a study or a
    benchmark: ``python -m emozoo.train --experiment NAME`` runs every member (each through
    :func:`emozoo.train.trainer.run_experiment`), ``python -m emozoo.report NAME`` makes the table.

    Args:
        name: the group's name (``adv_culture/table3/is10``); never an experiment's name. A prefix of
            experiment names is a group already (every experiment under it); registering it only
            adds a title and a doc, and its patterns must then give exactly those experiments.
        members: ``fnmatch`` patterns over registered experiment names, in table-row order (each
            pattern's matches sorted); every pattern must match at least one experiment.
        title: what the table is, in the paper's words (``Liang et al. 2019, Table 3: ...``).
        doc: where the published table lives (``docs/methods/adv_culture_table.md``).
        kind: ``table`` (a paper's table), ``study`` (an ablation / "then better" study) or
            ``benchmark``.
        layout: ``"module:function"`` that lays the finished runs out in the paper's shape:
            ``function(group, runs_root) -> {"markdown": str, "data": dict}``; ``python -m
            emozoo.report GROUP`` prints it above the one-row-per-experiment table (and the table
            scripts of ``pipelines/`` write it into the docs).
    """
    name: str
    members: tuple
    title: str
    doc: str = ""
    kind: str = "table"
    layout: str = ""


GROUP_KINDS = ("table", "study", "benchmark")


def register_group(name: str, members, title: str, *, doc: str = "", kind: str = "table",
                   layout: str = "") -> ExperimentGroup:
    """Register the experiment group ``name`` (see :class:`ExperimentGroup`); returns it."""
    if kind not in GROUP_KINDS:
        raise ExperimentError(f"group {name!r}: kind must be one of {GROUP_KINDS}, got {kind!r}")
    if isinstance(members, str) or not members:
        raise ExperimentError(f"group {name!r}: members must be a non-empty list of name patterns")
    if layout and (":" not in layout or not all(layout.split(":", 1))):
        raise ExperimentError(f"group {name!r}: layout must be 'module:function', got {layout!r}")
    group = ExperimentGroup(name.strip("/"), tuple(members), title, doc, kind, layout)
    if _GROUPS.get(group.name, group) != group:
        raise ExperimentError(f"experiment group {group.name!r} is registered twice")
    _GROUPS[group.name] = group
    return group


def _expand(group: ExperimentGroup) -> list[str]:
    if group.name in _EXPERIMENTS:
        raise ExperimentError(f"experiment group {group.name!r} has the name of a registered experiment")
    out: list[str] = []
    for pattern in group.members:
        hits = sorted(n for n in _EXPERIMENTS if fnmatch.fnmatchcase(n, pattern))
        if not hits:
            raise ExperimentError(f"experiment group {group.name!r}: pattern {pattern!r} matches no registered "
                                  "experiment")
        out += [n for n in hits if n not in out]
    under = sorted(n for n in _EXPERIMENTS if n.startswith(group.name + "/"))
    if under and sorted(out) != under:
        # a group named like a prefix must be that prefix (it only adds a title and a doc to it)
        raise ExperimentError(f"experiment group {group.name!r} is a prefix of registered experiments but its "
                              "members are not exactly the experiments under it; a group's name must be its own")
    return out


def list_groups(kind: str | None = None) -> list[ExperimentGroup]:
    """The registered groups (paper tables, studies, benchmarks), sorted by name."""
    _load_all()
    return [g for _, g in sorted(_GROUPS.items()) if kind is None or g.kind == kind]


def get_group(name: str) -> ExperimentGroup | None:
    _load_all()
    return _GROUPS.get(name.strip("/"))


def group_members(name: str) -> list[str]:
    """The experiments of the group ``name``: a registered :class:`ExperimentGroup` (its members in
    table-row order), or a prefix ending at a ``/`` (the registered experiments under it, sorted);
    empty when ``name`` is itself an experiment or no experiment lies under it."""
    _load_all()
    if name in _EXPERIMENTS:
        return []
    if name.strip("/") in _GROUPS:
        return _expand(_GROUPS[name.strip("/")])
    prefix = name.rstrip("/") + "/"
    return sorted(n for n in _EXPERIMENTS if n.startswith(prefix))


def member_folder(group: str, member: str) -> str:
    """The sub-folder of ``--model-dir`` that ``python -m emozoo.train --experiment GROUP`` gives
    ``member``: its name after the path parts all members share, ``/`` replaced by ``_``
    (``emodal/table1/4class`` -> ``audio``, ``visual``, ...; ``adv_culture/table3/is10`` ->
    ``emodb_to_casia_is10_bsl``, ...)."""
    members = group_members(group)
    if member not in members:
        raise ExperimentError(f"{member!r} is not a member of the experiment group {group!r}")
    parts = [m.split("/") for m in members]
    shared = 0
    while all(len(p) > shared + 1 and p[shared] == parts[0][shared] for p in parts):
        shared += 1
    return "_".join(member.split("/")[shared:])


def get_experiment(name: str) -> ExperimentConfig:
    _load_all()
    if name not in _EXPERIMENTS:
        from emozoo.models import IMPORT_ERRORS

        close = [n for n in _EXPERIMENTS if name.split("/")[0] in n][:10]
        broken = {m: e for m, e in IMPORT_ERRORS.items() if m.rsplit(".", 1)[-1] == name.split("/")[0]}
        raise ExperimentError(f"no experiment {name!r}; list them with `python -m emozoo.train --list`"
                              + (f"; similar: {close}" if close else "")
                              + (f"; method package failed to import: {broken}" if broken else ""))
    cfg = _EXPERIMENTS[name]()
    if cfg.name != name:
        cfg.name = name
    return cfg


def register_runner(model_name: str, target: str) -> None:
    """Run experiments of model ``model_name`` with ``target`` (``"package.module:function"``,
    imported when first used) instead of the generic feature-vector fold trainer.

    The function is called as ``fn(cfg, model_dir, *, strategy, seeds, data_root, verbose, log)``
    and returns the summary dict (the trainer's ``summary.json`` shape). Method packages whose
    data are not one feature vector per clip (conversations, raw spectrograms, GAN schedules)
    register one, so that ``python -m emozoo.train --experiment NAME`` runs every registered name.
    """
    if ":" not in target:
        raise ExperimentError(f"runner target must be 'module:function', got {target!r}")
    if _RUNNERS.get(model_name, target) != target:
        raise ExperimentError(f"model {model_name!r} already has the runner {_RUNNERS[model_name]!r}")
    _RUNNERS[model_name] = target


def register_task(model_name: str, target: str) -> None:
    """Train experiments of model ``model_name`` with the :class:`emozoo.train.task.Task` ``target``
    (``"package.module:ClassOrObject"``, imported when first used) inside the one trainer's loop
    (seeds x folds, strategy, resume, reports) instead of the feature-vector task."""
    if ":" not in target:
        raise ExperimentError(f"task target must be 'module:attribute', got {target!r}")
    if _TASKS.get(model_name, target) != target:
        raise ExperimentError(f"model {model_name!r} already has the task {_TASKS[model_name]!r}")
    _TASKS[model_name] = target


def _resolve(table: dict, kind: str, model_name: str):
    """The object a ``"module:attribute"`` target of ``table`` names for ``model_name`` (imported
    now), or None when the model has none."""
    _load_all()
    target = table.get(model_name)
    if target is None:
        return None
    module, _, attr = target.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ExperimentError(f"{kind} {target!r} of model {model_name!r} cannot be loaded: {exc}") from exc


def get_task(model_name: str):
    """The :class:`emozoo.train.task.Task` of ``model_name`` (an instance), or None."""
    obj = _resolve(_TASKS, "task", model_name)
    return obj() if isinstance(obj, type) else obj


def get_runner(model_name: str):
    """The registered runner function of ``model_name``, or None (the generic trainer)."""
    return _resolve(_RUNNERS, "runner", model_name)


def register_store_builder(features: str, command: str) -> None:
    """Name the command that builds stores of feature ``features`` when ``python -m emozoo.extract``
    does not (e.g. EMODal's ``mfcc_au`` from pre-extracted RAVDESS AV features). ``command`` is
    formatted with ``corpus``, ``features``, ``label_set`` and ``store``."""
    if _STORE_BUILDERS.get(features, command) != command:
        raise ExperimentError(f"feature {features!r} already has the store builder {_STORE_BUILDERS[features]!r}")
    _STORE_BUILDERS[features] = command


def store_command(*, corpus: str, features: str, label_set: str, store: str) -> str:
    """The exact command that builds ``store`` (the one "store missing" errors name)."""
    _load_all()
    template = _STORE_BUILDERS.get(features, EXTRACT_COMMAND)
    return template.format(corpus=corpus or "<corpus>", features=features, label_set=label_set or "4class",
                           store=store)
