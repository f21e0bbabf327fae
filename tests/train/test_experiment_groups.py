"""Experiment groups: every paper table is a registered group that ``python -m emozoo.train --list``
shows, whose members are registered experiments, and that ``python -m emozoo.report`` tables."""
from __future__ import annotations

import json
import os

import pytest

from emozoo.errors import ExperimentError
from emozoo.experiments import get_experiment, get_group, group_members, list_experiments, list_groups
from emozoo.experiments import registry as R

#: the paper tables the pipelines made before the groups existed, and the group that now is each
PAPER_TABLES = {
    "adv_culture Table 2 (IS10)": "adv_culture/table2/is10",
    "adv_culture Table 3 (IS10)": "adv_culture/table3/is10",
    "adv_culture Table 4 (IS10)": "adv_culture/table4/is10",
    "adv_culture tables (Dface)": "adv_culture/table3/dface",
    "DANN Table 2 (IEMOCAP)": "dann/table2/text",
    "DANN MELD table": "dann/meld_table",
    "DANN speech table": "dann/speech_table",
    "EMODal Table 1": "emodal/table1/4class",
    "SSGAN speech table": "ssgan/table/speech",
    "SSGAN face table": "ssgan/table/face",
    "SSGAN multimodal table": "ssgan/table/multimodal",
    "face CNN tables": "face_cnn/tables/cpu",
    "LOCO benchmark": "loco/speech",
}


def test_every_paper_table_is_a_group_of_registered_experiments():
    names = set(list_experiments())
    groups = {g.name: g for g in list_groups()}
    for table, group in PAPER_TABLES.items():
        assert group in groups, table
        members = group_members(group)
        assert members and set(members) <= names, (group, members)
    # every group of every kind expands (each of its patterns matches) and has a title
    for g in groups.values():
        assert group_members(g.name) and g.title and g.kind in R.GROUP_KINDS, g


def test_members_come_in_pattern_order():
    members = group_members("adv_culture/table3/is10")
    assert len(members) == 12
    assert all(m.endswith("/bsl") for m in members[:6]) and all(m.endswith("/adv") for m in members[6:])
    assert members[:6] == sorted(members[:6])
    assert group_members("emodal/table1/8class") == [f"emodal/ravdess_av/8class/{v}" for v in
                                                     ("audio", "visual", "both", "both_nocommon")]


def test_group_registration_errors(monkeypatch):
    monkeypatch.setattr(R, "_GROUPS", dict(R._GROUPS))
    with pytest.raises(ExperimentError, match="kind must be one of"):
        R.register_group("x/y", ["baseline/*"], "t", kind="paper")
    with pytest.raises(ExperimentError, match="non-empty list of name patterns"):
        R.register_group("x/y", "baseline/*", "t")
    with pytest.raises(ExperimentError, match="registered twice"):
        R.register_group("loco/speech", ["loco/*"], "another title")
    R.register_group("x/none", ["nothing/*"], "t")
    with pytest.raises(ExperimentError, match="pattern 'nothing/\\*' matches no registered experiment"):
        group_members("x/none")
    R.register_group("baseline/emodb/is10/loso", ["baseline/*"], "t")
    with pytest.raises(ExperimentError, match="has the name of a registered experiment"):
        R._expand(get_group("baseline/emodb/is10/loso"))
    with pytest.raises(ExperimentError, match="layout must be 'module:function'"):
        R.register_group("x/layout", ["baseline/*"], "t", layout="emozoo.models.dann.dann_tables")
    with pytest.raises(ExperimentError, match="layout must be 'module:function'"):
        R.register_group("x/layout", ["baseline/*"], "t", layout=":iemocap_table2")
    R.register_group("dann/meld", ["dann/meld/text/7class/*"], "only part of the prefix")
    with pytest.raises(ExperimentError, match="members are not exactly the experiments under it"):
        group_members("dann/meld")


def test_prefix_groups_still_work_and_a_registered_prefix_group_is_the_prefix():
    assert group_members("dann/meld/") == sorted(n for n in list_experiments() if n.startswith("dann/meld/"))
    assert group_members("loco/speech") == sorted(n for n in list_experiments() if n.startswith("loco/speech/"))
    assert group_members("baseline/emodb/is10/loso") == []          # an experiment, not a group


def test_list_shows_groups_by_kind_then_every_experiment(capsys):
    from emozoo.train.__main__ import main

    assert main(["--list"]) == 0
    out = capsys.readouterr().out.splitlines()
    heads = [i for i, line in enumerate(out) if line.startswith("# ")]
    assert [out[i] for i in heads[1:]] == ["# paper tables", "# studies", "# benchmarks", "# experiments"]
    tables = out[heads[1] + 1:heads[2]]
    row = next(line for line in tables if line.startswith("adv_culture/table3/is10 "))
    assert "12 runs" in row and "Table 3" in row and "[docs/methods/adv_culture_table.md]" in row
    assert {line.split()[0] for line in tables} >= {g for g in PAPER_TABLES.values() if g != "loco/speech"}
    assert out[heads[-1] + 1:] == list_experiments()


def test_train_runs_every_member_of_a_registered_group(monkeypatch, tmp_path):
    """``--experiment GROUP`` hands each member, in order, to the one ``run_experiment`` with its own folder."""
    import emozoo.train.trainer as trainer
    from emozoo.train.__main__ import main

    seen = []
    monkeypatch.setattr(trainer, "run_experiment",
                        lambda cfg, model_dir, **kw: seen.append((cfg.name, str(model_dir), kw["strategy"])))
    assert main(["--experiment", "emodal/table1/4class", "--model-dir", str(tmp_path)]) == 0
    assert [s[0] for s in seen] == group_members("emodal/table1/4class")
    assert [s[1] for s in seen] == [str(tmp_path / v) for v in ("audio", "visual", "both", "both_nocommon")]
    seen.clear()
    assert main(["--experiment", "ssgan/table/speech"]) == 0
    assert [s[1] for s in seen] == [f"runs/ssgan_speech_frac{f}" for f in (10, 20, 50)]
    assert {s[2] for s in seen} == {"default"}


def _write(runs, name, summary):
    d = runs / name.replace("/", "_")
    d.mkdir(parents=True)
    (d / "summary.json").write_text(json.dumps(summary))


def _cell(v):
    return {"mean": v, "std": 0.01, "values": [v]}


def test_report_of_an_ssgan_and_a_face_cnn_group(tmp_path):
    from emozoo.report import report

    runs = tmp_path / "runs"
    for frac, v in ((10, 0.4), (20, 0.5), (50, 0.6)):
        _write(runs, f"ssgan/speech/frac{frac}", {"folds": [0, 1, 2], "models": {
            m: {"n": 3, **{k: _cell(v + d) for k in ("uar", "macro_f1", "accuracy")}}
            for m, d in (("fsbase", 0.0), ("ssbase", 0.01), ("ssgan", 0.05))}})
    out = report("ssgan/table/speech", runs_root=runs, out_dir=tmp_path / "o")
    text = out["text"]
    assert text.startswith(get_group("ssgan/table/speech").title)
    assert "| ssgan/speech/frac20 · ssgan | 3 | 55.0 ± 1.0 | 55.0 ± 1.0 | 55.0 ± 1.0 |" in text
    assert "| ssgan/speech/frac10 · fsbase | 3 | 40.0 ± 1.0 |" in text
    assert sum(line.startswith("| ssgan/") for line in text.splitlines()) == 9

    _write(runs, "face_cnn/culture/jaffe/cpu", {"runs": 5, "test": {k: _cell(0.7) for k in ("accuracy", "uar", "macro_f1")},
                                                "cross": {"ckplus": {k: _cell(0.3) for k in ("accuracy", "uar", "macro_f1")}}})
    text = report("face_cnn/tables/cpu", runs_root=runs, out_dir=tmp_path / "o")["text"]
    assert "| face_cnn/culture/jaffe/cpu | 5 | 70.0 ± 1.0 |" in text
    assert "| face_cnn/culture/jaffe/cpu · tested on ckplus | 5 | 30.0 ± 1.0 |" in text
    assert "`face_cnn/culture/ckplus/cpu`" in text and "`face_cnn/fer2013/cpu`" in text     # not run: named


def test_short_figure_labels_drop_the_shared_parts():
    from emozoo.report import _short_labels

    assert _short_labels(["adv_culture/cross/emodb_to_casia/is10/bsl",
                          "adv_culture/cross/casia_to_emodb/is10/adv · x"]) == ["emodb_to_casia/bsl",
                                                                                "casia_to_emodb/adv · x"]
    assert _short_labels(["ssgan/speech/frac10 · fsbase"]) == ["frac10 · fsbase"]


def test_every_member_config_resolves():
    for g in list_groups():
        for name in group_members(g.name):
            assert get_experiment(name).name == name


def test_member_folders_are_unique_and_short():
    from emozoo.experiments import member_folder

    for g in list_groups():
        members = group_members(g.name)
        folders = [member_folder(g.name, m) for m in members]
        assert len(set(folders)) == len(folders) and all(folders), g.name
    assert member_folder("adv_culture/table3/is10", "adv_culture/cross/emodb_to_casia/is10/bsl") == \
        "emodb_to_casia_is10_bsl"
    assert member_folder("dann/meld/", "dann/meld/text/7class/ci") == "7class_ci"
    with pytest.raises(ExperimentError, match="is not a member"):
        member_folder("dann/meld_table", "dann/speech/emodb/is10/ci")


def test_report_rows_for_each_test_corpus_and_extra_side(tmp_path):
    from emozoo.report import report

    runs = tmp_path / "runs"
    cells = {k: _cell(0.5) for k in ("accuracy", "uar", "macro_f1")}
    _write(runs, "adv_culture/multi/emodb+casia+ravdess/is10/bsl",
           {"seeds": [0, 1], "test": cells, "test_by_corpus": {
               "casia": {k: _cell(0.4) for k in ("accuracy", "uar", "macro_f1")},
               "emodb": {k: _cell(0.7) for k in ("accuracy", "uar", "macro_f1")}}})
    text = report("adv_culture/table4/is10", runs_root=runs, out_dir=tmp_path / "o")["text"]
    assert "| adv_culture/multi/emodb+casia+ravdess/is10/bsl · emodb only | 2 | 70.0 ± 1.0 |" in text
    assert "| adv_culture/multi/emodb+casia+ravdess/is10/bsl · casia only | 2 | 40.0 ± 1.0 |" in text
    _write(runs, "dann/meld/text/7class/ci", {"seeds": [0], "test": cells,
                                              "extra_tests": {"dev": {k: _cell(0.3) for k in ("accuracy", "uar")}}})
    text = report("dann/meld_table", runs_root=runs, out_dir=tmp_path / "o")["text"]
    assert "| dann/meld/text/7class/ci · dev | 1 | 30.0 ± 1.0 | 30.0 ± 1.0 | - |" in text


def test_by_seed_runs_seed_one_of_every_member_first_into_runs_dir(monkeypatch, tmp_path):
    """``--by-seed``: a group interrupted part way still covers every cell (the table scripts rely on it);
    ``--runs-dir`` is the parent of the default run folders, where ``python -m emozoo.report`` reads them."""
    import emozoo.train.trainer as trainer
    from emozoo.experiments import group_members
    from emozoo.train.__main__ import main

    calls = []
    monkeypatch.setattr(trainer, "run_experiment",
                        lambda cfg, model_dir, **kw: calls.append((cfg.name, kw["seeds"], str(model_dir))))
    members = group_members("dann/table2/text")
    assert main(["--experiment", "dann/table2/text", "--by-seed", "--seeds", "2", "--runs-dir", str(tmp_path)]) == 0
    assert [(n, s) for n, s, _ in calls] == [(m, 1) for m in members] + [(m, 2) for m in members]
    assert {d for _, _, d in calls} == {str(tmp_path / m.replace("/", "_")) for m in members}
    calls.clear()
    assert main(["--experiment", "dann/table2/text", "--seeds", "2"]) == 0     # default: member by member
    assert [(n, s) for n, s, _ in calls] == [(m, 2) for m in members]
    assert calls[0][2] == os.path.join("runs", members[0].replace("/", "_"))


def test_a_layout_that_returns_the_wrong_shape_is_a_clear_error(monkeypatch, tmp_path):
    """``python -m emozoo.report`` calls a group's registered layout; one that does not return
    ``{"markdown": str, "data": dict}`` is refused with the layout's name, never written half."""
    from emozoo.report import paper_layout

    monkeypatch.setattr(R, "_GROUPS", dict(R._GROUPS))
    R.register_group("x/bad_layout", ["baseline/*"], "t", layout="tests.train.test_experiment_groups:_bad_layout")
    with pytest.raises(ExperimentError, match="tests.train.test_experiment_groups:_bad_layout .* must return"):
        paper_layout("x/bad_layout", tmp_path)
    assert paper_layout("baseline/table/loso", tmp_path) is None        # a group without a layout


def _bad_layout(group, runs_root):
    return {"markdown": ["not", "a", "string"], "data": {}}
