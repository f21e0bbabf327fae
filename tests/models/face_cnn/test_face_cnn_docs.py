"""docs/methods/face_cnn.md names the exact commands (and run folders) the committed numbers come
from, as recorded in benchmarks/results/face_cnn_results.json (issue 17)."""
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_docs_name_every_recorded_run_command_and_folder():
    results = json.loads((REPO / "benchmarks/results/face_cnn_results.json").read_text())
    doc = (REPO / "docs/methods/face_cnn.md").read_text()
    recorded = [c for c in results["run_config"].values() if isinstance(c, dict) and "env" in c]
    assert recorded
    for cfg in recorded:
        cmd = cfg["env"]["command"]
        assert cmd in doc, cmd
        assert cfg["args"]["out"] in doc
