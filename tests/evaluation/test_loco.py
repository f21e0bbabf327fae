"""Leave-one-corpus-out benchmark (emozoo.evaluation.loco): normalisation conditions, learners, runner."""
from __future__ import annotations

import json

import numpy as np
import pytest

from emozoo.errors import ExperimentError
from emozoo.evaluation import loco

K = 4


def shifted_corpora(n=80, dim=6, rows=1, seed=0):
    """Three corpora with the same class structure, each shifted and scaled by its own offset:
    a target normalised with the pooled training statistics lands off the learned boundaries,
    one normalised with its own statistics lands on them."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (K, dim))
    xs, ys, cs, ss = [], [], [], []
    for j, (name, shift, scale) in enumerate((("a", 0.0, 1.0), ("b", 4.0, 2.0), ("c", -9.0, 0.4))):
        y = np.arange(n) % K
        x = (centres[y] + rng.normal(0, 0.6, (n, dim))) * scale + shift
        xs.append(np.repeat(x[:, None, :], rows, 1).astype(np.float32))
        ys.append(y)
        cs += [name] * n
        ss += [f"{name}/spk{i % 4}" for i in range(n)]
    return np.concatenate(xs), np.concatenate(ys), np.array(cs), np.array(ss)


def test_adaptation_conditions_use_the_targets_own_statistics():
    x, y, corpus, speaker = shifted_corpora()
    out = loco.loco_cell({"learner": "head", "head": "linear"}, x, y, corpus, speaker, "c", 0, K)
    assert set(out) == set(loco.CONDITIONS)
    # the target is shifted by -9 and shrunk: with the pooled statistics of a and b it is misread
    assert out["adapt_all"]["uar"] >= 0.95
    assert out["adapt50"]["uar"] >= 0.9
    assert out["none"]["uar"] <= 0.5
    assert np.asarray(out["adapt_all"]["confusion"]).sum() == (corpus == "c").sum()


def test_target_statistics_draw_matches_the_emotion_speech_benchmark():
    from emozoo.models.emotion_speech.emotion_speech_head import statistics

    x, _, corpus, _ = shifted_corpora(rows=2)
    xt, xtr = x[corpus == "c"], x[corpus != "c"]
    stats = loco.target_statistics(xtr, xt, seed=3)
    idx = np.random.default_rng(1003).choice(len(xt), size=10, replace=False)
    np.testing.assert_allclose(stats["adapt10"][0], statistics(xt[idx])[0])
    np.testing.assert_allclose(stats["none"][0], statistics(xtr)[0])
    np.testing.assert_allclose(stats["adapt_all"][1], statistics(xt)[1])
    with pytest.raises(Exception, match="fewer than the 50"):
        loco.target_statistics(xtr, xt[:20], seed=0)


def test_summary_means_targets_per_seed_then_over_seeds():
    def cell(u):
        return {c: {"uar": u, "wa": u, "macro_f1": u} for c in loco.CONDITIONS}
    cells = {"a/seed0": cell(0.2), "b/seed0": cell(0.4), "a/seed1": cell(0.6), "b/seed1": cell(0.8),
             "a/seed2": cell(0.9)}                      # seed 2 misses target b: left out of "mean"
    s = loco.summarise(cells, ("a", "b"), loco.CONDITIONS)
    assert s["mean"]["none"]["uar"] == {"mean": 50.0, "std": 20.0, "seeds": 2}   # per seed 30, 70
    assert s["a"]["adapt10"]["uar"]["seeds"] == 3
    assert s["a"]["adapt10"]["uar"]["mean"] == pytest.approx(100 * np.mean([0.2, 0.6, 0.9]), abs=0.01)


@pytest.mark.parametrize("row", [
    {"learner": "adv_culture", "mode": "adv", "method_experiment": "adv_culture/multi/emodb+casia+ravdess/is10/adv"},
    {"learner": "dann", "method_experiment": "dann/speech/emodb/is10/dann"},
])
def test_adversarial_learners_train_and_add_the_transductive_condition(row):
    x, y, corpus, speaker = shifted_corpora(n=52, rows=3)
    out = loco.loco_cell(row, x, y, corpus, speaker, "b", 0, K)
    assert set(out) == set(loco.CONDITIONS) | {loco.TRANSDUCTIVE}
    assert out["adapt_all"]["uar"] > 0.6 and out[loco.TRANSDUCTIVE]["uar"] > 0.6


def test_head_learner_has_no_transductive_condition():
    x, y, corpus, speaker = shifted_corpora(n=24)
    with pytest.raises(ExperimentError, match="no transductive"):
        loco._learner({"learner": "head"}, x, y, K, corpus, speaker, 0, z_unlabelled=x[:4])
    with pytest.raises(ExperimentError, match="unknown LOCO learner"):
        loco._learner({"learner": "svm"}, x, y, K, corpus, speaker, 0)


def _cfg(name="loco/speech/whisper_base_linear"):
    from emozoo.experiments import get_experiment

    return get_experiment(name)


def test_registered_rows_form_a_group_and_name_real_method_configs():
    from emozoo.experiments import get_experiment, group_members, list_experiments

    members = group_members("loco/speech")
    assert "loco/speech/is10_bsl" in members and "loco/speech/whisper_base_linear" in members
    assert members == [n for n in list_experiments("loco/speech/")]
    assert group_members("loco/speech/is10_bsl") == []          # an experiment is not a group
    for name in members:
        cfg = get_experiment(name)
        assert cfg.model.name == "loco" and cfg.data.corpora == ("emodb", "casia", "ravdess")
        if "method_experiment" in cfg.model.params:
            get_experiment(cfg.model.params["method_experiment"])   # raises when the method config is gone


def test_runner_resumes_finished_cells_and_refuses_other_strategies(tmp_path, monkeypatch):
    x, y, corpus, speaker = shifted_corpora(n=52, rows=2)
    cfg = _cfg()
    cfg.data.corpora = ("a", "b", "c")
    monkeypatch.setattr(loco, "load_tables", lambda *a, **k: (x, y, corpus, speaker, ("n", "h", "a", "s")))
    calls = []
    real = loco.loco_cell

    def counting(*args, **kw):
        calls.append(args[5])
        return real(*args, **kw)
    monkeypatch.setattr(loco, "loco_cell", counting)
    s = loco.run_experiment(cfg, tmp_path, seeds=1, data_root=tmp_path, log=lambda *_: None)
    assert sorted(calls) == ["a", "b", "c"]
    assert s["loco"]["mean"]["adapt_all"]["uar"]["seeds"] == 1 and s["test"]["uar"]["mean"] > 0
    cells = json.loads((tmp_path / "cells.json").read_text())
    assert set(cells) == {"a/seed0", "b/seed0", "c/seed0"}
    calls.clear()
    loco.run_experiment(cfg, tmp_path, seeds=2, data_root=tmp_path, log=lambda *_: None)
    assert sorted(calls) == ["a", "b", "c"]                 # only seed 1 is new
    with pytest.raises(ExperimentError, match="does not honour --strategy mirrored"):
        loco.run_experiment(cfg, tmp_path, strategy="mirrored", seeds=1, data_root=tmp_path)


def test_train_cli_runs_each_member_of_a_group(tmp_path, monkeypatch):
    import emozoo.train.trainer as trainer
    from emozoo.train.__main__ import main

    ran = []
    monkeypatch.setattr(trainer, "run_experiment", lambda cfg, model_dir, **kw: ran.append((cfg.name, str(model_dir))))
    assert main(["--experiment", "loco/speech", "--model-dir", str(tmp_path), "--seeds", "1"]) == 0
    names = [n for n, _ in ran]
    assert "loco/speech/is10_adv" in names and len(names) == len(set(names)) >= 5
    assert ("loco/speech/is10_adv", str(tmp_path / "is10_adv")) in ran
    assert main(["--experiment", "loco/nothing_here"]) == 2


def test_a_missing_store_names_the_command_that_builds_it(tmp_path):
    from emozoo.experiments import get_experiment

    cfg = get_experiment("loco/speech/whisper_base_linear")
    with pytest.raises(ExperimentError, match=r"store .*emodb_whisper_base is missing; build it with "
                                              r"python -m emozoo\.extract --corpus emodb --features whisper_base"):
        loco.load_tables(cfg.data, root=tmp_path)
    with pytest.raises(ExperimentError, match="at least 2 corpora"):
        cfg.data.corpora = ("emodb",)
        loco.load_tables(cfg.data, root=tmp_path)
