"""Corpus readers, one module per corpus; importing this package registers them all."""
import importlib
import pkgutil

from emozoo.data.corpora.base import (  # noqa: F401
    CorpusReader, corpus_names, get_reader, load_manifest, register,
)

for _m in pkgutil.iter_modules(__path__):
    if _m.name != "base" and not _m.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_m.name}")
