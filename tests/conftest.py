"""Shared pytest fixtures and the ``data`` marker for tests on the real corpora."""
import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "data: reads the real corpora under EMOZOO_DATA_DIR (skipped when it is unset)")
    config.addinivalue_line("markers", "large: slow test, run on request")


def _data_dir():
    raw = os.environ.get("EMOZOO_DATA_DIR")
    return Path(raw).resolve() if raw else None


@pytest.fixture(scope="session")
def data_dir():
    """The real data directory; skips the test with a reason when it is not set/present."""
    d = _data_dir()
    if d is None:
        pytest.skip("EMOZOO_DATA_DIR is not set: real-data test skipped (CI sets it)")
    if not d.is_dir():
        pytest.skip(f"EMOZOO_DATA_DIR={d} does not exist")
    return d


def corpus_dir(data_dir: Path, folder: str) -> Path:
    p = data_dir / folder
    if not p.exists():
        pytest.skip(f"{p} not present in EMOZOO_DATA_DIR")
    return p
