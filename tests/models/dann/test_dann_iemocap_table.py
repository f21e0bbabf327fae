"""Table 2 in the paper's shape from the one trainer's run folders (the layout of the group
``dann/table2/text``, written by pipelines/dann_iemocap_table.py and printed by ``python -m emozoo.report``):
the header prints the counted test turns, a missing run is "n/a", runs that count different test turns
are refused."""
import importlib.util
import json
from pathlib import Path

import pytest

from emozoo.evaluation.metrics import classification_report

REPO = Path(__file__).resolve().parents[3]
CLASSES = ("neutral", "happy", "angry", "sad")


def _module():
    spec = importlib.util.spec_from_file_location("dann_iemocap_table", REPO / "pipelines/dann_iemocap_table.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


META = {"command": "python pipelines/dann_iemocap_table.py", "epochs": 3, "learning_rate": 1e-3, "batch_size": 8,
        "seconds": 1.0, "cpus": 2}


def test_without_runs_every_cell_is_missing_and_the_command_is_named(tmp_path):
    from emozoo.models.dann.dann_tables import iemocap_table2

    text = iemocap_table2("dann/table2/text", tmp_path)["markdown"]
    assert "No finished runs" in text and "python -m emozoo.train --experiment dann/table2/text --by-seed" in text
    assert text.count("n/a") == 20 and "{meta" not in text


def _fake_run(folder: Path, name: str, accs, test_labelled=8):
    """A finished trainer run folder (summary.json, seed_<s>/test.json and result.json) of ``name``."""
    from emozoo.evaluation.metrics import summarise_runs
    reports = []
    for s, acc in enumerate(accs):
        y = [0, 1, 2, 3] * (test_labelled // 4)
        pred = [t if i < round(acc * len(y)) else (t + 1) % 4 for i, t in enumerate(y)]
        rep = classification_report(y, pred, CLASSES)
        reports.append(rep)
        (folder / f"seed_{s}" / "iemocap_x").mkdir(parents=True)
        (folder / f"seed_{s}" / "test.json").write_text(json.dumps(rep))
        (folder / f"seed_{s}" / "iemocap_x" / "result.json").write_text(json.dumps(
            {"fold": "iemocap/x", "test": rep, "sizes": {"test_labelled": test_labelled}, "seconds": 2.0,
             "final": {"domain_accuracy": 0.3}}))
    (folder / "summary.json").write_text(json.dumps({"experiment": name, "seeds": list(range(len(accs))),
                                                     "folds": ["iemocap/x"], "test": summarise_runs(reports)}))


def test_merge_reads_the_trainer_runs(tmp_path):
    mod = _module()
    _fake_run(tmp_path / "dann_iemocap_text_ts_123_ci", "dann/iemocap/text/ts_123/ci", [0.5, 0.75])
    _fake_run(tmp_path / "dann_iemocap_text_ts_123_dann", "dann/iemocap/text/ts_123/dann", [1.0, 0.75])
    out, table = tmp_path / "merged.json", tmp_path / "table.md"
    argv = ["--runs-dir", str(tmp_path), "--out", str(out), "--table", str(table), "--merge-only"]
    mod.main(argv)
    res = json.loads(out.read_text())
    assert res["meta"]["test_labelled"] == 8 and res["meta"]["seeds"] == 2
    assert res["summary"]["dann/iemocap/text/ts_123/dann"]["accuracy"]["mean"] == pytest.approx(0.875)
    assert res["runs"]["dann/iemocap/text/ts_123/ci"]["1"]["report"]["accuracy"] == pytest.approx(0.75)
    text = table.read_text()
    assert "the 8 labelled turns" in text and "| TS_123 | 80.82 | 62.50 ± 17.68 (n=2) |" in text
    assert "| TS_1234 | 81.06 | n/a |" in text
    from emozoo.errors import ExperimentError
    from emozoo.report import report
    shown = report("dann/table2/text", runs_root=tmp_path, out_dir=tmp_path / "rep")["text"]
    assert "| TS_123 | 80.82 | 62.50 ± 17.68 (n=2) |" in shown and "Per experiment:" in shown
    _fake_run(tmp_path / "dann_iemocap_text_ts_23_ci", "dann/iemocap/text/ts_23/ci", [0.5], test_labelled=12)
    with pytest.raises(ExperimentError, match="test turns"):
        mod.main(argv)
