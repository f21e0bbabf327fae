"""Fault tolerance: a training process killed mid-epoch resumes from its backup and finishes."""
import json

from tests.train.conftest import run_train, tiny_overrides


def test_killed_mid_epoch_resumes_and_finishes(synth_store, tmp_path):
    # 4 speakers: 2 train (48 clips) / 1 valid / 1 test; batch 8 -> 6 steps per epoch.
    args = ["--experiment", "baseline/emodb/is10/loso", "--seeds", "1", "--model-dir", str(tmp_path / "run"),
            "--override", *tiny_overrides(synth_store, "trainer.epochs=5", "trainer.patience=0", "data.folds=[0]",
                                          "trainer.backup_every_steps=2", "trainer.tensorboard=false")]
    killed = run_train(args, env_extra={"EMOZOO_FAULT_AFTER_STEPS": "16"})  # epoch 3 (index 2), step 4 of 6
    assert killed.returncode == 17, killed.stdout + killed.stderr
    assert "[fault injection]" in killed.stdout
    fold = next((tmp_path / "run" / "seed_0").glob("loso_*"))
    assert not (fold / "result.json").exists()
    assert (fold / "backup").is_dir()
    sel = json.loads((fold / "selection.json").read_text())
    assert [e["epoch"] for e in sel["epochs"]] == [0, 1]

    resumed = run_train(args)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    result = json.loads((fold / "result.json").read_text())
    sel = json.loads((fold / "selection.json").read_text())
    assert sel["starts"] == [0, 2]                      # second process started at epoch 2, not 0
    assert [e["epoch"] for e in sel["epochs"]] == [0, 1, 2, 3, 4]
    assert result["epochs_run"] == 5 and "test" in result
    assert (tmp_path / "run" / "summary.json").exists()
    assert not (fold / "backup").exists() or not any((fold / "backup").iterdir())  # deleted after success


def test_truncated_backup_is_set_aside_and_the_fold_retrained(synth_store, tmp_path):
    # backups are committed atomically, but a disk error (or a hand edit) can still truncate one
    args = ["--experiment", "baseline/emodb/is10/loso", "--seeds", "1", "--model-dir", str(tmp_path / "run"),
            "--override", *tiny_overrides(synth_store, "trainer.epochs=3", "trainer.patience=0", "data.folds=[0]",
                                          "trainer.backup_every_steps=2", "trainer.tensorboard=false")]
    killed = run_train(args, env_extra={"EMOZOO_FAULT_AFTER_STEPS": "8"})
    assert killed.returncode == 17, killed.stdout + killed.stderr
    fold = next((tmp_path / "run" / "seed_0").glob("loso_*"))
    weights = fold / "backup" / json.loads((fold / "backup" / "training_metadata.json").read_text())["weights"]
    assert weights.exists()
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 3])

    resumed = run_train(args)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "is unreadable" in resumed.stdout
    aside = [p for p in fold.parent.iterdir() if ".broken-" in p.name]
    assert len(aside) == 1 and (aside[0] / "backup" / weights.name).read_bytes() == data[: len(data) // 3]
    sel = json.loads((fold / "selection.json").read_text())
    assert sel["starts"] == [0] and [e["epoch"] for e in sel["epochs"]] == [0, 1, 2]
    assert "test" in json.loads((fold / "result.json").read_text())
