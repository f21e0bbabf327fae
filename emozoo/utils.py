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


def shown_path(path: str | os.PathLike) -> str:
    """``path`` relative to the working directory when it lies inside it, else as given: what a results JSON
    records, so that it reads the same on every clone."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def replace_marked_section(path: str | os.PathLike, name: str, text: str) -> Path:
    """Replace what lies between ``<!-- BEGIN name -->`` and ``<!-- END name -->`` in a Markdown file
    (the markers stay) with ``text``, atomically; generated sections of ``benchmarks/RESULTS.md``
    are written this way (e.g. ``python pipelines/ssgan_report.py --write``).

    Raises ``ValueError`` when the markers are missing, repeated or out of order: nothing is
    appended or guessed, the file is left as it was.
    """
    path = Path(path)
    doc = path.read_text(encoding="utf-8")
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    if doc.count(begin) != 1 or doc.count(end) != 1 or doc.index(begin) > doc.index(end):
        raise ValueError(f"{path}: expected one {begin!r} before one {end!r}; the file is unchanged")
    head, rest = doc.split(begin, 1)
    _old, tail = rest.split(end, 1)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    tmp.write_text(f"{head}{begin}\n{text.strip()}\n{end}{tail}", encoding="utf-8")
    os.replace(tmp, path)
    return path


def run_cli(main) -> int:
    """Run a command-line ``main()`` and return its exit code; a reader that leaves early
    (``python -m emozoo.train --list | head``) is not an error: exit 0, no traceback."""
    import sys

    try:
        code = main()
        sys.stdout.flush()              # inside the try: a block-buffered pipe raises here, not at exit
        return code
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())   # so that the interpreter's final flush does not raise again
        return 0
