"""Issue 16 section 1: the zoo never reads, writes or deletes outside its folder; malformed
registries give one-line errors; the version is a function of content.

Every test builds its zoo inside ``tmp_path/work/zoo`` (a copy of the committed baseline model or
a small generated one) beside decoy files (``work/.git``, ``work/outside``) and asserts that the
tree outside the zoo is unchanged afterwards (paths, sizes, mtimes).
"""
import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from emozoo.errors import EmozooError, ExportError, IntegrityError, RegistryError
from emozoo.zoo import (content_version, entry_folder, load, publish, read_registry, verify,
                        zoo_dir)

BASELINE = "baseline_emodb_is10"
CARD = {"method": "test", "description": "generated files", "licence": "test"}


def _snapshot(parent, skip):
    """(relative path, kind, size, mtime_ns) of everything under ``parent`` except ``skip``."""
    out = []
    for dirpath, dirnames, filenames in os.walk(parent, followlinks=False):
        if os.path.realpath(dirpath).startswith(os.path.realpath(skip)):
            continue
        for n in sorted(dirnames + filenames):
            p = os.path.join(dirpath, n)
            if os.path.abspath(p) == os.path.abspath(skip):
                continue
            st = os.lstat(p)
            out.append((os.path.relpath(p, parent), os.path.islink(p), st.st_size, st.st_mtime_ns))
    return sorted(out)


@pytest.fixture()
def work(tmp_path):
    """``work/`` holding decoys (.git, outside/, a file) and an empty zoo folder ``work/zoo``."""
    w = tmp_path / "work"
    (w / ".git" / "objects").mkdir(parents=True)
    (w / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (w / "outside" / "v1").mkdir(parents=True)
    (w / "outside" / "v1" / "secret.txt").write_text("not the zoo's\n")
    (w / "notes.txt").write_text("keep me\n")
    (w / "zoo").mkdir()
    return w


def _write_files(d, fingerprint=b"\x01"):
    os.makedirs(os.path.join(d, "assets"))
    with open(os.path.join(d, "assets", "labels.json"), "w") as f:
        f.write('["neutral", "angry"]')
    with open(os.path.join(d, "weights.bin"), "wb") as f:
        f.write(bytes(range(256)))
    with open(os.path.join(d, "fingerprint.pb"), "wb") as f:
        f.write(fingerprint)


def _registry(root):
    return json.loads((root / "registry.json").read_text())


def _set_registry(root, reg):
    (root / "registry.json").write_text(json.dumps(reg))


@pytest.fixture()
def baseline_zoo(work):
    """``work/zoo``: a copy of the committed baseline model and its registry entry."""
    root = work / "zoo"
    entry = read_registry()["models"][BASELINE]
    shutil.copytree(zoo_dir() / entry["path"], root / entry["path"])
    _set_registry(root, {"format": 1, "models": {BASELINE: entry}})
    return root


def _one_line(exc):
    assert "\n" not in str(exc.value), str(exc.value)
    return str(exc.value)


def test_publish_with_entry_escaping_the_zoo_deletes_nothing(work):
    root = work / "zoo"
    publish("good", _write_files, CARD, root)
    reg = _registry(root)
    reg["models"]["evil"] = {"name": "evil", "path": "../../etc", "files": {"x": "0" * 64}}
    _set_registry(root, reg)
    before = _snapshot(work, root)
    with pytest.raises(RegistryError) as exc:
        publish("good", lambda d: _write_files(d, b"\x02"), CARD, root)
    assert "'evil'" in _one_line(exc) and "../../etc" in str(exc.value)
    assert _snapshot(work, root) == before and (work / ".git" / "HEAD").exists()


def test_entry_named_dotdot_is_refused(baseline_zoo, work):
    reg = _registry(baseline_zoo)
    entry = reg["models"][BASELINE]
    shutil.copytree(baseline_zoo / entry["path"], work / "v1")
    reg["models"][".."] = {**entry, "name": "..", "path": "../v1"}
    _set_registry(baseline_zoo, reg)
    with pytest.raises(RegistryError, match="name must use"):
        load("..", baseline_zoo)
    before = _snapshot(work, baseline_zoo)
    with pytest.raises(RegistryError, match="'..'"):
        publish("m", _write_files, CARD, baseline_zoo)
    assert _snapshot(work, baseline_zoo) == before


def test_registry_write_does_not_follow_a_planted_temp_link(work):
    root = work / "zoo"
    (root / f"registry.json.tmp{os.getpid()}").symlink_to(work / "notes.txt")
    before = _snapshot(work, root)
    publish("m", _write_files, CARD, root)
    assert _snapshot(work, root) == before and (work / "notes.txt").read_text() == "keep me\n"
    assert not (root / "registry.json").is_symlink() and "m" in read_registry(root)["models"]


@pytest.mark.parametrize("path", ["../outside/v1", "evil/../../outside/v1", "/etc", "evil/..", "other/v1", "evil"])
def test_load_refuses_paths_that_do_not_name_a_folder_inside_the_zoo(baseline_zoo, work, path):
    reg = _registry(baseline_zoo)
    entry = reg["models"][BASELINE]
    if path == "../outside/v1":                 # the case: a real model moved outside
        shutil.copytree(baseline_zoo / entry["path"], work / "outside" / "model")
        path = "../outside/model"
    reg["models"]["evil"] = {**entry, "name": "evil", "path": path}
    _set_registry(baseline_zoo, reg)
    before = _snapshot(work, baseline_zoo)
    with pytest.raises(RegistryError) as exc:
        load("evil", baseline_zoo)
    assert "'evil'" in _one_line(exc)
    assert _snapshot(work, baseline_zoo) == before


def test_load_refuses_a_symlink_to_a_file_outside(baseline_zoo, work):
    entry = _registry(baseline_zoo)["models"][BASELINE]
    labels = baseline_zoo / entry["path"] / "assets" / "labels.json"
    outside = work / "outside" / "labels.json"
    shutil.copy(labels, outside)                # same bytes: the checksum alone would accept it
    labels.unlink()
    labels.symlink_to(outside)
    with pytest.raises(RegistryError, match="symbolic link") as exc:
        load(BASELINE, baseline_zoo)
    assert BASELINE in _one_line(exc)


def test_load_refuses_a_symlinked_model_folder(baseline_zoo, work):
    entry = _registry(baseline_zoo)["models"][BASELINE]
    folder = baseline_zoo / entry["path"]
    shutil.move(str(folder), work / "outside" / "moved")
    folder.symlink_to(work / "outside" / "moved", target_is_directory=True)
    with pytest.raises(RegistryError, match="symbolic link") as exc:
        load(BASELINE, baseline_zoo)
    _one_line(exc)


def test_verify_refuses_file_keys_outside_the_model_folder(baseline_zoo):
    entry = _registry(baseline_zoo)["models"][BASELINE]
    bad = {**entry, "files": {**entry["files"], "../../../outside/v1/secret.txt": "0" * 64}}
    with pytest.raises(RegistryError, match="secret.txt"):
        verify(bad, baseline_zoo)


def test_publish_refuses_links_planted_in_the_zoo(work):
    root = work / "zoo"
    (root / "m").symlink_to(work / "outside", target_is_directory=True)
    before = _snapshot(work, root)
    with pytest.raises(RegistryError, match="symbolic link"):
        publish("m", _write_files, CARD, root)
    (root / "m").unlink()
    (root / ".staging").symlink_to(work / "outside", target_is_directory=True)
    with pytest.raises(RegistryError, match="symbolic link"):
        publish("m", _write_files, CARD, root)
    (root / ".staging").unlink()

    def with_link(d):
        _write_files(d)
        os.symlink(work / "outside" / "v1" / "secret.txt", os.path.join(d, "assets", "extra.txt"))

    with pytest.raises(ExportError, match="symbolic link"):
        publish("m", with_link, CARD, root)
    assert _snapshot(work, root) == before
    assert not (root / "registry.json").exists()


def test_sweep_leaves_links_and_outside_folders_alone(work):
    root = work / "zoo"
    publish("m", _write_files, CARD, root)
    (root / "m" / "stale").symlink_to(work / "outside", target_is_directory=True)
    (root / ".staging").mkdir()
    (root / ".staging" / "old").symlink_to(work / ".git", target_is_directory=True)
    before = _snapshot(work, root)
    entry = publish("m", lambda d: _write_files(d, b"\x02") or open(os.path.join(d, "w2"), "w").close(), CARD, root)
    assert _snapshot(work, root) == before
    assert (root / "m" / "stale").is_symlink() and not (root / ".staging").exists()
    assert verify(entry, root) == root / entry["path"]


@pytest.mark.parametrize("missing", ["path", "files"])
def test_entry_without_a_required_key_is_a_clear_error(baseline_zoo, work, missing):
    reg = _registry(baseline_zoo)
    del reg["models"][BASELINE][missing]
    _set_registry(baseline_zoo, reg)
    with pytest.raises(RegistryError, match=f"{BASELINE}.*lacks required key.*{missing}") as exc:
        load(BASELINE, baseline_zoo)
    _one_line(exc)
    before = _snapshot(work, baseline_zoo)
    with pytest.raises(RegistryError, match=BASELINE):
        publish("other", _write_files, CARD, baseline_zoo)
    assert _snapshot(work, baseline_zoo) == before


@pytest.mark.parametrize("text", ["{", "\x00\xff garbage", "[1, 2]", '{"models": {"m": "path"}}'])
def test_registry_that_is_not_a_json_mapping_is_a_clear_error(work, text):
    root = work / "zoo"
    (root / "registry.json").write_text(text, encoding="latin-1")
    before = _snapshot(work, root)
    for call in (lambda: load("m", root), lambda: publish("m", _write_files, CARD, root)):
        with pytest.raises(RegistryError) as exc:
            call()
        assert "registry.json" in _one_line(exc)
    assert _snapshot(work, root) == before and (root / "registry.json").read_text(encoding="latin-1") == text


def test_identical_content_is_already_published(work, caplog):
    """A second export of the same weights differs only in TensorFlow's random fingerprint.pb."""
    root = work / "zoo"
    first = publish("m", lambda d: _write_files(d, b"first save"), CARD, root)
    with caplog.at_level(logging.WARNING, logger="emozoo.zoo"):
        second = publish("m", lambda d: _write_files(d, b"second save"), CARD, root)
    assert second["path"] == first["path"] and second["files"] == first["files"]
    assert "identical content already published" in caplog.text
    assert sorted(p.name for p in (root / "m").iterdir()) == [first["path"].split("/")[1]]
    assert verify(read_registry(root)["models"]["m"], root)
    third = publish("m", lambda d: _write_files(d, b"x") or open(os.path.join(d, "more"), "w").close(), CARD, root)
    assert third["path"] != first["path"] and not (root / first["path"]).exists()


def test_content_version_ignores_only_volatile_files():
    files = {"saved_model.pb": "a" * 64, "fingerprint.pb": "b" * 64}
    assert content_version(files) == content_version({**files, "fingerprint.pb": "c" * 64})
    assert content_version(files) != content_version({**files, "saved_model.pb": "d" * 64})
    assert content_version(files) != content_version({"saved_model.pb": "a" * 64})


def test_committed_zoo_entries_stay_valid():
    reg = read_registry()
    for name, entry in reg["models"].items():
        assert entry_folder(name, entry, zoo_dir()).is_dir()


def test_errors_are_emozoo_errors():
    assert issubclass(RegistryError, IntegrityError) and issubclass(RegistryError, EmozooError)


@pytest.mark.large
def test_real_savedmodel_republished_in_a_fresh_process_is_identical(tmp_path):
    """Two ``python`` processes export the same weights; the second publish keeps the first folder."""
    code = textwrap.dedent("""
        import sys, numpy as np, keras
        from emozoo.export import export_feature_classifier
        from emozoo.models.baseline import BaselineClassifier
        from emozoo.zoo import publish
        keras.utils.set_random_seed(0)
        m = BaselineClassifier(num_classes=2, input_dim=3, generator_units=(4,), classifier_units=(3,), dropout=0.0)
        m.fit_normalization(np.arange(12.0).reshape(4, 3))
        e = publish("m", lambda d: export_feature_classifier(m, d, classes=["a", "b"], feature="is10", input_dim=3),
                    {"licence": "test"}, sys.argv[1])
        print(e["path"])
    """)
    paths = []
    for _ in range(2):
        out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                             timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        assert out.returncode == 0, out.stderr[-2000:]
        paths.append(out.stdout.split()[-1])
    assert paths[0] == paths[1]
    assert "identical content already published" in out.stderr
