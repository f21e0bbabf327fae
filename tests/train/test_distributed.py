"""Strategies: MirroredStrategy on two logical CPU devices matches the default strategy (loss
scaled by the global batch); a 2-worker MultiWorkerMirroredStrategy run on localhost works."""
import json

import pytest

from tests.train.conftest import run_train, run_two_workers, tiny_overrides

# dropout 0 so the two runs differ only by how the batch is split over replicas
COMMON = ["--experiment", "baseline/emodb/is10/loso", "--seeds", "1"]


def _over(store, *extra):
    return ["--override", *tiny_overrides(store, "model.params.dropout=0.0", "trainer.epochs=5", "trainer.patience=0",
                                          "data.folds=[0]", "trainer.tensorboard=false", *extra)]


def _fold(model_dir):
    fold = next((model_dir / "seed_0").glob("loso_*"))
    return json.loads((fold / "result.json").read_text()), json.loads((fold / "selection.json").read_text())


def test_mirrored_two_cpu_devices_matches_default(synth_store, tmp_path):
    from emozoo.experiments import apply_overrides, get_experiment
    from emozoo.train.trainer import run_experiment

    # the default-strategy run in this process, the mirrored one in a fresh process (logical
    # devices must be configured before TensorFlow initialises)
    run_experiment(apply_overrides(get_experiment(COMMON[1]), _over(synth_store)[1:]), tmp_path / "default",
                   seeds=1, log=lambda *a: None)
    b = run_train(COMMON + _over(synth_store) + ["--model-dir", str(tmp_path / "mirrored"),
                                                 "--strategy", "mirrored", "--cpu-devices", "2"])
    assert b.returncode == 0, b.stdout + b.stderr
    summary = json.loads((tmp_path / "mirrored" / "summary.json").read_text())
    assert summary["replicas"] == 2 and summary["strategy"] == "MirroredStrategy"
    (ra, sa), (rb, sb) = _fold(tmp_path / "default"), _fold(tmp_path / "mirrored")
    for ea, eb in zip(sa["epochs"], sb["epochs"]):
        for key in ("loss", "val_loss", "val_uar", "uar"):
            assert eb[key] == pytest.approx(ea[key], rel=2e-3, abs=2e-3), (key, ea, eb)
    for key in ("accuracy", "uar", "macro_f1"):
        assert rb["test"][key] == pytest.approx(ra["test"][key], abs=1 / 24 + 1e-6)


def test_multi_worker_two_processes_on_localhost(synth_store, tmp_path):
    run_two_workers(lambda env: run_train(COMMON + _over(synth_store, "trainer.epochs=2") +
                                          ["--model-dir", str(tmp_path / "mw"), "--strategy", "multi_worker"],
                                          env_extra=env, wait=False))
    summary = json.loads((tmp_path / "mw" / "summary.json").read_text())
    assert summary["replicas"] == 2 and summary["strategy"] in ("MultiWorkerMirroredStrategy", "CollectiveAllReduceStrategy")
    assert 0 <= summary["test"]["uar"]["mean"] <= 1
    result, sel = _fold(tmp_path / "mw")
    assert len(sel["epochs"]) == 2
    # the non-chief worker wrote only into its own scratch folder
    assert (tmp_path / "mw" / ".workers" / "worker_1").is_dir()
    assert not (tmp_path / "mw" / ".workers" / "worker_1" / "summary.json").exists()
