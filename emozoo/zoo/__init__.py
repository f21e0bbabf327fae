"""The model zoo: ``saved_models/registry.json``, sha256 checksums, atomic publishing, loading.

Layout::

    saved_models/
        registry.json                        # {"format": 1, "models": {name: entry}}
        <name>/<version>/                    # one SavedModel per published version
            saved_model.pb, variables/..., assets/labels.json, assets/preprocessing.json

An entry holds the model card (name, method, description, training corpora and protocol, label
set, input spec, measured metrics with the command that produced them, data licence) plus
``path`` (``<name>/<version>``) and ``files`` (relative path -> sha256 of every file).

Publishing (:func:`publish`) builds the model in a staging folder, checksums it, renames it to
a new version folder (never over an existing one) and only then replaces ``registry.json``
atomically, so an interrupted export leaves the registry pointing at the previous complete
model; stale staging and version folders are swept on the next publish.
:func:`load` verifies every checksum (and refuses unlisted files) before loading.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Callable

from emozoo.errors import ExportError, IntegrityError, ModelNotFoundError

REGISTRY = "registry.json"
ZOO_ENV = "EMOZOO_ZOO_DIR"


def zoo_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The zoo folder: ``explicit``, ``$EMOZOO_ZOO_DIR``, or the repository's ``saved_models/``."""
    if explicit is not None:
        return Path(explicit)
    if os.environ.get(ZOO_ENV):
        return Path(os.environ[ZOO_ENV])
    return Path(__file__).resolve().parents[2] / "saved_models"


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def checksums(folder: str | os.PathLike) -> dict:
    """``relative posix path -> sha256`` for every regular file under ``folder``."""
    folder = Path(folder)
    return {p.relative_to(folder).as_posix(): sha256_file(p)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def read_registry(root: str | os.PathLike | None = None) -> dict:
    path = zoo_dir(root) / REGISTRY
    if not path.exists():
        return {"format": 1, "models": {}}
    try:
        reg = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise IntegrityError(f"{path} is not valid JSON ({exc}); restore it from git") from exc
    if not isinstance(reg.get("models"), dict):
        raise IntegrityError(f"{path} has no 'models' mapping; restore it from git")
    return reg


@contextlib.contextmanager
def _registry_lock(root: Path):
    """An exclusive advisory lock on ``root/.registry.lock`` (POSIX ``flock``; a no-op elsewhere)."""
    try:
        import fcntl
    except ImportError:                  # pragma: no cover - Windows
        yield
        return
    with open(root / ".registry.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _write_registry(reg: dict, root: Path) -> None:
    tmp = root / (REGISTRY + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(reg, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, root / REGISTRY)


def list_models(root: str | os.PathLike | None = None) -> list[dict]:
    """Summaries of the registered models: name, method, description, corpora, label set, metrics."""
    reg = read_registry(root)
    keys = ("name", "method", "description", "training_corpora", "protocol", "label_set", "licence", "metrics")
    return [{k: e.get(k) for k in keys} for e in reg["models"].values()]


def verify(entry: dict, root: Path) -> Path:
    """Check every file of ``entry`` against its sha256; refuse missing, changed or extra files."""
    folder = root / entry["path"]
    name = entry.get("name", entry["path"])
    if not folder.is_dir():
        raise IntegrityError(f"model {name!r}: folder {folder} is missing; re-publish it or restore it from git")
    want = entry.get("files") or {}
    if not want:
        raise IntegrityError(f"model {name!r}: its registry entry lists no checksums")
    have = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    extra = sorted(have - set(want))
    missing = sorted(set(want) - have)
    if missing or extra:
        raise IntegrityError(f"model {name!r} at {folder}: missing files {missing[:5]}, unexpected files "
                             f"{extra[:5]}; the model was altered: refusing to load it")
    for rel, digest in want.items():
        got = sha256_file(folder / rel)
        if got != digest:
            raise IntegrityError(f"model {name!r}: {rel} has sha256 {got[:16]}..., the registry says "
                                 f"{digest[:16]}...; the file was tampered with or corrupted: refusing to load it")
    return folder


def _sweep(root: Path, reg: dict) -> None:
    """Remove staging folders and version folders no registry entry points at."""
    staging = root / ".staging"
    if staging.exists():
        for p in staging.iterdir():
            shutil.rmtree(p, ignore_errors=True)
        try:
            staging.rmdir()
        except OSError:
            pass
    live = {e["path"] for e in reg["models"].values()}
    for entry in reg["models"].values():
        parent = root / entry["path"].split("/")[0]
        for v in parent.iterdir() if parent.is_dir() else ():
            if v.is_dir() and f"{parent.name}/{v.name}" not in live:
                shutil.rmtree(v, ignore_errors=True)


def publish(name: str, build: Callable[[Path], None], card: dict, root: str | os.PathLike | None = None) -> dict:
    """Atomically add or replace zoo model ``name``.

    Args:
        name: registry name (also the folder name): letters, digits, ``_``, ``-``, ``.``.
        build: ``build(folder)`` writes the model into the (non-existent) ``folder``.
        card: the model card (method, description, corpora, protocol, metrics, licence ...).
        root: the zoo folder (default :func:`zoo_dir`).
    Returns the registry entry.
    """
    import re

    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name or ""):
        raise ExportError(f"zoo model name {name!r} must use letters, digits, '_', '-', '.' only")
    root = zoo_dir(root)
    root.mkdir(parents=True, exist_ok=True)
    staging = root / ".staging" / f"{name}-{os.getpid()}-{int(time.time() * 1000)}"
    staging.parent.mkdir(parents=True, exist_ok=True)
    try:
        build(staging)
        if not staging.is_dir() or not any(staging.iterdir()):
            raise ExportError(f"the build of {name!r} wrote nothing into {staging}")
        files = checksums(staging)
        version = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:12]
        final = root / name / version
        if final.exists():
            shutil.rmtree(staging)          # identical content already published
        else:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    entry = {**card, "name": name, "path": f"{name}/{version}", "files": files,
             "published": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    with _registry_lock(root):           # concurrent publishers: no lost update of the registry
        reg = read_registry(root)
        reg["models"][name] = entry
        _write_registry(reg, root)       # the commit point
        _sweep(root, reg)
    return entry


def load(name: str, root: str | os.PathLike | None = None):
    """The zoo model ``name`` as a :class:`~emozoo.zoo.predictor.Predictor` (feature models) or
    :class:`~emozoo.zoo.predictor.FacePredictor` (face models), after verifying checksums."""
    from emozoo.zoo.predictor import make_predictor

    root = zoo_dir(root)
    reg = read_registry(root)
    if name not in reg["models"]:
        raise ModelNotFoundError(f"no zoo model {name!r}; available: {sorted(reg['models']) or 'none'} "
                                 f"(registry {root / REGISTRY})")
    entry = reg["models"][name]
    folder = verify(entry, root)
    return make_predictor(folder, entry)
