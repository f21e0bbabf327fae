"""python -m emozoo.report: group tables (LOCO and generic), figure, doc sections, missing runs."""
from __future__ import annotations

import json

import pytest

from emozoo.errors import ExperimentError
from emozoo.report import collect, report
from emozoo.report.__main__ import main


def _loco_summary(name, uar_none, uar_all, transductive=None):
    conds = ["none", "adapt10", "adapt50", "adapt_all"] + (["transductive"] if transductive is not None else [])
    val = {"none": uar_none, "adapt10": uar_none + 1, "adapt50": uar_none + 2, "adapt_all": uar_all,
           "transductive": transductive}

    def cell(c):
        return {m: {"mean": val[c], "std": 1.5, "seeds": 5} for m in ("uar", "wa", "macro_f1")}
    loco = {t: {c: cell(c) for c in conds} for t in ("emodb", "casia", "ravdess", "mean")}
    return {"experiment": name, "corpora": ["emodb", "casia", "ravdess"], "classes": ["n", "h", "a", "s"],
            "seeds": [0, 1, 2, 3, 4], "conditions": conds, "loco": loco}


def _write(runs, name, summary):
    d = runs / name.replace("/", "_")
    d.mkdir(parents=True)
    (d / "summary.json").write_text(json.dumps(summary))


def test_loco_group_table_figure_and_doc_section(tmp_path):
    runs = tmp_path / "runs"
    _write(runs, "loco/speech/whisper_base_linear", _loco_summary("a", 58.1, 63.0))
    _write(runs, "loco/speech/is10_adv", _loco_summary("b", 41.2, 47.5, transductive=49.9))
    doc = tmp_path / "bench.md"
    doc.write_text("intro\n<!-- BEGIN report:loco/speech -->\nold table\n<!-- END report:loco/speech -->\nend\n")
    out = report("loco/speech", runs_root=runs, out_dir=tmp_path / "out", docs=[doc])
    text = out["text"]
    assert "| whisper_base_linear | no adaptation (pooled training statistics) | 58.1 ± 1.5 |" in text
    assert "| is10_adv | transductive (target clips unlabelled in training) | 49.9 ± 1.5 |" in text
    assert "transductive" not in [l for l in text.splitlines() if l.startswith("| whisper_base_linear")][-1]
    assert "`loco/speech/is10_bsl`" in text                       # not run: named as missing
    png = (tmp_path / "out" / "loco_speech.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    body = doc.read_text()
    assert "old table" not in body and body.startswith("intro\n") and body.endswith("end\n")
    assert "| is10_adv |" in body and "](out/loco_speech.png)" in body
    saved = json.loads((tmp_path / "out" / "loco_speech.json").read_text())
    assert set(saved["members"]) == {"loco/speech/whisper_base_linear", "loco/speech/is10_adv"}


def test_generic_group_uses_the_pooled_test_metrics(tmp_path):
    runs = tmp_path / "runs"
    t = {m: {"mean": 0.5, "std": 0.02} for m in ("accuracy", "uar", "macro_f1")}
    _write(runs, "baseline/cross_corpus/emodb_to_casia/is10", {"seeds": [0, 1], "test": t})
    out = report("baseline/cross_corpus", runs_root=runs, out_dir=tmp_path / "o")
    assert "| baseline/cross_corpus/emodb_to_casia/is10 | 2 | 50.0 ± 2.0 | 50.0 ± 2.0 | 50.0 ± 2.0 |" in out["text"]


def test_refuses_a_non_group_and_a_group_without_runs(tmp_path, capsys):
    with pytest.raises(ExperimentError, match="not an experiment group"):
        collect("loco/speech/is10_adv", tmp_path)
    with pytest.raises(ExperimentError, match="no member of 'loco/speech' has a finished run"):
        collect("loco/speech", tmp_path)
    assert main(["nothing/here", "--runs-dir", str(tmp_path)]) == 2
    assert "error:" in capsys.readouterr().err


def test_doc_without_markers_is_left_unchanged(tmp_path):
    runs = tmp_path / "runs"
    _write(runs, "loco/speech/is10_bsl", _loco_summary("c", 46.0, 51.1, transductive=52.4))
    doc = tmp_path / "d.md"
    doc.write_text("no markers here\n")
    assert main(["loco/speech", "--runs-dir", str(runs), "--doc", str(doc)]) == 2
    assert doc.read_text() == "no markers here\n"


def test_a_corrupt_member_summary_is_named(tmp_path):
    runs = tmp_path / "runs"
    d = runs / "loco_speech_is10_bsl"
    d.mkdir(parents=True)
    (d / "summary.json").write_text('{"loco": ')                 # a run cut while writing
    with pytest.raises(ExperimentError, match=r"loco_speech_is10_bsl/summary.json is not a readable summary.*"
                                              r"--experiment loco/speech/is10_bsl"):
        collect("loco/speech", runs)
