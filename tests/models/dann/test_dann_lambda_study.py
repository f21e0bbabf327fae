"""``pipelines/dann_lambda_study.py`` on the tiny synthetic conversation store: 2 variants x 1 seed x
1 epoch with a tiny network, trained by the one trainer (the registered experiments
``dann/lambda_study/<variant>``); the JSON fields, the Ganin schedule actually moving lambda, resuming."""
import json

import pytest

import pipelines.dann_lambda_study as S
from emozoo.errors import ExperimentError, SplitError
from emozoo.experiments import apply_overrides, get_experiment, get_group
from emozoo.layers.gradient_reversal import ganin_lambda
from emozoo.models.dann import dann_task as T
from emozoo.train.trainer import seed_fold_dir
from tests.models.dann.test_dann_task import _write_store


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return _write_store(tmp_path_factory.mktemp("conv") / "iemocap_text_minilm")


def tiny(store):
    return ["trainer.epochs=1", "trainer.batch_size=4", "model.params.fusion_units=8", "model.params.gru_units=4",
            "model.params.num_heads=2", f"data.stores.iemocap_text={store}"]


def test_study_json_ganin_lambda_and_resume(store, tmp_path, monkeypatch):
    out, runs = tmp_path / "study.json", tmp_path / "runs"
    kw = dict(out=out, runs_dir=runs, overrides=tiny(store), log=lambda m: None)
    res = S.study(["ci", "dann_ganin"], 1, **kw)
    on_disk = json.loads(out.read_text())
    fold = T.experiment_fold(apply_overrides(get_experiment("dann/lambda_study/ci"), tiny(store)))
    assert set(on_disk["runs"]) == {"ci", "dann_ganin"} and set(on_disk["summary"]) == {"ci", "dann_ganin"}
    for v in ("ci", "dann_ganin"):
        r = on_disk["runs"][v]["0"]
        for k in ("wa", "uar", "domain_accuracy", "speaker_probe", "emotion_probe"):
            assert 0.0 <= r[k] <= 1.0, (v, k, r[k])
        assert r["wa"] == r["report"]["accuracy"] and r["uar"] == r["report"]["uar"]
        assert r["probe_turns"] == int(fold.train.mask.sum())
        assert r["probe_labelled_turns"] == fold.sizes["train_labelled"]
        assert on_disk["summary"][v]["num_runs"] == 1 and on_disk["summary"][v]["seeds"] == [0]
        # the trainer's run folder: its summary, the seed's weights and the probes kept beside them
        assert (runs / f"dann_lambda_study_{v}" / "summary.json").exists()
        assert seed_fold_dir(runs / f"dann_lambda_study_{v}", 0).joinpath("probes.json").exists()
    steps = len(T.LengthBucketBatches(fold.train, 4, 0))          # 10 conversations / 4 = 3 steps
    g = on_disk["runs"]["dann_ganin"]["0"]
    assert g["steps_per_epoch"] == steps == 3 and g["lambda_history"]["steps"] == steps  # one call per real step
    # lambda_p = 2/(1+exp(-10p))-1 at p = step / total: 0 at the first step, rising at the last one
    assert g["lambda_history"]["first"] == 0.0
    assert g["lambda_history"]["last"] == pytest.approx(ganin_lambda((steps - 1) / steps))
    assert g["lambda_history"]["last"] > 0.9
    assert g["final_lambda"] == pytest.approx(g["lambda_history"]["last"])
    assert on_disk["runs"]["ci"]["0"]["final_lambda"] == 0.0 and "lambda_history" not in on_disk["runs"]["ci"]["0"]
    md = S.markdown(res)
    assert "| `dann_ganin` |" in md and "| `ci` |" in md and "Ganin schedule as run (3 steps" in md

    # a run folder read back for the probes: the seed's one fold, the model rebuilt from config + weights;
    # a seed never trained and a folder without a run are clear errors naming the command
    model, _, cfg = T.load_trained(runs / "dann_lambda_study_ci", 0, fold=fold)
    assert cfg.name == "dann/lambda_study/ci" and float(model.grl.hp_lambda.numpy()) == 0.0
    with pytest.raises(ExperimentError, match="0 finished fold.*--seeds 6"):
        seed_fold_dir(runs / "dann_lambda_study_ci", 5)
    with pytest.raises(SplitError, match="holds no run"):
        T.load_trained(tmp_path / "nothing", 0)

    # resumable: finished (variant, seed) runs are neither retrained nor re-probed
    def boom(*a, **k):
        raise AssertionError("a finished run was retrained or re-probed")
    monkeypatch.setattr(T.ConversationTask, "train_fold", boom)
    monkeypatch.setattr(T, "embeddings", boom)
    again = S.study(["ci", "dann_ganin"], 1, **kw)
    assert again["runs"]["ci"]["0"]["wa"] == on_disk["runs"]["ci"]["0"]["wa"]
    assert again["runs"]["ci"]["0"]["speaker_probe"] == on_disk["runs"]["ci"]["0"]["speaker_probe"]


def test_the_study_is_a_registered_group_and_an_unknown_schedule_is_an_error(store, tmp_path):
    g = get_group("dann/lambda_study")
    assert g.kind == "study" and len(g.members) == len(S.VARIANTS)
    cfg = apply_overrides(get_experiment("dann/lambda_study/dann"), tiny(store) + ["model.params.grl_schedule=linear"])
    from emozoo.train.trainer import run_experiment
    with pytest.raises(SplitError, match="grl_schedule"):
        run_experiment(cfg, tmp_path / "bad", seeds=1, log=lambda *a: None)
