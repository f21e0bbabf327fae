"""The face CNN's Task honours ``--strategy`` (issue 19, must-show 2): ``python -m emozoo.train
--experiment face_cnn/... --strategy mirrored --cpu-devices 2`` gives the per-epoch losses and
errors of the default strategy (dropout, flip and rotation off; batch 7, so the replicas hold 4
and 3 rows: the loss must be scaled by the global batch, not by Keras' per-replica mean / 2);
a folder trained under another strategy is refused; a last batch with fewer rows than replicas
is a clear error; a 2-worker ``multi_worker`` run on localhost gives the default's losses too, and
its second worker writes only under ``.workers/worker_1`` (its fold folder: selection, weights; no
result or summary).

Generated fixtures: two tiny synthetic face stores; each run takes seconds.
"""
import json

import numpy as np
import pytest

from emozoo.errors import ExperimentError
from emozoo.experiments import apply_overrides, get_experiment
from emozoo.train.trainer import run_experiment
from emozoo.models.face_cnn.face_cnn_data import save_faces
from tests.models.face_cnn.test_face_cnn import synthetic_store
from tests.train.conftest import run_train, run_two_workers

NAME = "face_cnn/culture/jaffe/cpu"
ARCH = {"filters": [4, 4, 8], "kernel_size": 3, "dense_units": 8, "dropout": 0.0, "flip": False}


def _overrides(root, *extra):
    stores = {"a": save_faces(root / "face_cnn_a", synthetic_store(n_subjects=5, seed=0), {}),
              "b": save_faces(root / "face_cnn_b", synthetic_store(n_subjects=3, seed=1), {})}
    return ['data.corpora=["a","b"]', f"data.stores={json.dumps({k: str(v) for k, v in stores.items()})}",
            "trainer.epochs=4", "trainer.batch_size=7", "optimizer.learning_rate=0.05",
            "model.params.rotation_degrees=0.0", f"model.params.arch_overrides={json.dumps(ARCH)}", *extra]


def test_mirrored_two_cpu_devices_matches_default(tmp_path):
    over = _overrides(tmp_path)
    run_experiment(apply_overrides(get_experiment(NAME), over), tmp_path / "default", seeds=1, log=lambda *a: None)
    run = run_train(["--experiment", NAME, "--seeds", "1", "--override", *over, "--model-dir", str(tmp_path / "mirrored"),
                     "--strategy", "mirrored", "--cpu-devices", "2"])
    assert run.returncode == 0, run.stdout + run.stderr
    summary = json.loads((tmp_path / "mirrored" / "summary.json").read_text())
    assert (summary["strategy"], summary["replicas"]) == ("MirroredStrategy", 2)
    assert json.loads((tmp_path / "default" / "summary.json").read_text())["replicas"] == 1
    a, b = (json.loads((tmp_path / d / "seed_0" / "a" / "result.json").read_text()) for d in ("default", "mirrored"))
    assert a["sizes"]["train"] % 7 and a["sizes"]["train"] == 18          # batches of 7, 7, 4 rows
    for key in ("train_loss", "val_loss", "train_error", "val_error"):
        assert len(a["history"][key]) == len(b["history"][key]) == 4
        np.testing.assert_allclose(b["history"][key], a["history"][key], rtol=2e-3, atol=2e-4, err_msg=key)
    assert a["history"]["train_loss"][-1] < a["history"]["train_loss"][0] - 0.05      # it trained
    assert b["best_epoch"] == a["best_epoch"]
    assert b["test"]["accuracy"] == pytest.approx(a["test"]["accuracy"])
    assert b["extra_tests"]["b"]["accuracy"] == pytest.approx(a["extra_tests"]["b"]["accuracy"])


def test_multi_worker_two_processes_on_localhost(tmp_path):
    over = _overrides(tmp_path, "trainer.epochs=2")
    run_experiment(apply_overrides(get_experiment(NAME), over), tmp_path / "default", seeds=1, log=lambda *a: None)
    run_two_workers(lambda env: run_train(["--experiment", NAME, "--seeds", "1", "--override", *over, "--model-dir",
                                           str(tmp_path / "mw"), "--strategy", "multi_worker"], wait=False,
                                          env_extra=env), timeout=300)
    summary = json.loads((tmp_path / "mw" / "summary.json").read_text())
    assert summary["replicas"] == 2 and summary["strategy"] in ("MultiWorkerMirroredStrategy",
                                                                "CollectiveAllReduceStrategy")
    a, b = (json.loads((tmp_path / d / "seed_0" / "a" / "result.json").read_text()) for d in ("default", "mw"))
    for key in ("train_loss", "val_loss", "train_error", "val_error"):
        np.testing.assert_allclose(b["history"][key], a["history"][key], rtol=2e-3, atol=2e-4, err_msg=key)
    worker = tmp_path / "mw" / ".workers" / "worker_1"
    assert (worker / "seed_0" / "a" / "best.weights.h5").exists() and (worker / "seed_0" / "a" / "selection.json").exists()
    assert not (worker / "seed_0" / "a" / "result.json").exists() and not (worker / "summary.json").exists()
    assert {p.relative_to(worker).as_posix() for p in worker.rglob("*") if p.is_file()} <= {
        "run.json", "seed_0/a/best.weights.h5", "seed_0/a/selection.json"}
    assert {p.name for p in (tmp_path / "mw").iterdir()} == {"config.json", "run.json", "summary.json", "summary.md",
                                                            "seed_0", ".workers"}


def test_a_folder_of_another_strategy_is_refused(tmp_path):
    import tensorflow as tf

    cfg = apply_overrides(get_experiment(NAME), _overrides(tmp_path, "trainer.epochs=1"))
    run_experiment(cfg, tmp_path / "run", seeds=1, log=lambda *a: None)
    one = tf.distribute.MirroredStrategy(devices=["/cpu:0"])
    with pytest.raises(ExperimentError, match="trained with _DefaultDistributionStrategy on 1 replica.*"
                                              "this command uses MirroredStrategy on 1: use another --model-dir"):
        run_experiment(cfg, tmp_path / "run", strategy=one, seeds=1, log=lambda *a: None)
    assert run_experiment(cfg, tmp_path / "run", seeds=1, log=lambda *a: None)["replicas"] == 1    # read back
    (tmp_path / "run" / "run.json").unlink()           # a folder that does not say how it was trained
    with pytest.raises(ExperimentError, match="does not record its strategy and device count"):
        run_experiment(cfg, tmp_path / "run", strategy=one, seeds=1, log=lambda *a: None)
    # the one-device mirrored run trains in its own folder (the model built and compiled in the scope)
    s = run_experiment(cfg, tmp_path / "mirrored1", strategy=one, seeds=1, log=lambda *a: None)
    assert (s["strategy"], s["replicas"]) == ("MirroredStrategy", 1)


def test_a_last_batch_without_a_row_per_replica_is_refused(tmp_path):
    over = _overrides(tmp_path, "trainer.batch_size=17", "trainer.epochs=1")      # 18 rows: 17 + 1
    run = run_train(["--experiment", NAME, "--seeds", "1", "--override", *over, "--model-dir", str(tmp_path / "m"),
                     "--strategy", "mirrored", "--cpu-devices", "2"])
    assert run.returncode == 2, run.stdout + run.stderr
    assert "last training batch would hold 1 row(s) for 2 replicas (18 rows, batch 17)" in run.stderr
