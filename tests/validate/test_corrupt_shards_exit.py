"""Issue 16 section 3: ``python -m emozoo.validate`` on a store whose shards do not decode exits
non-zero (3) without any flag; distribution/schema anomalies stay report-only by default."""
import subprocess
import sys

import numpy as np
import pytest

from emozoo.data.tfrecord import shard_paths
from emozoo.validate.__main__ import main
from tests.validate import stores


def _break(path, how):
    data = open(path, "rb").read()
    if how == "truncated":
        data = data[: len(data) // 2 + 40]
    elif how == "partial_header":
        data = data[: len(data) // 2 + 7]
    elif how == "boundary":
        data = data[: len(data) // 2]
    elif how == "random":
        data = np.random.default_rng(1).integers(0, 256, len(data), dtype=np.uint8).tobytes()
    elif how == "flipped":
        data = bytearray(data)
        data[len(data) // 2] ^= 0xFF
        data = bytes(data)
    open(path, "wb").write(data)


@pytest.mark.parametrize("how", ["truncated", "partial_header", "boundary", "random", "flipped"])
def test_undecodable_shard_exits_3_without_flags(tmp_path, capsys, how):
    store = stores.write(tmp_path / how)
    [path] = shard_paths(store)
    _break(path, how)
    assert main([str(store), "--no-plot", "--out", str(tmp_path / "out")]) == 3
    err = capsys.readouterr().err
    [line] = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert "corrupt shard" in line and "python -m emozoo.data write" in line
    if how in ("partial_header", "truncated", "random"):
        assert path.rsplit("/", 1)[-1] in line


def test_distribution_anomalies_alone_stay_report_only(tmp_path, capsys):
    store = tmp_path / "nan"
    stores.plant("nan", store)
    assert main([str(store), "--no-plot", "--out", str(tmp_path / "out")]) == 0
    assert main([str(store), "--no-plot", "--out", str(tmp_path / "out"), "--fail-on-anomalies"]) == 1
    clean = stores.write(tmp_path / "clean")
    assert main([str(clean), "--no-plot", "--out", str(tmp_path / "out2")]) == 0


def test_help_says_which_failures_are_report_only():
    out = subprocess.run([sys.executable, "-m", "emozoo.validate", "--help"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0
    text = " ".join(out.stdout.split())
    assert "report-only by default" in text and "3 a shard does not decode" in text
