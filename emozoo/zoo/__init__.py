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

Containment: the zoo never reads, writes or deletes outside the folder it was given. Every
entry's ``path`` must be exactly ``<its registry name>/<version>`` and resolve inside the zoo,
every ``files`` key must be a plain relative path, and symbolic links inside a model folder (or
in place of one, or of the staging folder) are refused on load and on publish
(:class:`~emozoo.errors.RegistryError`, one line naming the entry). A malformed registry is
refused before anything is built or swept.

Versions are a function of content (:func:`content_version`): sha256 over the sorted file list
and the sha256 of every file except the volatile ones (:data:`VOLATILE`: ``fingerprint.pb``,
which TensorFlow rewrites with fresh random bytes on every save). Publishing identical content
again keeps the existing version folder ("identical content already published"). Entries
published before this rule keep their version ids (their folders are not renamed).
``saved_model.pb`` stays in the hash: an export in a fresh process reproduces it byte for byte,
but a second export of the same model within one process renames its traced functions
(``__inference_..._<counter>``), so that case publishes a new version.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import shutil
import time
from pathlib import Path
from typing import Callable

from emozoo.errors import ExportError, IntegrityError, ModelNotFoundError, RegistryError

REGISTRY = "registry.json"
ZOO_ENV = "EMOZOO_ZOO_DIR"
STAGING = ".staging"
#: Files whose bytes change on every save of the same model; left out of :func:`content_version`.
VOLATILE = frozenset({"fingerprint.pb"})
#: Keys every registry entry must have.
REQUIRED_KEYS = ("path", "files")

_SAFE = re.compile(r"[A-Za-z0-9_.-]+")
_SHA256 = re.compile(r"[0-9a-f]{64}")
log = logging.getLogger(__name__)


def zoo_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The zoo folder: ``explicit``, ``$EMOZOO_ZOO_DIR``, or the repository's ``saved_models/``."""
    if explicit is not None:
        return Path(explicit)
    if os.environ.get(ZOO_ENV):
        return Path(os.environ[ZOO_ENV])
    return Path(__file__).resolve().parents[2] / "saved_models"


def _safe_part(part: str) -> bool:
    return bool(_SAFE.fullmatch(part)) and part not in (".", "..")


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path`` (symlinks resolved) is ``root`` or below it."""
    try:
        Path(os.path.realpath(path)).relative_to(os.path.realpath(root))
        return True
    except ValueError:
        return False


def _refuse_links(folder: Path, what: str, error=RegistryError) -> None:
    """Refuse ``folder`` if it, or anything below it, is a symbolic link."""
    if folder.is_symlink():
        raise error(f"{what}: {folder} is a symbolic link; zoo model folders may not contain links")
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        for n in dirnames + filenames:
            p = Path(dirpath) / n
            if p.is_symlink():
                raise error(f"{what}: {p.relative_to(folder).as_posix()} in {folder} is a symbolic link "
                            f"(to {os.readlink(p)}); zoo model folders may not contain links: refusing it")


def _files(folder: Path) -> list:
    """Relative posix paths of the regular files under ``folder`` (links are not followed)."""
    out = []
    for dirpath, _, filenames in os.walk(folder, followlinks=False):
        out += [(Path(dirpath) / n).relative_to(folder).as_posix() for n in filenames]
    return sorted(out)


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def checksums(folder: str | os.PathLike) -> dict:
    """``relative posix path -> sha256`` for every regular file under ``folder``; refuses symbolic links."""
    folder = Path(folder)
    _refuse_links(folder, f"folder {folder}")
    return {rel: sha256_file(folder / rel) for rel in _files(folder)}


def content_version(files: dict) -> str:
    """The version id of a model folder from its ``files`` checksums: the first 12 hex digits of
    sha256 over the sorted file list and the sha256 of every non-volatile file (:data:`VOLATILE`).

    Example:
        >>> a = content_version({"a.txt": "0" * 64, "fingerprint.pb": "1" * 64})
        >>> a == content_version({"a.txt": "0" * 64, "fingerprint.pb": "2" * 64})
        True
    """
    h = hashlib.sha256()
    for rel in sorted(files):
        digest = "" if rel.rsplit("/", 1)[-1] in VOLATILE else files[rel]
        h.update(f"{rel}\0{digest}\n".encode())
    return h.hexdigest()[:12]


def _registry_file(root: Path) -> Path:
    path = root / REGISTRY
    if path.is_symlink():
        raise RegistryError(f"{path} is a symbolic link (to {os.readlink(path)}); the registry must be a file "
                            "inside the zoo folder")
    return path


def read_registry(root: str | os.PathLike | None = None) -> dict:
    """``registry.json`` of the zoo as ``{"format": 1, "models": {name: entry}}`` (empty when absent).

    Raises :class:`~emozoo.errors.RegistryError` when it is not JSON, has no ``models`` mapping, or
    an entry is not a mapping; entries are checked one by one by :func:`entry_folder`.
    """
    path = _registry_file(zoo_dir(root))
    if not path.exists():
        return {"format": 1, "models": {}}
    try:
        reg = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RegistryError(f"{path} is not valid JSON ({exc}); restore it from git") from exc
    if not isinstance(reg, dict) or not isinstance(reg.get("models"), dict):
        raise RegistryError(f"{path} has no 'models' mapping; restore it from git")
    for name, entry in reg["models"].items():
        if not isinstance(entry, dict):
            raise RegistryError(f"zoo entry {name!r} in {path} is a {type(entry).__name__}, not a mapping; "
                                "restore registry.json from git")
    return reg


def entry_folder(name: str, entry: dict, root: str | os.PathLike) -> Path:
    """The model folder of registry entry ``name``, after checking that the entry is complete and
    stays inside the zoo.

    ``path`` must be ``<name>/<version>`` (letters, digits, ``_ - .``), neither the folder nor
    ``<name>/`` may be a symbolic link, and every ``files`` key must be a relative path without
    ``..`` whose value is a sha256. Raises :class:`~emozoo.errors.RegistryError` naming the entry.
    """
    root = Path(root)
    where = f"zoo entry {name!r} ({root / REGISTRY})"
    if not isinstance(name, str) or not _safe_part(name):
        raise RegistryError(f"{where}: the name must use letters, digits, '_', '-', '.' only; refusing it")
    if not isinstance(entry, dict):
        raise RegistryError(f"{where} is not a mapping; restore registry.json from git")
    missing = [k for k in REQUIRED_KEYS if k not in entry]
    if missing:
        raise RegistryError(f"{where} lacks required key(s) {missing}; re-publish it or restore registry.json from git")
    if entry.get("name", name) != name:
        raise RegistryError(f"{where} carries name {entry.get('name')!r}; restore registry.json from git")
    path = entry["path"]
    parts = path.split("/") if isinstance(path, str) else []
    if len(parts) != 2 or parts[0] != name or not _safe_part(parts[1]):
        raise RegistryError(f"{where}: path {path!r} is not '{name}/<version>' inside the zoo; refusing it")
    files = entry["files"]
    if not isinstance(files, dict) or not files:
        raise RegistryError(f"{where}: 'files' must map relative paths to sha256 checksums; it lists none")
    for rel, digest in files.items():
        if (not isinstance(rel, str) or not all(_safe_part(p) for p in rel.split("/"))
                or not isinstance(digest, str) or not _SHA256.fullmatch(digest)):
            raise RegistryError(f"{where}: file {rel!r} -> {str(digest)[:20]!r} is not a relative path inside "
                                "the model folder with a sha256; refusing it")
    for p in (root / parts[0], root / path):
        if p.is_symlink():
            raise RegistryError(f"{where}: {p} is a symbolic link (to {os.readlink(p)}); refusing it")
    folder = root / path
    if not _inside(folder, root):
        raise RegistryError(f"{where}: {folder} resolves outside the zoo {root}; refusing it")
    return folder


@contextlib.contextmanager
def _registry_lock(root: Path):
    """An exclusive advisory lock on ``root/.registry.lock`` (POSIX ``flock``; a no-op elsewhere)."""
    try:
        import fcntl
    except ImportError:                  # pragma: no cover - Windows
        yield
        return
    try:                                 # O_NOFOLLOW: a planted link cannot make us create a file elsewhere
        fd = os.open(root / ".registry.lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except OSError as exc:
        raise RegistryError(f"cannot open the zoo lock {root / '.registry.lock'} ({exc}); it must be a plain "
                            "file inside the zoo") from exc
    with os.fdopen(fd, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _write_registry(reg: dict, root: Path) -> None:
    _registry_file(root)
    tmp = root / (REGISTRY + f".tmp{os.getpid()}")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()                     # a leftover (or planted link) is removed, never written through
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(json.dumps(reg, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, root / REGISTRY)


def list_models(root: str | os.PathLike | None = None) -> list[dict]:
    """Summaries of the registered models: name, method, description, corpora, label set, metrics."""
    reg = read_registry(root)
    keys = ("name", "method", "description", "training_corpora", "protocol", "label_set", "licence", "metrics")
    return [{k: e.get(k) for k in keys} for e in reg["models"].values()]


def verify(entry: dict, root: str | os.PathLike, name: str | None = None) -> Path:
    """Check every file of ``entry`` against its sha256; refuse missing, changed or extra files,
    symbolic links and paths outside the zoo (:func:`entry_folder`). Returns the model folder."""
    root = Path(root)
    if name is None:
        path = entry.get("path") if isinstance(entry, dict) else None
        name = entry.get("name") or (path.split("/")[0] if isinstance(path, str) else "?")
    folder = entry_folder(name, entry, root)
    if not folder.is_dir():
        raise IntegrityError(f"model {name!r}: folder {folder} is missing; re-publish it or restore it from git")
    _refuse_links(folder, f"zoo entry {name!r}")
    want = entry["files"]
    have = set(_files(folder))
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


def _remove(path: Path, root: Path) -> None:
    """Delete ``path`` (a folder inside ``root``, not a link); anything else is left alone."""
    if path.is_symlink() or not path.is_dir() or not _inside(path, root) or Path(os.path.realpath(path)) == Path(
            os.path.realpath(root)):
        return
    shutil.rmtree(path, ignore_errors=True)


def _sweep(root: Path, reg: dict) -> None:
    """Remove staging folders and version folders no registry entry points at (only inside ``root``)."""
    staging = root / STAGING
    if staging.is_dir() and not staging.is_symlink():
        for p in staging.iterdir():
            if p.is_symlink():
                p.unlink()              # the link itself, never its target
            else:
                _remove(p, root)
        try:
            staging.rmdir()
        except OSError:
            pass
    live = {e["path"] for e in reg["models"].values()}
    for name in reg["models"]:
        parent = root / name
        if not _safe_part(name) or parent.is_symlink() or not parent.is_dir() or not _inside(parent, root):
            continue
        for v in parent.iterdir():
            if not v.is_symlink() and v.is_dir() and f"{name}/{v.name}" not in live:
                _remove(v, root)


def _check_all(reg: dict, root: Path) -> None:
    for n, e in reg["models"].items():
        entry_folder(n, e, root)


def publish(name: str, build: Callable[[Path], None], card: dict, root: str | os.PathLike | None = None) -> dict:
    """Atomically add or replace zoo model ``name``.

    The registry is checked first (every entry inside the zoo, see :func:`entry_folder`); nothing
    is built, renamed or swept outside ``root``. The version is :func:`content_version` of the
    built files: identical content already published keeps its folder.

    Args:
        name: registry name (also the folder name): letters, digits, ``_``, ``-``, ``.``.
        build: ``build(folder)`` writes the model into the (non-existent) ``folder``.
        card: the model card (method, description, corpora, protocol, metrics, licence ...).
        root: the zoo folder (default :func:`zoo_dir`).
    Returns the registry entry.

    Example:
        >>> publish("tiny", lambda d: export_feature_classifier(model, d, classes=labels, feature="is10",
        ...         input_dim=1582), {"method": "baseline", "licence": "..."}, "saved_models")  # doctest: +SKIP
    """
    if not isinstance(name, str) or not _safe_part(name):
        raise ExportError(f"zoo model name {name!r} must use letters, digits, '_', '-', '.' only")
    root = zoo_dir(root)
    root.mkdir(parents=True, exist_ok=True)
    root = Path(os.path.realpath(root))
    _check_all(read_registry(root), root)  # a malformed or escaping registry: refuse before touching anything
    for p in (root / STAGING, root / name):
        if p.is_symlink():
            raise RegistryError(f"{p} is a symbolic link (to {os.readlink(p)}); the zoo does not follow links: "
                                "remove it")
    staging = root / STAGING / f"{name}-{os.getpid()}-{int(time.time() * 1000)}"
    staging.parent.mkdir(parents=True, exist_ok=True)
    try:
        build(staging)
        if staging.is_symlink() or not staging.is_dir() or not any(staging.iterdir()):
            raise ExportError(f"the build of {name!r} wrote nothing into {staging}")
        _refuse_links(staging, f"the build of {name!r}", ExportError)
        files = checksums(staging)
        version = content_version(files)
        final = root / name / version
        if final.is_symlink():
            raise RegistryError(f"{final} is a symbolic link; the zoo does not follow links: remove it")
        existing = None
        if final.is_dir():
            try:
                existing = checksums(final)
            except IntegrityError:
                existing = None
            if existing is not None and content_version(existing) != version:
                existing = None
        if existing is not None:
            shutil.rmtree(staging)
            files = existing
            log.warning("zoo model %r: identical content already published as %s/%s; kept that folder",
                        name, name, version)
        else:
            if final.exists():
                _remove(final, root)        # a stray, incomplete folder of this version inside the zoo
            final.parent.mkdir(parents=True, exist_ok=True)
            os.rename(staging, final)
    except BaseException:
        if staging.is_symlink():
            staging.unlink()
        else:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    entry = {**card, "name": name, "path": f"{name}/{version}", "files": files,
             "published": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    with _registry_lock(root):           # concurrent publishers: no lost update of the registry
        reg = read_registry(root)
        _check_all(reg, root)
        reg["models"][name] = entry
        _write_registry(reg, root)       # the commit point
        _sweep(root, reg)
    return entry


def load(name: str, root: str | os.PathLike | None = None):
    """The zoo model ``name`` as a :class:`~emozoo.zoo.predictor.Predictor` (feature models) or
    :class:`~emozoo.zoo.predictor.FacePredictor` (face models), after checking that its entry stays
    inside the zoo and verifying its checksums.

    Example:
        >>> model = load("baseline_emodb_is10")  # doctest: +SKIP
        >>> model.predict("speech.wav")          # doctest: +SKIP
    """
    from emozoo.zoo.predictor import make_predictor

    root = zoo_dir(root)
    reg = read_registry(root)
    if name not in reg["models"]:
        raise ModelNotFoundError(f"no zoo model {name!r}; available: {sorted(reg['models']) or 'none'} "
                                 f"(registry {root / REGISTRY})")
    entry = reg["models"][name]
    folder = verify(entry, root, name)
    return make_predictor(folder, entry)
