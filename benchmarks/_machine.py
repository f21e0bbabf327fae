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


def save_results(path, script: str, argv, load_before, t0: float, rows, **extra) -> Path:
    """Write a benchmark's JSON: the command that made it, date, CPU, cores, Python, load average
    before/after, wall seconds, ``extra`` fields and ``rows``; returns the path."""
    import datetime as _dt
    import json
    import sys
    import time

    path = Path(path)
    load_after = os.getloadavg()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "command": f"python {script} " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu_name(), "cores": os.cpu_count(), "python": platform.python_version(),
        "loadavg_before": [round(x, 2) for x in load_before], "loadavg_after": [round(x, 2) for x in load_after],
        "wall_s": round(time.time() - t0, 1), **extra, "rows": rows}, indent=1) + "\n")
    print(f"wrote {path}")
    return path
