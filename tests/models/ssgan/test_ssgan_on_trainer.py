"""The SSGAN on the one trainer (issue 19): ``emozoo.models.ssgan`` registers the Task
:class:`~emozoo.models.ssgan.ssgan_task.SSGANTask` for model ``ssgan`` (no runner of its own), so
``python -m emozoo.train --experiment ssgan/...`` and ``pipelines/ssgan_table.py`` run through
:func:`emozoo.train.trainer.run_experiment`: trainer seed s and fold k train RunSpec ``fold=k,
seed=s + k``, each model selected on validation UAR by the trainer's ``ModelSelection``, a finished
fold is read back, the summary has one row per model. Generated stores (``conftest.py``) except
the real-data CLI test."""
import dataclasses
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from emozoo.errors import ExperimentError, SplitError
from emozoo.experiments import apply_overrides, get_experiment, get_runner, get_task, list_experiments
from emozoo.models.ssgan import ssgan_task as T
from emozoo.train.trainer import load_run, run_experiment
from tests.models.ssgan.conftest import OVERRIDES, tiny
from tests.train.conftest import assert_rerun_reads_back, run_train

QUIET = dict(log=lambda *a: None)


def _table_module():
    path = Path(__file__).resolve().parents[3] / "pipelines" / "ssgan_table.py"
    spec = importlib.util.spec_from_file_location("ssgan_table_for_test", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_registered_as_a_task_with_its_folds_and_spec():
    assert get_runner("ssgan") is None and isinstance(get_task("ssgan"), T.SSGANTask)
    assert not hasattr(T, "run_one") and not hasattr(T, "fit_select") and not hasattr(T, "run_experiment")
    for name in list_experiments("ssgan/"):         # one trainer seed: the 5 folds are the table's runs
        assert get_experiment(name).trainer.seeds == 1, name
    cfg = apply_overrides(get_experiment("ssgan/multimodal/frac20"), ["model.params.run.steps=40"])
    spec = T.spec_of(cfg)
    assert spec.setting == "multimodal" and spec.fraction == 0.2 and spec.steps == 40
    assert spec.models == ("mfsbase", "mssgan")
    with pytest.raises(SplitError, match="stepz"):
        T.spec_of(apply_overrides(cfg, ["model.params.run.stepz=40"]))
    task = T.SSGANTask()
    folds, classes = task.build_folds(cfg, **QUIET)
    assert [f.name for f in folds] == [f.slug for f in folds] == [f"fold{k}" for k in range(5)]
    assert classes == ("neutral", "happy", "angry", "sad")
    folds, _ = task.build_folds(apply_overrides(cfg, ["data.folds=[1,3]"]), **QUIET)
    assert [f.index for f in folds] == [1, 3]
    with pytest.raises(SplitError, match=r"data.folds \[5\] out of range"):
        task.build_folds(apply_overrides(cfg, ["data.folds=[5]"]), **QUIET)
    assert task.build_folds(get_experiment("ssgan/face_dface/frac10"), **QUIET)[1][0] == "angry"   # 6basic


@pytest.fixture
def finished(workdir):
    """Fold 1 of the tiny experiment with trainer seed 2 (so RunSpec fold 1, seed 3)."""
    model_dir = workdir / "run"
    summary = run_experiment(tiny("data.folds=[1]", "trainer.seed=2"), model_dir, **QUIET)
    return model_dir, summary


def test_fold_result_seed_mapping_and_selection(finished):
    model_dir, summary = finished
    fold_dir = model_dir / "seed_2" / "fold1"
    r = json.loads((fold_dir / "result.json").read_text())
    assert (r["fold"], r["fold_index"], r["seed"], r["trainer_seed"]) == ("fold1", 1, 3, 2)
    assert (r["spec"]["fold"], r["spec"]["seed"]) == (1, 3)
    assert set(r) >= {"sizes", "classes", "stats", "modalities", "models", "test"}
    assert list(r["models"]) == ["fsbase", "ssbase", "ssgan"]
    assert r["test"] == r["models"]["ssgan"]["test"]            # the semi-supervised model is the fold's test
    for name, m in r["models"].items():
        assert {"best_val_uar", "best_step", "curve", "history", "seconds_total", "test"} <= set(m)
        assert {"confusion_matrix", "macro_f1_uar_map", "per_class"} <= set(m["test"])
        assert (fold_dir / f"{name}.weights.h5").exists()
        if name == "ssbase" and m["best_step"] == 0:     # fine-tuning did not beat FSBase: its weights kept
            assert m["test"] == r["models"]["fsbase"]["test"]
            continue
        # the step ModelSelection kept: the first evaluation with the best validation UAR
        sel = json.loads((fold_dir / name / "selection.json").read_text())
        uars = [h["val_uar"] for h in m["history"]]
        assert [e["val_uar"] for e in sel["epochs"]] == uars
        assert m["best_step"] == (sel["best_epoch"] + 1) * 4 == m["history"][int(np.argmax(uars))]["step"]
        assert m["best_val_uar"] == max(uars)
    assert r["models"]["ssbase"]["pseudo_labelled"] >= 0
    assert r["models"]["ssbase"]["best_val_uar"] >= r["models"]["fsbase"]["best_val_uar"]
    # the trainer's summary: one row per model (over every run) and the pooled test of the last model
    assert summary["folds"] == ["fold1"] and summary["seeds"] == [2]
    assert set(summary["models"]) == {"fsbase", "ssbase", "ssgan"}
    assert summary["models"]["ssgan"]["uar"]["values"] == [r["models"]["ssgan"]["test"]["uar"]]
    assert summary["test"]["uar"]["mean"] == pytest.approx(r["test"]["uar"])
    # the same RunSpec trained directly gives the same fold: the mapping is fold k, seed s + k
    spec = dataclasses.replace(T.spec_of(tiny()), fold=1, seed=3)
    direct, models = T.run_fold(spec, model_dir.parent / "direct", **QUIET)
    for name in r["models"]:
        assert direct["models"][name]["test"] == r["models"][name]["test"], name
        assert direct["models"][name]["best_step"] == r["models"][name]["best_step"], name
    # the model left in memory carries the selected weights: its validation UAR is the best one
    labelled, unl, valid, test, classes, mods, axes = T.assemble(spec)
    _, _, (valid, _), _ = T.normalise(labelled, unl, [valid, test], spec.normalisation, axes)
    assert T._uar(models["ssgan"], valid, classes) == pytest.approx(r["models"]["ssgan"]["best_val_uar"])


def test_a_finished_fold_is_read_back_not_retrained(finished, monkeypatch):
    model_dir, summary = finished
    record = model_dir / "seed_2" / "fold1" / "result.json"
    mtime = record.stat().st_mtime

    def boom(*a, **k):
        raise AssertionError("a finished fold was trained again")
    monkeypatch.setattr(T, "run_fold", boom)
    again = run_experiment(tiny("data.folds=[1]", "trainer.seed=2"), model_dir, **QUIET)
    assert record.stat().st_mtime == mtime and again["models"] == summary["models"]
    assert load_run(model_dir)["seeds"][0]["folds"][0]["models"]["ssgan"]["best_step"] == \
        json.loads(record.read_text())["models"]["ssgan"]["best_step"]
    # another config in the same folder is refused, not mixed with the finished folds
    with pytest.raises(ExperimentError, match="different config"):
        run_experiment(tiny("data.folds=[1]", "trainer.seed=2", "model.params.run.steps=8"), model_dir, **QUIET)


def test_zoo_trains_one_fold_through_the_task_and_reloads_its_selected_weights(finished):
    """The zoo recipe is one fold (fold/seed 0) of the 50 % experiment on the trainer; a fold's saved
    SSGAN weights rebuild the selected model (its test report is the fold's)."""
    from emozoo.models.ssgan import ssgan_zoo as Z
    cfg = Z.zoo_config("face_dface")
    spec = T.spec_of(cfg)
    assert cfg.name == "ssgan/zoo/face_dface" and cfg.data.folds == (0,) and spec.models == ("ssgan",)
    assert (spec.fraction, spec.normalisation, spec.setting) == (1.0, "combine", "face_dface")
    assert T.spec_of(Z.zoo_config("speech")).fraction == 0.5
    model_dir, _ = finished
    fold_dir = model_dir / "seed_2" / "fold1"
    r = json.loads((fold_dir / "result.json").read_text())
    spec = T.RunSpec(**{k: tuple(v) if isinstance(v, list) else v for k, v in r["spec"].items()})
    model = Z.load_trained(r, fold_dir / "ssgan.weights.h5", spec)
    labelled, unl, valid, test, classes, mods, axes = T.assemble(spec)
    _, _, (_, test), _ = T.normalise(labelled, unl, [valid, test], spec.normalisation, axes)
    assert T.score(model, test, classes) == r["models"]["ssgan"]["test"]


def test_table_script_maps_overrides_and_run_folders():
    table = _table_module()
    assert table.trainer_overrides(["steps=600"]) == ["model.params.run.steps=600"]
    assert table.trainer_overrides([], folds=2) == ["data.folds=[0, 1]"]
    with pytest.raises(SystemExit, match="stepz"):
        table.trainer_overrides(["stepz=1"])
    runs = Path("runs")
    # the folder python -m emozoo.train --experiment uses
    assert table.run_dir("ssgan/face_dface/frac10", [], runs) == runs / "ssgan_face_dface_frac10"
    assert table.run_dir("ssgan/face_dface/frac10", ["model.params.run.steps=600"], runs) == \
        runs / "ssgan_face_dface_frac10__steps=600"
    names = ("ssgan/functionals/frac20", "ssgan/speech_whisper/frac20", "ssgan/face_dface/frac20",
             "ssgan/face_mobilenet/frac20")
    assert len({table.run_dir(n, [], runs) for n in names}) == 4       # a backbone preset never reads another's runs


def test_table_and_ablation_from_the_trainer_runs(workdir, monkeypatch):
    """``table()`` / ``ablation_normalisation()`` run the registered experiments on the trainer and lay
    out the rows from the read-back runs (generated stores, one fold)."""
    table = _table_module()
    monkeypatch.setattr(table, "RESULTS", workdir / "results")
    monkeypatch.setattr(table, "DOCS", workdir / "docs")
    fields = [o.replace("model.params.run.", "") for o in OVERRIDES]
    res = table.table("functionals", (0.2,), 1, fields, runs_dir=workdir / "runs", **QUIET)
    run = table.run_dir("ssgan/functionals/frac20", table.trainer_overrides(fields, 1), workdir / "runs")
    r = json.loads((run / "seed_0" / "fold0" / "result.json").read_text())
    assert [row["model"] for row in res["rows"]] == ["fsbase", "ssbase", "ssgan"]
    for row in res["rows"]:
        assert row["n"] == 1 and row["uar"]["values"] == [round(r["models"][row["model"]]["test"]["uar"], 4)]
        assert row["best_step"] == [r["models"][row["model"]]["best_step"]] and row["sizes"] == r["sizes"]
    md = (workdir / "results" / "ssgan_functionals.md").read_text()
    assert md.startswith("| labelled | model | UAR | MAF1 (usual) | MAF1 (eq. 8) | ACC |")
    assert f"| SSGAN | {100 * r['models']['ssgan']['test']['uar']:.2f} +- 0.00 |" in md
    no_models = [f for f in fields if not f.startswith("models=")]       # each ablation experiment has its models
    abl = table.ablation_normalisation(1, no_models, runs_dir=workdir / "runs", **QUIET)
    assert [p["normalisation"] for p in abl["points"]] == ["none", "self", "shift", "combine"]
    assert all(p["n"] == 1 for p in abl["points"]) and (workdir / "docs" / "ssgan_normalisation.png").exists()
    assert len(abl["run_dirs"]) == 4


@pytest.mark.data
def test_multimodal_experiment_from_the_cli(data_dir, tmp_path):
    if not (data_dir / "ravdess_av_features").exists():
        pytest.skip("ravdess_av_features not in the data directory")
    args = ["--experiment", "ssgan/multimodal/frac10", "--model-dir", str(tmp_path / "run"),
            "--override", "model.params.run.steps=20", "model.params.run.eval_every=10", "data.folds=[0]"]
    first = run_train(args, env_extra={"EMOZOO_DATA_DIR": str(data_dir)})
    assert first.returncode == 0, first.stdout + first.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["experiment"] == "ssgan/multimodal/frac10" and summary["folds"] == ["fold0"]
    assert set(summary["models"]) == {"mfsbase", "mssgan"}
    fold0 = tmp_path / "run" / "seed_0" / "fold0"
    for m in ("mfsbase", "mssgan"):
        assert 0.0 <= summary["models"][m]["uar"]["mean"] <= 1.0
        assert (fold0 / f"{m}.weights.h5").exists()
    r = json.loads((fold0 / "result.json").read_text())
    assert r["spec"]["steps"] == 20 and r["sizes"]["test"] > 0 and r["test"] == r["models"]["mssgan"]["test"]
    assert_rerun_reads_back(args, fold0 / "result.json", key="models", env_extra={"EMOZOO_DATA_DIR": str(data_dir)})
