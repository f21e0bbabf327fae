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
