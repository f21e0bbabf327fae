"""Small helpers the package, its pipelines and benchmarks share."""
from __future__ import annotations

import json
import os
from pathlib import Path


def write_json_atomic(path: str | os.PathLike, obj, indent: int | None = 1) -> Path:
    """Write ``obj`` as JSON to ``path`` through a temporary file in the same folder and
    ``os.replace``: a reader (or a resumed run) sees the old file or the new one, never half of
    one, even when the writer is killed. Parent folders are created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=indent))
    os.replace(tmp, path)
    return path


def balanced_sample_weights(y, num_classes: int):
    """Per-row weights ``n / (K * count(class))`` (float32): each class weighs the same in a loss.

    Absent classes get no rows, so their (clamped) count never divides by zero.
    """
    import numpy as np

    y = np.asarray(y, np.int64)
    counts = np.bincount(y, minlength=num_classes).astype(np.float64)
    return (len(y) / (num_classes * np.maximum(counts, 1.0)))[y].astype(np.float32)
