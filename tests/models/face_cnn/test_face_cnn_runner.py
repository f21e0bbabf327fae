"""``python -m emozoo.train --experiment face_cnn/...``: registered experiments (the presets
``pipelines/face_cnn_train.py`` runs), trained by the one trainer with the Task
``emozoo.models.face_cnn`` registers (no runner of its own)."""
import json

import pytest

from emozoo.errors import ExperimentError
from emozoo.experiments import apply_overrides, get_experiment, get_runner, get_task, list_experiments
from emozoo.models.face_cnn import face_cnn_experiments as FE
from emozoo.models.face_cnn.face_cnn_data import save_faces
from tests.models.face_cnn.test_face_cnn import synthetic_store
from tests.train.conftest import assert_rerun_reads_back, run_train


def test_experiments_and_presets():
    from emozoo.experiments import group_members
    from emozoo.models.face_cnn.face_cnn_task import FaceCNNTask

    assert set(list_experiments("face_cnn/")) == {f"face_cnn/culture/{c}/{p}" for c in FE.CULTURES for p in FE.PRESETS} \
        | {f"face_cnn/fer2013/{p}" for p in FE.PRESETS}
    assert get_runner("face_cnn") is None and isinstance(get_task("face_cnn"), FaceCNNTask)
    for preset, pp in FE.PRESETS.items():
        assert group_members(f"face_cnn/tables/{preset}") == [f"face_cnn/culture/ckplus/{preset}",
                                                              f"face_cnn/culture/jaffe/{preset}",
                                                              f"face_cnn/fer2013/{preset}"]
        ck_cfg = get_experiment(f"face_cnn/culture/ckplus/{preset}")
        ck = FE.train_config(ck_cfg)
        assert (ck.arch, ck.epochs, ck.decay_rate) == (pp["arch"], pp["culture_epochs"], pp["culture_decay"])
        assert ck_cfg.trainer.seeds == 5 and ck_cfg.data.protocol == "subject_split"      # 5 allocations
        ja = FE.train_config(get_experiment(f"face_cnn/culture/jaffe/{preset}"))
        assert (ja.epochs, ja.decay_rate) == pp["per_corpus"]["jaffe"]
        fer_cfg = get_experiment(f"face_cnn/fer2013/{preset}")
        fer = FE.train_config(fer_cfg)
        assert (fer.epochs, fer.decay_rate, fer.batch_size) == (pp["fer_epochs"], pp["fer_decay"], 64)
        assert fer_cfg.trainer.seeds == 3 and fer.eval_every_steps == 100
        assert ck.learning_rate == 0.01 and ck.momentum == 0.9 and ck.batch_size == 16
    cpu = FE.PRESETS["cpu"]                       # the schedules of the committed runs
    assert (cpu["culture_epochs"], cpu["per_corpus"]["jaffe"], cpu["fer_epochs"]) == (80, (300, 0.99), 6)


def test_bad_configs():
    cfg = get_experiment("face_cnn/culture/jaffe/cpu")
    with pytest.raises(ExperimentError, match="SGD"):
        FE.train_config(apply_overrides(cfg, ["optimizer.name=adam"]))
    with pytest.raises(ExperimentError, match="unknown face_cnn model.params"):
        FE.train_config(apply_overrides(cfg, ["model.params.dropout_rate=0.3"]))


def test_culture_experiment_from_the_cli_resumes(tmp_path):
    stores = {"a": save_faces(tmp_path / "face_cnn_a", synthetic_store(n_subjects=5, seed=0), {}),
              "b": save_faces(tmp_path / "face_cnn_b", synthetic_store(n_subjects=3, seed=1), {})}
    args = ["--experiment", "face_cnn/culture/jaffe/cpu", "--seeds", "2", "--model-dir", str(tmp_path / "run"),
            "--override", "data.corpora=[\"a\",\"b\"]", f"data.stores={json.dumps({k: str(v) for k, v in stores.items()})}",
            "trainer.epochs=3", "trainer.batch_size=8", "optimizer.learning_rate=0.05",
            'model.params.arch_overrides={"filters": [4, 4, 8], "kernel_size": 3, "dense_units": 8, "dropout": 0.0}']
    first = run_train(args)
    assert first.returncode == 0, first.stdout + first.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["experiment"] == "face_cnn/culture/jaffe/cpu" and summary["seeds"] == [0, 1]
    assert summary["test"]["num_runs"] == 2 and set(summary["extra_tests"]) == {"b"}
    assert summary["test"]["accuracy"]["mean"] > 0.9            # separable synthetic classes
    rec = json.loads((tmp_path / "run" / "seed_1" / "a" / "result.json").read_text())
    assert len(rec["history"]["train_error"]) == 3 and rec["extra_tests"]["b"]["num_examples"] == 2 * 3 * 3
    assert "seed 1 fold a: best epoch" in first.stdout and "val accuracy" in first.stdout
    assert_rerun_reads_back(args, tmp_path / "run" / "seed_1" / "a" / "result.json")


def test_missing_store_is_a_clear_error(tmp_path):
    args = ["--experiment", "face_cnn/fer2013/cpu", "--seeds", "1", "--model-dir", str(tmp_path / "run"),
            "--override", f'data.stores={json.dumps({"fer2013": str(tmp_path / "nothing")})}']
    r = run_train(args)
    assert r.returncode == 2 and "face_cnn_prepare.py" in r.stderr
