"""The shared loading helper of the flagship model tests (tests/models/_flagship.py)."""
from __future__ import annotations

import pytest

from tests.models._flagship import load_or_skip, weights_or_skip


def test_missing_weights_skip_with_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOZOO_WEIGHTS_DIR", str(tmp_path / "empty"))
    with pytest.raises(pytest.skip.Exception, match=r"mpnet weights not installed .*install mpnet"):
        weights_or_skip("mpnet")
    with pytest.raises(pytest.skip.Exception, match="whisper_base weights not installed"):
        load_or_skip("emotion_speech", "whisper_base")     # skipped before anything is loaded


def test_installed_weights_do_not_skip(tmp_path, monkeypatch):
    from emozoo import weights

    try:
        folder = weights.path("mpnet")
    except Exception:
        pytest.skip("mpnet weights not installed; CI installs them")
    monkeypatch.setenv("EMOZOO_WEIGHTS_DIR", str(folder.parent))
    weights_or_skip("mpnet")                                # returns, no skip


def test_files_or_skip(tmp_path):
    from tests.models._flagship import files_or_skip

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.wav").write_bytes(b"")
    assert files_or_skip(tmp_path, {"a/x.wav": "angry"}) == [str(tmp_path / "a" / "x.wav")]
    with pytest.raises(pytest.skip.Exception, match="y.wav not present"):
        files_or_skip(tmp_path, ["a/x.wav", "a/y.wav"])
