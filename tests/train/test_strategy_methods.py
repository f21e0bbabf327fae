"""Every method on every strategy (issue 19, must-show 2), through ``python -m emozoo.train``:
``--strategy mirrored --cpu-devices 2`` gives the per-epoch losses of the default strategy
(dropout 0, within rel 2e-3), for adv_culture (cross and multi culture), EMODal (the generic
trainer with ``prepare_fold``), the utterance DANN (generic trainer, ``fold_arrays``) and the
conversation DANN (its own runner); and 2-worker ``multi_worker`` runs on localhost of adv_culture
and the conversation DANN (the baseline's is in test_distributed.py). ssgan and face_cnn have
their own tests.

The default run executes in this process (so coverage-based tools map it to the step code), the
mirrored one in a fresh ``python -m emozoo.train`` (logical devices must be set before TensorFlow
starts).
"""
import json

import pytest

from tests.train import method_fixtures as F
from tests.train.conftest import run_train, run_two_workers

# per method: the fixture, and the per-epoch log keys that must agree (losses of every part, and
# the metrics whose aggregation over replicas could differ)
METHODS = {
    "adv_culture_cross_adv": (lambda root: F.adv_culture_cross(root, "adv"),
                              ("loss", "emotion_loss", "culture_loss", "generator_loss", "culture_accuracy", "uar")),
    "adv_culture_multi_confusion": (lambda root: F.adv_culture_multi(root, "adv_confusion"),
                                    ("loss", "emotion_loss", "culture_loss", "confusion_loss", "generator_loss",
                                     "culture_accuracy", "uar")),
    "emodal_both": (F.emodal, ("loss", "common_loss", "hgr_score", "classify_loss", "audio_specific_loss",
                               "visual_specific_loss", "uar", "val_loss", "val_common_loss", "val_uar")),
    "dann_speech": (F.dann_speech, ("loss", "emotion_loss", "domain_loss", "domain_accuracy", "accuracy")),
    "dann_conversation": (F.dann_conversation, ("loss", "emotion_loss", "domain_loss", "domain_accuracy",
                                                "accuracy")),
    # an odd global batch (7 = 4 + 3 rows): Keras's build from the replicas' reduced batch failed (AddN [4] != [3])
    # until the trainer built every multi-replica model from one replica's batch
    "dann_speech_odd_batch": (lambda root: (lambda name, over: (name, over + ["trainer.batch_size=7"]))(
        *F.dann_speech(root)), ("loss", "emotion_loss", "domain_loss", "domain_accuracy", "accuracy")),
}


def _default_run(name, overrides, model_dir):
    from emozoo.experiments import apply_overrides, get_experiment
    from emozoo.train.trainer import run_experiment
    run_experiment(apply_overrides(get_experiment(name), overrides), model_dir, seeds=1, log=lambda *a: None)


def assert_same_epochs(a: list, b: list, keys, rel=2e-3, abs_=2e-3):
    assert len(a) == len(b) > 1, (len(a), len(b))
    for i, (ea, eb) in enumerate(zip(a, b)):
        for key in keys:
            assert key in ea and key in eb, (key, sorted(ea), sorted(eb))
            assert eb[key] == pytest.approx(ea[key], rel=rel, abs=abs_), (f"epoch {i} {key}", ea, eb)


@pytest.mark.parametrize("method", sorted(METHODS))
def test_mirrored_two_cpu_devices_matches_default(method, tmp_path):
    build, keys = METHODS[method]
    name, overrides = build(tmp_path)
    _default_run(name, overrides, tmp_path / "default")
    run = run_train(["--experiment", name, "--seeds", "1", "--override", *overrides,
                     "--model-dir", str(tmp_path / "mirrored"), "--strategy", "mirrored", "--cpu-devices", "2"])
    assert run.returncode == 0, run.stdout + run.stderr
    summary = json.loads((tmp_path / "mirrored" / "summary.json").read_text())
    assert summary["replicas"] == 2 and summary["strategy"] == "MirroredStrategy", summary
    a, b = F.epoch_records(tmp_path / "default"), F.epoch_records(tmp_path / "mirrored")
    assert_same_epochs(a, b, keys)


@pytest.mark.parametrize("method", ["adv_culture_cross_adv", "dann_conversation"])
def test_multi_worker_two_processes_on_localhost(method, tmp_path):
    build, keys = METHODS[method]
    name, overrides = build(tmp_path)
    run_two_workers(lambda env: run_train(["--experiment", name, "--seeds", "1", "--override", *overrides,
                                           "--model-dir", str(tmp_path / "mw"), "--strategy", "multi_worker"],
                                          env_extra=env, wait=False))
    summary = json.loads((tmp_path / "mw" / "summary.json").read_text())
    assert summary["replicas"] == 2, summary
    assert summary["strategy"] in ("MultiWorkerMirroredStrategy", "CollectiveAllReduceStrategy"), summary
    assert 0 <= summary["test"]["uar"]["mean"] <= 1
    # the non-chief worker wrote into its own scratch folder only
    assert (tmp_path / "mw" / ".workers" / "worker_1").is_dir()
    assert not (tmp_path / "mw" / ".workers" / "worker_0").exists()
    # two workers of one CPU replica each split the global batch like two logical CPUs: the
    # default strategy's losses
    _default_run(name, overrides, tmp_path / "default")
    assert_same_epochs(F.epoch_records(tmp_path / "default"), F.epoch_records(tmp_path / "mw"), keys)
