"""``python -m emozoo.train --experiment dann/iemocap/...`` and ``dann/meld/...`` run the Task that
``emozoo.models.dann`` registers for ``dann_conversation`` (conversations are not one feature vector
per clip) inside the one trainer's seed x fold loop."""
import json

import pytest

from emozoo.errors import ExperimentError, SplitError
from emozoo.experiments import apply_overrides, get_experiment, get_runner, get_task, register_task
from emozoo.models.dann import dann_task as T
from tests.models.dann.test_dann_task import _write_store
from tests.train.conftest import assert_rerun_reads_back, run_train

TINY = ["model.params.fusion_units=8", "model.params.gru_units=4", "model.params.num_heads=2",
        "model.params.domain_units=[8]", "optimizer.learning_rate=0.01", "trainer.epochs=2", "trainer.batch_size=4"]


def test_task_is_registered_for_conversation_models_only():
    from emozoo.train.task import Task

    task = get_task("dann_conversation")
    assert isinstance(task, T.ConversationTask) and isinstance(task, Task)
    assert get_runner("dann_conversation") is None     # no loop of its own: the one trainer runs it
    assert get_task("dann") is None                    # the utterance model uses the feature-vector task
    with pytest.raises(ExperimentError, match="already has the task"):
        register_task("dann_conversation", "somewhere:else")


def test_iemocap_experiment_from_the_cli_resumes(tmp_path):
    store = _write_store(tmp_path / "iemocap_text_minilm")
    args = ["--experiment", "dann/iemocap/text/ts_123/dann", "--seeds", "2", "--model-dir", str(tmp_path / "run"),
            "--override", *TINY, f'data.stores={json.dumps({"iemocap_text": str(store)})}']
    first = run_train(args)
    assert first.returncode == 0, first.stdout + first.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["experiment"] == "dann/iemocap/text/ts_123/dann" and summary["seeds"] == [0, 1]
    assert summary["folds"] == ["iemocap/ts_123"] and summary["test"]["num_runs"] == 2
    fold0 = tmp_path / "run" / "seed_0" / "iemocap_ts_123"
    r0 = json.loads((fold0 / "result.json").read_text())
    assert r0["grl_lambda"] == 1.0 and r0["epochs"] == 2 and len(r0["history"]["domain_loss"]) == 2
    dl, classes = T.load_dialogues(store)
    assert r0["test"]["num_examples"] == T.iemocap_fold(dl, classes, "TS_123").sizes["test_labelled"]
    assert (fold0 / "model.weights.h5").exists()
    # the trainer's per-seed report (one fold: its test) and the summary over seeds
    pooled = json.loads((tmp_path / "run" / "seed_0" / "test.json").read_text())
    assert pooled["confusion_matrix"] == r0["test"]["confusion_matrix"]
    assert (tmp_path / "run" / "seed_0" / "test_confusion.png").exists()
    r1 = json.loads((tmp_path / "run" / "seed_1" / "iemocap_ts_123" / "result.json").read_text())
    assert summary["test"]["accuracy"]["values"] == pytest.approx([r0["test"]["accuracy"], r1["test"]["accuracy"]])
    # a re-run reads the finished seeds back instead of training again
    assert_rerun_reads_back(args, tmp_path / "run" / "seed_1" / "iemocap_ts_123" / "result.json")


def test_meld_experiment_fold_and_bad_protocol(tmp_path):
    split = {1: "train", 2: "train", 3: "train", 4: "valid", 5: "test"}
    store = _write_store(tmp_path / "meld_minilm", split_of=lambda s: split[s])
    cfg = apply_overrides(get_experiment("dann/meld/text/7class/ci"),
                          [f'data.stores={json.dumps({"meld": str(store)})}', "data.protocol_kwargs.min_speaker_turns=1"])
    fold = T.experiment_fold(cfg)
    assert fold.name == "meld/7class" and fold.sizes["test_dialogues"] == 2
    # the official dev dialogues are scored beside the test side (the MELD table's dev column)
    dl, classes = T.load_dialogues(store)
    dev_turns = sum(1 for d in dl if d.split == "valid" for e in d.emotion if e)
    assert set(fold.extra) == {"dev"} and int((fold.extra["dev"].y >= 0).sum()) == dev_turns > 0
    bad = apply_overrides(cfg, ["data.protocol=loso"])
    with pytest.raises(SplitError, match="not a conversation protocol"):
        T.experiment_fold(bad)
