"""``python -m emozoo.train --experiment dann/iemocap/...`` and ``dann/meld/...`` run through the
runner that ``emozoo.models.dann`` registers for ``dann_conversation`` (conversations are not one
feature vector per clip, so the generic fold trainer cannot run them)."""
import json

import pytest

from emozoo.errors import ExperimentError, SplitError
from emozoo.experiments import apply_overrides, get_experiment, get_runner, register_runner
from emozoo.models.dann import dann_task as T
from tests.models.dann.test_dann_task import _write_store
from tests.train.conftest import assert_rerun_reads_back, run_train

TINY = ["model.params.fusion_units=8", "model.params.gru_units=4", "model.params.num_heads=2",
        "model.params.domain_units=[8]", "optimizer.learning_rate=0.01", "trainer.epochs=2", "trainer.batch_size=4"]


def test_runner_is_registered_for_conversation_models_only():
    assert get_runner("dann_conversation") is T.run_experiment
    assert get_runner("dann") is None                 # the utterance model uses the generic trainer
    with pytest.raises(ExperimentError, match="module:function"):
        register_runner("x", "no_colon")
    with pytest.raises(ExperimentError, match="already has"):
        register_runner("dann_conversation", "somewhere:else")


def test_iemocap_experiment_from_the_cli_resumes(tmp_path):
    store = _write_store(tmp_path / "iemocap_text_minilm")
    args = ["--experiment", "dann/iemocap/text/ts_123/dann", "--seeds", "2", "--model-dir", str(tmp_path / "run"),
            "--override", *TINY, f'data.stores={json.dumps({"iemocap_text": str(store)})}']
    first = run_train(args)
    assert first.returncode == 0, first.stdout + first.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["experiment"] == "dann/iemocap/text/ts_123/dann" and summary["seeds"] == [0, 1]
    assert summary["folds"] == ["iemocap/ts_123"] and summary["test"]["num_runs"] == 2
    r0 = json.loads((tmp_path / "run" / "seed_0" / "result.json").read_text())
    assert r0["grl_lambda"] == 1.0 and r0["epochs"] == 2
    dl, classes = T.load_dialogues(store)
    assert r0["test"]["num_examples"] == T.iemocap_fold(dl, classes, "TS_123").sizes["test_labelled"]
    assert (tmp_path / "run" / "seed_0" / "model.weights.h5").exists()
    assert (tmp_path / "run" / "seed_0" / "test_confusion.png").exists()
    # a re-run reads the finished seeds back instead of training again
    assert_rerun_reads_back(args, tmp_path / "run" / "seed_1" / "result.json")


def test_meld_experiment_fold_and_bad_protocol(tmp_path):
    split = {1: "train", 2: "train", 3: "train", 4: "valid", 5: "test"}
    store = _write_store(tmp_path / "meld_minilm", split_of=lambda s: split[s])
    cfg = apply_overrides(get_experiment("dann/meld/text/7class/ci"),
                          [f'data.stores={json.dumps({"meld": str(store)})}', "data.protocol_kwargs.min_speaker_turns=1"])
    fold = T.experiment_fold(cfg)
    assert fold.name == "meld/7class" and fold.sizes["test_dialogues"] == 2
    bad = apply_overrides(cfg, ["data.protocol=loso"])
    with pytest.raises(SplitError, match="not a conversation protocol"):
        T.experiment_fold(bad)
