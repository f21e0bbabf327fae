"""What the benchmarks share: the CPU's name for the JSON, and pinning to one core with one TF thread."""
from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (``platform.processor()`` elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def pin_one_core(core: int | None = None):
    """Pin this process to one core (``core`` or the first allowed) and TF to one thread; returns ``tf``."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core if core is not None else min(os.sched_getaffinity(0))})
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    return tf
