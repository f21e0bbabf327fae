"""Where emozoo finds corpora and writes its products.

The data directory holds one folder per corpus, in the layouts documented in
``docs/datasets.md``. It is resolved, in order, from an explicit argument, the
``EMOZOO_DATA_DIR`` environment variable, then ``./data``.
"""
from __future__ import annotations

import os
from pathlib import Path

from emozoo.errors import DataDirError

DATA_DIR_ENV = "EMOZOO_DATA_DIR"


def data_dir(explicit: str | os.PathLike | None = None, *, must_exist: bool = True) -> Path:
    """Return the data directory as an absolute path.

    Args:
        explicit: a directory given by the caller (``--data-dir``); wins over the env var.
        must_exist: raise :class:`DataDirError` when the directory does not exist.
    """
    raw = explicit if explicit is not None else os.environ.get(DATA_DIR_ENV) or "data"
    path = Path(raw).expanduser().resolve()
    if must_exist and not path.is_dir():
        raise DataDirError(
            f"data directory {path} does not exist; set {DATA_DIR_ENV} or pass --data-dir "
            "to the folder that holds the corpora (see docs/datasets.md)"
        )
    return path
