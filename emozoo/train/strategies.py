"""Distribution strategies by name: default, mirrored (local devices), multi_worker (TF_CONFIG)."""
from __future__ import annotations

import json
import os

import tensorflow as tf

from emozoo.errors import ExperimentError

STRATEGIES = ("default", "mirrored", "multi_worker")


def set_cpu_devices(n: int) -> None:
    """Split the physical CPU into ``n`` logical devices (must run before TF initialises devices)."""
    if n and n > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * int(n))


def require_single_device(strategy, runner: str) -> None:
    """Refuse a strategy a single-device runner does not honour (a name other than ``default``, or a
    strategy object with more than one replica), instead of ignoring it (issue 17)."""
    if isinstance(strategy, str) and strategy != "default" or (
            strategy is not None and not isinstance(strategy, str)
            and int(getattr(strategy, "num_replicas_in_sync", 2)) != 1):
        label = strategy if isinstance(strategy, str) else type(strategy).__name__
        raise ExperimentError(f"the {runner} runner does not honour --strategy {label}: it trains on the default "
                              "(single-device) strategy only; drop --strategy")


def global_sum(values):
    """Sum of ``values`` (a tensor or a nest of tensors) over the replicas of the running step;
    identity outside a replica context. Differentiable: the gradient of an all-sum is an all-sum.
    What the method models use to turn per-replica sums into the step's global ones."""
    ctx = tf.distribute.get_replica_context()
    return ctx.all_reduce(tf.distribute.ReduceOp.SUM, values) if ctx is not None else values


def num_replicas() -> int:
    """Replicas in sync of the running step (1 outside a replica context): a term every replica adds
    once (an L2 penalty) is divided by it, since the optimiser sums the replicas' gradients."""
    ctx = tf.distribute.get_replica_context()
    return ctx.num_replicas_in_sync if ctx is not None else 1


def make_strategy(name: str = "default") -> tf.distribute.Strategy:
    """``default``: no distribution; ``mirrored``: ``MirroredStrategy`` over the local GPUs, or the
    logical CPU devices when there is no GPU (``--cpu-devices 2``); ``multi_worker``:
    ``MultiWorkerMirroredStrategy`` configured by the ``TF_CONFIG`` environment variable."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        if gpus:
            return tf.distribute.MirroredStrategy()
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=cpus, cross_device_ops=tf.distribute.ReductionToOneDevice())
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise ExperimentError("--strategy multi_worker needs TF_CONFIG (cluster spec and this task); "
                                  "see docs/training.md")
        opts = tf.distribute.experimental.CommunicationOptions(
            implementation=tf.distribute.experimental.CommunicationImplementation.RING)
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=opts)
    raise ExperimentError(f"unknown strategy {name!r}; choose one of {STRATEGIES}")


def task_info() -> tuple[bool, str]:
    """(is_chief, task name) from TF_CONFIG; a process without TF_CONFIG is the chief."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return True, "chief_0"
    cfg = json.loads(raw)
    task = cfg.get("task", {})
    ttype, tid = task.get("type", "worker"), int(task.get("index", 0))
    has_chief = "chief" in cfg.get("cluster", {})
    is_chief = ttype == "chief" or (not has_chief and ttype == "worker" and tid == 0)
    return is_chief, f"{ttype}_{tid}"


def patch_multi_worker_build(model) -> None:
    """Work around Keras 3.15's ``_maybe_symbolic_build`` under ``MultiWorkerMirroredStrategy``.

    Before the first step Keras builds the model symbolically from one batch, which it gets by
    ``strategy.reduce("MEAN", per_replica_batch)``; a collective strategy cannot reduce a
    per-replica value in eager mode ("Attempt to convert a value (PerReplica...) to a Tensor"),
    so ``fit`` fails at once. Only the batch's shapes matter for the build, so this takes the
    local replica's batch instead. The trainer applies it to every run on more than one replica
    (MirroredStrategy too: Keras's reduced batch fails when an odd global batch splits unevenly).
    """
    import types

    from keras import tree

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if self._distribute_strategy is None:
            return
        if iterator is not None:
            for _, _, it in iterator:
                batch = next(it)
                data_batch = tree.map_structure(
                    lambda v: self._distribute_strategy.experimental_local_results(v)[0]
                    if isinstance(v, tf.distribute.DistributedValues) else v, batch)
                break
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    model._maybe_symbolic_build = types.MethodType(_maybe_symbolic_build, model)


def step_logs(logs: dict) -> dict:
    """Make a custom ``train_step``/``test_step``'s logs reducible under every strategy.

    Keras 3.15 reduces per-step logs under ``MultiWorkerMirroredStrategy`` with
    ``strategy.reduce("MEAN", v, axis=0)``, which fails on scalars; giving each value shape
    ``[1]`` there makes that reduction a plain mean. Other strategies get the logs unchanged.
    (Epoch logs are read from the metrics themselves, so they stay scalars.)
    """
    if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
        return {k: tf.reshape(v, [1]) for k, v in logs.items()}
    return logs


# ------------------------------------------------------------------ strategies in the method runners
def resolve(strategy) -> tf.distribute.Strategy:
    """A strategy object from what a runner was given: ``None`` (the default strategy), a name of
    :data:`STRATEGIES` (built by :func:`make_strategy`) or a ``tf.distribute.Strategy``."""
    if strategy is None:
        return tf.distribute.get_strategy()
    return make_strategy(strategy) if isinstance(strategy, str) else strategy


def is_distributed(strategy) -> bool:
    """Whether ``strategy`` is anything but TensorFlow's default (no-distribution) strategy: a
    runner then builds and compiles its models in ``strategy.scope()`` and scales its losses by
    the global batch; on the default strategy it keeps its single-device code path unchanged."""
    return strategy is not None and type(strategy).__name__ != "_DefaultDistributionStrategy"


def scope(strategy):
    """``strategy.scope()`` for a distributed strategy, a no-op context for the default one."""
    import contextlib
    return strategy.scope() if is_distributed(strategy) else contextlib.nullcontext()


def placement(strategy) -> dict:
    """``{"strategy": class name, "replicas": replicas in sync}``, what ``run.json`` and a
    runner's ``summary.json`` record (``None``: the default strategy)."""
    strategy = tf.distribute.get_strategy() if strategy is None else strategy
    return {"strategy": type(strategy).__name__, "replicas": int(strategy.num_replicas_in_sync)}


#: the placement of a folder written before runs recorded one by a runner that trained on the
#: default strategy only (the ssgan and face_cnn runners refused or ignored every other one)
SINGLE_DEVICE = {"strategy": "_DefaultDistributionStrategy", "replicas": 1}


def check_placement(write_dir, model_dir, strategy, *, unrecorded=None) -> dict:
    """Refuse to resume a run folder written under another strategy or replica count.

    The distribution a run was trained under is part of its identity: the global batch is split
    over the replicas, and a resumed or re-read fold must not silently come from another setting.
    ``write_dir/run.json`` (written by the caller) holds the placement of the folder's run; without
    it, ``unrecorded`` says what the folder holds: ``None`` (nothing to compare: a new run),
    ``"refuse"`` (a run of an older emozoo whose placement is unknown) or a placement dict (e.g.
    :data:`SINGLE_DEVICE`). Returns this command's :func:`placement`.

    Example::

        want = check_placement(write_dir, model_dir, strategy)
        write_json_atomic(write_dir / "run.json", want)
    """
    from pathlib import Path
    want = placement(strategy)
    run_json = Path(write_dir) / "run.json"
    if run_json.exists():
        before = json.loads(run_json.read_text())
    elif unrecorded == "refuse":
        raise ExperimentError(f"{model_dir} holds a run that does not record its strategy and device count "
                              "(an older emozoo): use another --model-dir")
    else:
        before = unrecorded
    if before is not None and before != want:
        raise ExperimentError(
            f"{model_dir} holds a run trained with {before['strategy']} on {before['replicas']} replica(s); "
            f"this command uses {want['strategy']} on {want['replicas']}: use another --model-dir "
            f"(e.g. {model_dir}_{want['strategy'].lower()}{want['replicas']})")
    return want


def write_dir(model_dir):
    """``(is_chief, folder this process writes to)``: ``model_dir`` for the chief, and
    ``model_dir/.workers/<task>`` for every other worker of a multi-worker run (see :func:`task_info`)."""
    from pathlib import Path
    is_chief, task = task_info()
    return is_chief, (Path(model_dir) if is_chief else Path(model_dir) / ".workers" / task)


def log_scalars(model) -> None:
    """Wrap ``model``'s built-in ``train_step``/``test_step`` so that their logs go through
    :func:`step_logs` (needed under ``MultiWorkerMirroredStrategy`` for a model that keeps Keras'
    own steps, e.g. the functional face CNN)."""
    import types
    cls = type(model)
    model.train_step = types.MethodType(lambda self, data: step_logs(cls.train_step(self, data)), model)
    model.test_step = types.MethodType(lambda self, data: step_logs(cls.test_step(self, data)), model)
