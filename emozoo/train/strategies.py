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
    local replica's batch instead. Applied to MultiWorkerMirroredStrategy runs only.
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
