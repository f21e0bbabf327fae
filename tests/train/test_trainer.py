"""End-to-end training on a synthetic store, in process: artefacts, TensorBoard content, summary."""
import json

import numpy as np
import pytest

from emozoo.errors import SchemaError, SplitError
from emozoo.experiments import apply_overrides, get_experiment
from emozoo.train.data import load_table, make_folds
from tests.train.conftest import tiny_overrides


def _tags(event_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(event_dir), size_guidance={"tensors": 0, "images": 0})
    acc.Reload()
    t = acc.Tags()
    return set(t["tensors"]) | set(t["scalars"]) | set(t["images"])


@pytest.fixture(scope="module")
def run(synth_store, tmp_path_factory):
    from emozoo.train.trainer import run_experiment

    cfg = apply_overrides(get_experiment("baseline/emodb/is10/loso"),
                          tiny_overrides(synth_store, "trainer.epochs=4", "data.folds=[0]"))
    out = tmp_path_factory.mktemp("run")
    summary = run_experiment(cfg, out, seeds=2, log=lambda *a: None)
    return out, summary


def test_folds_are_speaker_disjoint_and_normalisation_uses_train_only(synth_store):
    cfg = apply_overrides(get_experiment("baseline/emodb/is10/loso"), tiny_overrides(synth_store))
    folds, classes = make_folds(cfg.data)
    assert classes == ("neutral", "happy", "angry", "sad") and len(folds) == 4
    for f in folds:
        tr, va, te = (set(t.meta["speaker"]) for t in (f.train, f.valid, f.test))
        assert len(te) == 1 and len(va) == 1 and not (tr & te) and not (tr & va) and not (va & te)
        assert (f.train.y >= 0).all() and len(f.test) == 24  # unlabelled clips dropped


def test_run_outputs_and_summary(run):
    out, summary = run
    assert summary["seeds"] == [0, 1] and summary["test"]["num_runs"] == 2
    for k in ("accuracy", "uar", "macro_f1", "macro_f1_uar_map", "weighted_f1"):
        v = summary["test"][k]
        assert 0 <= v["mean"] <= 1 and len(v["values"]) == 2
        assert v["std"] == pytest.approx(np.std(v["values"], ddof=1))
    assert json.loads((out / "summary.json").read_text())["experiment"] == "baseline/emodb/is10/loso"
    assert (out / "summary.md").exists() and (out / "config.json").exists()
    fold = out / "seed_0" / "loso_synth_spk0"
    for name in ("best.weights.h5", "selection.json", "predictions.npz", "result.json"):
        assert (fold / name).exists(), name
    assert (out / "seed_1" / "test_confusion.png").exists()
    with np.load(fold / "predictions.npz", allow_pickle=False) as z:
        assert z["y_true"].shape == z["y_pred"].shape == (24,)
    # model selection on validation UAR: the best epoch has the highest val_uar
    sel = json.loads((fold / "selection.json").read_text())
    uars = [e["val_uar"] for e in sel["epochs"]]
    tied = [e for e in sel["epochs"] if abs(e["val_uar"] - max(uars)) <= 1e-9]
    assert sel["best_epoch"] == min(tied, key=lambda e: e["val_loss"])["epoch"]  # ties -> lower val_loss
    assert sel["best"] == pytest.approx(max(uars))


def test_tensorboard_content(run):
    out, _ = run
    logs = out / "seed_0" / "loso_synth_spk0" / "logs"
    train = _tags(logs / "train")
    assert {"epoch_loss", "epoch_emotion_loss", "epoch_learning_rate", "epoch_uar"} <= train
    valid = _tags(logs / "validation")
    assert {"epoch_uar", "epoch_macro_f1", "epoch_accuracy", "epoch_emotion_loss", "confusion_matrix"} <= valid
    assert "confusion_matrix" in _tags(logs / "test")
    proj = logs / "projector"
    assert "metadata.tsv" in (proj / "projector_config.pbtxt").read_text()
    rows = (proj / "metadata.tsv").read_text().splitlines()
    assert rows[0].split("\t") == ["label", "split", "speaker", "corpus", "culture"]
    assert len(rows) - 1 == 48 + 24  # train (2 speakers) + test (1 speaker), labelled clips


def test_rerun_skips_finished_folds(run, synth_store):
    from emozoo.train.trainer import run_experiment

    out, summary = run
    cfg = apply_overrides(get_experiment("baseline/emodb/is10/loso"),
                          tiny_overrides(synth_store, "trainer.epochs=4", "data.folds=[0]"))
    before = (out / "seed_0" / "loso_synth_spk0" / "result.json").stat().st_mtime_ns
    again = run_experiment(cfg, out, seeds=2, log=lambda *a: None)
    assert again["test"]["uar"]["values"] == summary["test"]["uar"]["values"]
    assert (out / "seed_0" / "loso_synth_spk0" / "result.json").stat().st_mtime_ns == before


def test_evaluate_run_rescoring_matches(run):
    from emozoo.evaluate import evaluate_run

    out, summary = run
    s = evaluate_run(out)
    for k in ("accuracy", "uar", "macro_f1"):
        assert s[k]["values"] == pytest.approx(summary["test"][k]["values"])
    assert (out / "evaluation" / "seed_0.md").exists() and (out / "evaluation" / "seed_0_confusion.png").exists()


def test_missing_store_and_bad_fold_errors(synth_store, tmp_path):
    cfg = apply_overrides(get_experiment("baseline/emodb/is10/loso"),
                          [f'data.stores={json.dumps({"emodb": str(tmp_path / "none")})}'])
    with pytest.raises(SchemaError, match="python -m emozoo.extract"):
        make_folds(cfg.data)
    cfg = apply_overrides(get_experiment("baseline/emodb/is10/loso"), tiny_overrides(synth_store, "data.folds=[9]"))
    with pytest.raises(SplitError, match="out of range"):
        make_folds(cfg.data)
    with pytest.raises(SchemaError, match="label set"):
        load_table(synth_store, "is10", "neutral,happy")


def test_frame_sequence_store_gets_a_clear_error(tmp_path):
    from emozoo.data.tfrecord import FeatureSpec, StoreSpec, write_store

    rng = np.random.default_rng(0)
    examples = [{"clip_id": f"c{i}", "corpus": "synth", "speaker": f"s{i % 2}", "culture": "x", "split": "",
                 "emotion": "happy", "label": 1, "dialogue_id": "", "turn_index": -1,
                 "fbank": rng.normal(size=(5 + i, 4)).astype(np.float32)} for i in range(3)]
    spec = StoreSpec.with_meta([FeatureSpec("fbank", "float32", (None, 4))], classes=("neutral", "happy", "angry", "sad"),
                               label_set="4class")
    write_store(examples, tmp_path / "fbank", spec, split="all")
    with pytest.raises(SchemaError, match="fixed-size vector per clip"):
        load_table(tmp_path / "fbank", "fbank", "4class")


def test_model_dir_of_another_config_is_refused(run, synth_store):
    from emozoo.errors import ExperimentError
    from emozoo.train.trainer import run_experiment

    out, _ = run
    cfg = apply_overrides(get_experiment("baseline/emodb/is10/loso"),
                          tiny_overrides(synth_store, "trainer.epochs=5", "data.folds=[0]"))
    with pytest.raises(ExperimentError, match="different config"):
        run_experiment(cfg, out, seeds=1, log=lambda *a: None)


def test_a_run_folder_refuses_another_strategy_or_device_count(synth_store, tmp_path):
    """A folder trained under one strategy/replica count must not return its cached result (or resume)
    for a command with another: the README's `--strategy mirrored` line reused the default run."""
    import pytest as _pytest

    from emozoo.errors import ExperimentError
    from emozoo.experiments import apply_overrides, get_experiment
    from emozoo.train.trainer import run_experiment
    from tests.train.conftest import tiny_overrides

    cfg = apply_overrides(get_experiment("baseline/emodb/is10/loso"),
                          tiny_overrides(synth_store, "trainer.epochs=1", "data.folds=[0]", "trainer.tensorboard=false"))
    run_experiment(cfg, tmp_path / "run", seeds=1, log=lambda *a: None)
    assert json.loads((tmp_path / "run" / "run.json").read_text()) == {"strategy": "_DefaultDistributionStrategy",
                                                                      "replicas": 1}

    class _Two:                                   # what a 2-device MirroredStrategy reports
        num_replicas_in_sync = 2

        def scope(self):
            raise AssertionError("must refuse before training")

    _Two.__name__ = "MirroredStrategy"
    with _pytest.raises(ExperimentError, match="MirroredStrategy on 2"):
        run_experiment(cfg, tmp_path / "run", strategy=_Two(), seeds=1, log=lambda *a: None)


def test_default_model_dir_separates_strategies(monkeypatch, tmp_path):
    from emozoo.train import __main__ as cli

    seen = {}
    monkeypatch.setattr("emozoo.train.trainer.run_experiment", lambda cfg, model_dir, **kw: seen.setdefault("dirs", []).append(model_dir))
    monkeypatch.setattr("emozoo.train.strategies.set_cpu_devices", lambda n: None)
    cli.main(["--experiment", "baseline/emodb/is10/loso"])
    cli.main(["--experiment", "baseline/emodb/is10/loso", "--strategy", "mirrored", "--cpu-devices", "2"])
    assert seen["dirs"] == ["runs/baseline_emodb_is10_loso", "runs/baseline_emodb_is10_loso_mirrored_cpu2"]


@pytest.mark.parametrize("transductive,n_folds", [(True, 1), (False, 2), (None, 1)])
def test_cross_corpus_transductive_has_the_one_meaning_of_target_splits(tmp_path, transductive, n_folds):
    """``python -m emozoo.train``'s cross_corpus uses cross_culture_split.target_splits: true (the
    default) = all of the target unlabelled and tested, one fold; false = target speakers in halves."""
    import dataclasses as dc

    from tests.helpers import write_feature_store
    src = write_feature_store(tmp_path / "src_is10", corpus="emodb", speakers=3, seed=1)
    tgt = write_feature_store(tmp_path / "tgt_is10", corpus="casia", speakers=4, seed=2)
    cfg = get_experiment("adv_culture/cross/emodb_to_casia/is10/adv")
    kw = {} if transductive is None else {"transductive": transductive}
    data = dc.replace(cfg.data, stores={"emodb": str(src), "casia": str(tgt)}, protocol_kwargs=kw)
    folds, _ = make_folds(data)
    assert len(folds) == n_folds
    spk = lambda t: {f"{c}/{s}" for c, s in zip(t.meta["corpus"], t.meta["speaker"])}  # noqa: E731
    for f in folds:
        test_spk, unl_spk = spk(f.test), spk(f.unlabelled)
        assert not spk(f.train) & test_spk and set(f.train.meta["corpus"]) == {"emodb"}
        if n_folds == 1:
            assert test_spk == unl_spk and len(test_spk) == 4       # all of B, unlabelled and tested
        else:
            assert not test_spk & unl_spk and len(test_spk | unl_spk) == 4   # disjoint halves


def test_train_fold_can_return_the_selected_model(run, synth_store, tmp_path):
    """A zoo recipe trains one fold through the trainer and exports the model it returns: the model holds the
    selected epoch's weights (its test predictions are the fold's saved ones), and a finished fold is refused."""
    import tensorflow as tf

    from emozoo.errors import ExperimentError
    from emozoo.train.callbacks import predict_logits
    from emozoo.train.trainer import train_fold

    cfg = apply_overrides(get_experiment("baseline/emodb/is10/loso"),
                          tiny_overrides(synth_store, "trainer.epochs=8", "data.folds=[0]", "trainer.tensorboard=false",
                                         "optimizer.learning_rate=0.3", "trainer.patience=0"))
    (fold, *_), classes = make_folds(cfg.data)
    res, model = train_fold(cfg, fold, 0, classes, 0, tmp_path / "f", tf.distribute.get_strategy(), return_model=True)
    saved = np.load(tmp_path / "f" / "predictions.npz")
    np.testing.assert_array_equal(np.asarray(predict_logits(model, fold.test.x)).argmax(-1), saved["y_pred"])
    assert res["best_epoch"] == json.loads((tmp_path / "f" / "selection.json").read_text())["best_epoch"]
    assert res["best_epoch"] < res["epochs_run"] - 1, "the check below needs a selected epoch before the last"
    held = [w.copy() for w in model.get_weights()]
    model.load_weights(tmp_path / "f" / "best.weights.h5")
    for a, b in zip(held, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ExperimentError, match="finished fold"):
        train_fold(cfg, fold, 0, classes, 0, tmp_path / "f", tf.distribute.get_strategy(), return_model=True)
