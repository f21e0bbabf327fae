"""pipelines/dann_iemocap_table.py: the header prints the counted test turns (f-string), and the
--parallel merge takes that count from the workers' parts instead of a hard-coded number."""
import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def _module():
    spec = importlib.util.spec_from_file_location("dann_iemocap_table", REPO / "pipelines/dann_iemocap_table.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


META = {"command": "python pipelines/dann_iemocap_table.py", "epochs": 3, "learning_rate": 1e-3, "batch_size": 8,
        "seconds": 1.0, "cpus": 2}


def test_header_prints_the_counted_test_turns():
    text = _module().markdown({}, {**META, "test_labelled": 1000})
    assert "the 1000 labelled turns" in text and "{meta" not in text


def test_parallel_merge_takes_the_test_count_from_the_parts(tmp_path):
    mod = _module()
    config = {"epochs": 3, "learning_rate": 1e-3, "batch_size": 8}
    for ts in ("TS_123", "TS_23"):
        (tmp_path / f"part_{ts.lower()}.json").write_text(json.dumps(
            {"runs": {}, "config": config, "meta": {**META, "test_labelled": 1000}}))
    out, table = tmp_path / "merged.json", tmp_path / "table.md"
    argv = ["--settings", "TS_123", "TS_23", "--runs-dir", str(tmp_path), "--out", str(out), "--table", str(table),
            "--merge-only"]
    mod.main(argv)
    assert json.loads(out.read_text())["meta"]["test_labelled"] == 1000
    assert "the 1000 labelled turns" in table.read_text()
    (tmp_path / "part_ts_23.json").write_text(json.dumps({"runs": {}, "config": config,
                                                       "meta": {**META, "test_labelled": 999}}))
    with pytest.raises(SystemExit, match="test sizes"):
        mod.main(argv)
