"""The Task protocol: a method's Task runs inside the one trainer's loop (seeds x folds, resume,
pooled reports, summary over seeds, run folder identity) exactly like the feature-vector task."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from emozoo.errors import ExperimentError
from emozoo.evaluation.metrics import classification_report
from emozoo.experiments import ExperimentConfig, ModelConfig
from emozoo.experiments import registry as R
from emozoo.train.task import FeatureVectorTask, Task

CLASSES = ("neutral", "happy", "angry", "sad")


@dataclasses.dataclass
class ToyFold:
    name: str
    y: np.ndarray

    @property
    def slug(self):
        return self.name.replace("/", "_")


class ToyTask:
    """Predicts the true label except for every ``miss``-th test row; records its calls."""

    def __init__(self):
        self.calls = []

    def build_folds(self, cfg, *, data_root=".", log=print):
        return [ToyFold("toy/0", np.arange(8) % 4), ToyFold("toy/1", np.arange(12) % 4)], CLASSES

    def train_fold(self, cfg, fold, fold_index, classes, seed, fold_dir, strategy, *, is_chief=True, verbose=0):
        self.calls.append((fold.name, seed, fold_index, strategy.num_replicas_in_sync))
        pred = fold.y.copy()
        pred[:: 2 + seed] = (pred[:: 2 + seed] + 1) % 4
        result = {"fold": fold.name, "seed": seed, "test": classification_report(fold.y, pred, classes),
                  "history": {"loss": [1.0 / (seed + 1)]},
                  # a further labelled side (MELD's dev turns): every prediction right on fold 0, none on fold 1
                  "extra_tests": {"dev": classification_report(fold.y, fold.y if fold_index == 0 else (fold.y + 1) % 4,
                                                               classes)}}
        fold_dir.mkdir(parents=True, exist_ok=True)
        (fold_dir / "result.json").write_text(json.dumps(result))
        return result


@pytest.fixture
def toy(monkeypatch):
    task = ToyTask()
    monkeypatch.setattr(R, "_TASKS", {**R._TASKS, "toy_model": "tests.train.test_task:TOY"})
    monkeypatch.setitem(globals(), "TOY", task)
    return task


def test_a_registered_task_runs_in_the_one_loop_and_resumes(toy, tmp_path):
    from emozoo.train.trainer import run_experiment

    assert isinstance(toy, Task) and isinstance(FeatureVectorTask(), Task)
    cfg = ExperimentConfig(name="toy/exp", model=ModelConfig("toy_model", {}))
    summary = run_experiment(cfg, tmp_path / "run", seeds=2, log=lambda *a: None)
    assert toy.calls == [("toy/0", 0, 0, 1), ("toy/1", 0, 1, 1), ("toy/0", 1, 0, 1), ("toy/1", 1, 1, 1)]
    assert summary["folds"] == ["toy/0", "toy/1"] and summary["seeds"] == [0, 1]
    # the seed's report pools the two folds' predictions (20 rows), then mean +- std over seeds
    for seed in (0, 1):
        y = np.concatenate([np.arange(8) % 4, np.arange(12) % 4])
        p = np.concatenate([np.arange(8) % 4, np.arange(12) % 4])
        for lo, hi in ((0, 8), (8, 20)):
            seg = p[lo:hi]
            seg[:: 2 + seed] = (seg[:: 2 + seed] + 1) % 4
        want = classification_report(y, p, CLASSES)
        assert summary["test"]["uar"]["values"][seed] == pytest.approx(want["uar"])
        assert json.loads((tmp_path / "run" / f"seed_{seed}" / "test.json").read_text())["num_examples"] == 20
    assert json.loads((tmp_path / "run" / "run.json").read_text()) == {"strategy": "_DefaultDistributionStrategy",
                                                                         "replicas": 1}
    # the extra side is pooled over the folds per seed like the test side: 8 right of 20 rows
    dev = summary["extra_tests"]["dev"]
    assert dev["accuracy"]["values"] == pytest.approx([8 / 20, 8 / 20]) and dev["num_runs"] == 2
    # re-running reads every finished fold back: no training
    toy.calls.clear()
    again = run_experiment(cfg, tmp_path / "run", seeds=2, log=lambda *a: None)
    assert toy.calls == [] and again["test"] == summary["test"]
    # a folder of another config is refused before anything runs
    other = dataclasses.replace(cfg, description="changed")
    with pytest.raises(ExperimentError, match="holds a run of a different config"):
        run_experiment(other, tmp_path / "run", seeds=1, log=lambda *a: None)


def test_task_registration_errors(monkeypatch):
    monkeypatch.setattr(R, "_TASKS", dict(R._TASKS))
    with pytest.raises(ExperimentError, match="'module:attribute'"):
        R.register_task("m", "no_colon")
    R.register_task("m", "tests.train.test_task:ToyTask")
    assert isinstance(R.get_task("m"), ToyTask)          # a class is instantiated
    with pytest.raises(ExperimentError, match="already has the task"):
        R.register_task("m", "tests.train.test_task:Other")
    R._TASKS["broken"] = "tests.train.test_task:Nope"
    with pytest.raises(ExperimentError, match="cannot be loaded"):
        R.get_task("broken")
    assert R.get_task("baseline") is None


def test_load_run_reads_a_finished_run_and_refuses_an_unfinished_folder(toy, tmp_path):
    from emozoo.train.trainer import load_run, run_experiment

    with pytest.raises(ExperimentError, match="has no finished run \\(no summary.json\\)"):
        load_run(tmp_path / "nothing")
    cfg = ExperimentConfig(name="toy/exp", model=ModelConfig("toy_model", {}))
    summary = run_experiment(cfg, tmp_path / "run", seeds=2, log=lambda *a: None)
    run = load_run(tmp_path / "run")
    assert run["summary"] == summary
    assert [s["seed"] for s in run["seeds"]] == [0, 1]
    assert [f["fold"] for f in run["seeds"][0]["folds"]] == ["toy/0", "toy/1"]
    # a seed whose pooled report is missing (an interrupted write) is left out, not guessed
    (tmp_path / "run" / "seed_1" / "test.json").unlink()
    assert [s["seed"] for s in load_run(tmp_path / "run")["seeds"]] == [0]


class TwoModelTask(ToyTask):
    """Trains two models per fold (as SSGAN's FSBase and SSGAN): ``a`` is always right, ``b`` is right on
    fold 0 and wrong everywhere on fold 1."""

    def train_fold(self, cfg, fold, fold_index, classes, seed, fold_dir, strategy, *, is_chief=True, verbose=0):
        result = super().train_fold(cfg, fold, fold_index, classes, seed, fold_dir, strategy)
        wrong = (fold.y + 1) % 4
        result["models"] = {"a": {"test": classification_report(fold.y, fold.y, classes)},
                            "b": {"test": classification_report(fold.y, fold.y if fold_index == 0 else wrong, classes)}}
        return result


def test_models_of_a_fold_are_summarised_over_every_run(monkeypatch, tmp_path):
    """A task with several models per fold gets, per model, mean +- std over every (seed, fold) run: the
    SSGAN tables report the spread over folds, which pooling per seed would hide."""
    from emozoo.train.trainer import run_experiment

    task = TwoModelTask()
    monkeypatch.setattr(R, "_TASKS", {**R._TASKS, "toy_model": "tests.train.test_task:TWO"})
    monkeypatch.setitem(globals(), "TWO", task)
    cfg = ExperimentConfig(name="toy/two", model=ModelConfig("toy_model", {}))
    summary = run_experiment(cfg, tmp_path / "run", seeds=2, log=lambda *a: None)
    assert list(summary["models"]) == ["a", "b"]
    assert summary["models"]["a"]["uar"]["values"] == [1.0] * 4 and summary["models"]["a"]["n"] == 4
    assert summary["models"]["b"]["uar"]["values"] == [1.0, 0.0, 1.0, 0.0]
    assert summary["models"]["b"]["uar"]["std"] == pytest.approx(np.std([1, 0, 1, 0], ddof=1))
    assert "macro_f1_uar_map" in summary["models"]["b"]
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["models"]["b"]["n"] == 4
