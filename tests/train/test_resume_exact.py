"""A training run killed at any point and re-run equals the uninterrupted run, bit for bit.

One uninterrupted run is the reference; three runs are killed (``os._exit``, like SIGKILL) at a
different point each and re-run with the same command:

* mid-epoch, two steps after a mid-epoch backup (resume restores that step: the remaining
  batches of the epoch, the dropout streams and metric accumulators of that step);
* just after the backup of an epoch end was committed;
* after ``selection.json`` recorded an epoch but before that epoch's backup (the record is
  dropped and the epoch trained again).

Test predictions (probabilities), the selection record of every epoch and the best weights must
be identical.
"""
import json

import h5py
import numpy as np
import pytest

from tests.train.conftest import run_train, tiny_overrides

KILLS = {
    "mid_epoch": {"EMOZOO_FAULT_AFTER_STEPS": "12"},     # epoch 1 step 6 of 8, backup at its step 4
    "after_backup": {"EMOZOO_FAULT_AFTER_BACKUP": "1"},  # the epoch-1 backup is committed, then the kill
    "before_backup": {"EMOZOO_FAULT_BEFORE_BACKUP": "2"},  # epoch 2 in selection.json, its backup not written
}


def _args(store, run_dir):
    # 48 training clips, batch 6 -> 8 steps per epoch; dropout 0.5 (the baseline's) is on
    return ["--experiment", "baseline/emodb/is10/loso", "--seeds", "1", "--model-dir", str(run_dir),
            "--override", *tiny_overrides(store, "trainer.epochs=4", "trainer.patience=0", "data.folds=[0]",
                                          "trainer.batch_size=6", "trainer.backup_every_steps=4",
                                          "trainer.tensorboard=false")]


def _outcome(run_dir):
    fold = next((run_dir / "seed_0").glob("loso_*"))
    pred = np.load(fold / "predictions.npz")
    sel = json.loads((fold / "selection.json").read_text())
    with h5py.File(fold / "best.weights.h5", "r") as f:
        weights = {}
        f.visititems(lambda name, obj: weights.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return fold, pred["prob"], sel, weights


def _run_here(args):
    """The same command in this process (TensorFlow is imported once: the test stays fast)."""
    from emozoo.train.__main__ import main
    assert main(args) == 0


@pytest.fixture(scope="module")
def runs(synth_store, tmp_path_factory):
    """The three killed runs (started together, in their own processes) and the reference run (here)."""
    base = tmp_path_factory.mktemp("resume")
    procs = {p: run_train(_args(synth_store, base / p), env_extra=env, wait=False) for p, env in KILLS.items()}
    _run_here(_args(synth_store, base / "uninterrupted"))
    killed = {p: (proc.communicate(timeout=240)[0], proc.returncode) for p, proc in procs.items()}
    return base, _outcome(base / "uninterrupted"), killed


@pytest.mark.parametrize("point", sorted(KILLS))
def test_killed_run_resumes_to_the_uninterrupted_result(point, runs, synth_store):
    base, reference, killed = runs
    run_dir = base / point
    out, rc = killed[point]
    assert rc == 17 and "[fault injection]" in out, out
    fold = next((run_dir / "seed_0").glob("loso_*"))
    assert not (fold / "result.json").exists()
    meta = json.loads((fold / "backup" / "training_metadata.json").read_text())
    if point == "mid_epoch":
        assert (meta["epoch"], meta["step"]) == (1, 4)
    elif point == "after_backup":
        assert (meta["epoch"], meta["step"]) == (2, 0)
    else:   # selection.json is one epoch ahead of the backup
        assert (meta["epoch"], meta["step"]) == (2, 4)
        assert [e["epoch"] for e in json.loads((fold / "selection.json").read_text())["epochs"]] == [0, 1, 2]

    _run_here(_args(synth_store, run_dir))
    _, prob, sel, weights = _outcome(run_dir)
    _, ref_prob, ref_sel, ref_weights = reference
    assert prob.tobytes() == ref_prob.tobytes()                      # bit for bit
    assert sel["epochs"] == ref_sel["epochs"]                        # every epoch's record, same values
    assert sel["best_epoch"] == ref_sel["best_epoch"] and sel["best"] == ref_sel["best"]
    assert len(sel["starts"]) == 2
    assert weights.keys() == ref_weights.keys()
    assert all(np.array_equal(weights[k], ref_weights[k]) for k in weights)
    assert not (fold / "backup").exists()
