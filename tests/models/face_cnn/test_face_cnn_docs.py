"""docs/methods/face_cnn.md names the exact commands (and run folders) the committed numbers come
from, as recorded in benchmarks/results/face_cnn_results.json (issue 17): the trainer's runs
(``run_config[experiment]``: command and run folder, written by pipelines/face_cnn_table.py) or,
for results made before the face CNN moved onto the trainer, the pipeline's recorded command and
``--out`` folder."""
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_docs_name_every_recorded_run_command_and_folder():
    results = json.loads((REPO / "benchmarks/results/face_cnn_results.json").read_text())
    doc = (REPO / "docs/methods/face_cnn.md").read_text()
    recorded = [c for c in results["run_config"].values() if isinstance(c, dict) and ("env" in c or "command" in c)]
    assert recorded
    for cfg in recorded:
        if "env" in cfg:              # pipelines/face_cnn_train.py before issue 19
            cmd, folder = cfg["env"]["command"], cfg["args"]["out"]
        else:                         # a trainer run
            cmd, folder = cfg["command"], cfg["run_dir"]
        assert cmd in doc, cmd
        assert folder in doc, folder
