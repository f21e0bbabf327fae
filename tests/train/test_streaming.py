"""Streaming input (issue 19): the tf.data pipeline over a store's shards yields exactly the rows of
the protocol's folds, once per epoch, in a seeded order, and trains like the in-memory path."""
import dataclasses
import json

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from emozoo.data.store import CorruptShardError  # noqa: E402
from emozoo.data.tfrecord import FeatureSpec, StoreSpec, shard_paths, write_store  # noqa: E402
from emozoo.errors import ExperimentError, SchemaError  # noqa: E402
from emozoo.experiments.config import DataConfig, ExperimentConfig, apply_overrides  # noqa: E402
from emozoo.train import streaming  # noqa: E402
from emozoo.train.data import finalize, make_folds  # noqa: E402
from emozoo.train.streaming import (Membership, StreamedFold, load_meta, make_stream_folds,  # noqa: E402
                                    stream_fold_dataset, streaming_mode)
from tests.helpers import CLASSES_4, write_feature_store  # noqa: E402
from tests.train.test_corrupt_store import _break  # noqa: E402


def _sharded_store(path, corpus="synth", speakers=5, per_class=5, dim=6, shards=4, seed=0):
    """A fixture store written with several shards (the helper writes one)."""
    one = write_feature_store(path.parent / f"_{path.name}_one", corpus=corpus, speakers=speakers,
                              per_class=per_class, dim=dim, seed=seed)
    from emozoo.data.tfrecord import iter_examples, load_spec
    rows = []
    for ex in iter_examples(one):
        row = {k: (v[0].decode() if v.dtype == object else v[0]) for k, v in ex.items() if k != "is10"}
        row["is10"] = ex["is10"]
        rows.append(row)
    spec = StoreSpec.with_meta([FeatureSpec("is10", "float32", (dim,))], classes=load_spec(one).classes,
                               label_set="4class")
    write_store(rows, path, spec, split="all", num_shards=shards)
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return _sharded_store(tmp_path_factory.mktemp("stream") / "synth_is10")


def _data(store, **kw):
    return DataConfig(corpora=("emodb",), stores={"emodb": str(store)}, features="is10", **kw)


def _keys(t):
    return np.char.add(np.char.add(t.meta["corpus"], "/"), t.meta["clip_id"])


def _epoch_rows(ds, batches=None):
    """(keys, labels, x) of the batches of ``ds`` (made ``with_keys``), in order."""
    out = list(ds.as_numpy_iterator())
    if batches is not None:
        assert len(out) == batches
    return (np.concatenate([b[-1] for b in out]).astype(str), np.concatenate([b[1] for b in out]),
            np.concatenate([b[0] for b in out]))


@pytest.mark.parametrize("protocol,kw", [("loso", {}), ("speaker_kfold", {"k": 2}), ("all", {})])
def test_stream_yields_exactly_the_folds_rows(store, protocol, kw):
    data = _data(store, protocol=protocol, protocol_kwargs=kw)
    mem, classes = make_folds(data)
    streamed, classes2 = make_stream_folds(data)
    assert classes == classes2 and [f.name for f in mem] == [f.name for f in streamed]
    for f, s in zip(mem, streamed):
        assert isinstance(s, StreamedFold) and s.train.x.shape == (len(f.train), 0) and s.input_dim == 6
        for members in (s.members, Membership.of(s.train)):          # compact speaker keys, and clip keys
            keys, y, x = _epoch_rows(stream_fold_dataset(store, "is10", members=members, batch_size=7, seed=3,
                                                         with_keys=True, shuffle_buffer=16),
                                     batches=-(-len(f.train) // 7))
            assert len(keys) == len(set(keys)) == len(f.train)       # every row once
            want = dict(zip(_keys(f.train), zip(f.train.y, f.train.x)))
            assert set(keys) == set(want)
            for k, yy, xx in zip(keys, y, x):
                assert yy == want[k][0]
                np.testing.assert_array_equal(xx, want[k][1])
        assert s.members.kind == "speaker"
        s.read_eval_parts()                                          # what prepare_model does first
        for part in ("valid", "test"):                               # read into memory, same order
            a, b = getattr(f, part), getattr(s, part)
            if a is None:
                assert b is None
                continue
            np.testing.assert_array_equal(a.x, b.x)
            np.testing.assert_array_equal(a.y, b.y)
            assert list(_keys(a)) == list(_keys(b))


def test_cross_corpus_reads_each_side_from_its_store(tmp_path, store):
    target = _sharded_store(tmp_path / "other_is10", corpus="other", speakers=4, shards=2, seed=1)
    data = DataConfig(corpora=("emodb",), target="ravdess", stores={"emodb": str(store), "ravdess": str(target)},
                      features="is10", protocol="cross_corpus", protocol_kwargs={"transductive": False})
    mem, _ = make_folds(data)
    streamed, _ = make_stream_folds(data)
    assert len(mem) == len(streamed) == 2
    for f, s in zip(mem, streamed):
        assert s._stores_of(s.train) == [str(store.resolve())]
        assert s._stores_of(s.test) == [str(target.resolve())]
        assert s.test.x.shape == (len(f.test), 0)                    # nothing read before the fold's turn
        s.read_eval_parts()
        np.testing.assert_array_equal(f.test.x, s.test.x)
        keys, _, _ = _epoch_rows(s.train_dataset(8, seed=0, epochs=1, with_keys=True))
        assert sorted(keys) == sorted(_keys(f.train))


def test_each_epoch_covers_each_row_once_and_order_depends_on_seed(store):
    [fold], _ = make_stream_folds(_data(store, protocol="all"))
    n, bs = len(fold.train), 8
    steps = -(-n // bs)

    def run(seed, **kw):
        ds = fold.train_dataset(bs, seed=seed, epochs=3, with_keys=True, shuffle_buffer=32, **kw)
        keys, _, x = _epoch_rows(ds, batches=3 * steps)
        return keys, x

    keys, x = run(0)
    epochs = [keys[i * n:(i + 1) * n] for i in range(3)]
    for e in epochs:
        assert sorted(e) == sorted(_keys(fold.train))
    assert list(epochs[0]) != list(epochs[1]), "each epoch has its own order"
    again, x2 = run(0)
    assert list(again) == list(keys)
    np.testing.assert_array_equal(x, x2)
    other, _ = run(1)
    assert list(other) != list(keys)
    rows, _ = run(0, shuffle="rows")                                     # the per-row buffer variant
    assert sorted(rows[:n]) == sorted(_keys(fold.train)) and list(rows) == list(run(0, shuffle="rows")[0])
    # resume: epochs 1.. and the batches of epoch 1 after the first 3 are the same as in the full stream
    tail = fold.train_dataset(bs, seed=0, epochs=3, start_epoch=1, skip=3, with_keys=True, shuffle_buffer=32)
    tkeys, _, _ = _epoch_rows(tail, batches=2 * steps - 3)
    assert list(tkeys) == list(keys[n + 3 * bs:])


def test_window_permutation_depends_on_the_seed(tmp_path):
    """On a one-shard store the shard order cannot differ: the seed must still change the rows' order."""
    one = write_feature_store(tmp_path / "one_is10", speakers=2, per_class=8, dim=4)
    table = load_meta(one, "is10")
    orders = [_epoch_rows(stream_fold_dataset(one, "is10", members=Membership.of(table), batch_size=8, seed=s,
                                              with_keys=True))[0].tolist() for s in (0, 0, 1)]
    assert orders[0] == orders[1] and orders[0] != orders[2] and sorted(orders[0]) == sorted(orders[2])
    plain = _epoch_rows(stream_fold_dataset(one, "is10", members=Membership.of(table), batch_size=8,
                                            shuffle=False, with_keys=True))[0]
    assert list(plain) == list(_keys(table)) != orders[0]        # shuffle=False: store order


def test_class_weights_and_options(store):
    [fold], _ = make_stream_folds(_data(store, protocol="all"))
    y = fold.train.y
    w = (y + 1) * 0.5                       # per-row weights, one value per class (as class_weights gives)
    batches = list(fold.train_dataset(16, seed=0, epochs=1, weights=w).as_numpy_iterator())
    per_class = {int(c): float(w[y == c][0]) for c in np.unique(y)}
    for bx, by, bw in batches:
        assert bx.shape[1:] == (6,)
        np.testing.assert_allclose(bw, [per_class[int(c)] for c in by])
    ds = fold.train_dataset(16, seed=0, epochs=1)
    assert ds.options().autotune.enabled is False and ds.options().deterministic is True


def test_normalisation_from_one_pass_equals_the_in_memory_fit(store):
    from emozoo.models import build_model
    data = _data(store, protocol="loso")
    [f, *_], _ = make_folds(data)
    [s, *_], _ = make_stream_folds(data)
    a = build_model("baseline", num_classes=4, input_dim=6, generator_units=[4], classifier_units=[])
    b = build_model("baseline", num_classes=4, input_dim=6, generator_units=[4], classifier_units=[])
    a.fit_normalization(f.train.x)
    s.prepare_model(b)
    np.testing.assert_allclose(b.standardization.mean.numpy(), a.standardization.mean.numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(b.standardization.std.numpy(), a.standardization.std.numpy(), rtol=1e-5)
    hooked = build_model("adv_culture", num_classes=4, input_dim=6, num_cultures=2)
    with pytest.raises(ExperimentError, match="cannot stream: set data.streaming=false"):
        s.prepare_model(hooked)


def test_trainer_streaming_matches_in_memory(store, tmp_path):
    from emozoo.train.trainer import run_experiment
    base = ExperimentConfig("stream_check", data=_data(store, protocol="loso", folds=(0, 2)))
    over = ["model.params.generator_units=[16]", "model.params.classifier_units=[]", "model.params.dropout=0.0",
            "optimizer.learning_rate=0.01", "trainer.batch_size=8", "trainer.epochs=6", "trainer.patience=0",
            "trainer.class_weighting=balanced", "trainer.projector_examples=20"]
    logs = []
    runs = {}
    for mode in ("false", "true"):
        cfg = apply_overrides(base, over + [f"data.streaming={mode}"])
        runs[mode] = run_experiment(cfg, tmp_path / mode, log=logs.append)
    mem, st = runs["false"]["test"], runs["true"]["test"]
    for key in ("accuracy", "uar"):
        assert abs(mem[key]["mean"] - st[key]["mean"]) <= 0.1, (key, mem[key], st[key])
    assert st["accuracy"]["mean"] > 0.6                 # it learned (chance is 0.25)
    assert json.loads((tmp_path / "true" / "config.json").read_text())["data"]["streaming"] == "True"
    [f0, *_], _ = make_folds(base.data)
    fold_dir = tmp_path / "true" / "seed_0" / f0.slug
    pred = np.load(fold_dir / "predictions.npz")
    assert list(pred["clip_id"]) == list(f0.test.meta["clip_id"])
    assert (fold_dir / "logs" / "projector").is_dir()


def test_streaming_mode_and_auto_threshold(store, monkeypatch):
    assert streaming_mode("auto") == "auto" and streaming_mode("True") is True and streaming_mode(False) is False
    with pytest.raises(ExperimentError, match="data.streaming must be auto, true or false"):
        streaming_mode("sometimes")
    assert ExperimentConfig("x").to_json()["data"].get("streaming") is None   # earlier config.json stay equal
    folds, _ = streaming.fold_source(_data(store, protocol="all"))
    assert not isinstance(folds[0], StreamedFold)                  # a small store stays in memory
    monkeypatch.setattr(streaming, "STREAM_THRESHOLD_BYTES", 100)
    said = []
    folds, _ = streaming.fold_source(_data(store, protocol="all"), log=said.append)
    assert isinstance(folds[0], StreamedFold) and "streaming them from the shards" in said[0]
    folds, _ = streaming.fold_source(_data(store, protocol="all", streaming="false"))
    assert not isinstance(folds[0], StreamedFold)


@pytest.mark.parametrize("how", ["truncated", "random", "boundary"])
def test_corrupt_shard_is_named(tmp_path, how):
    path = _sharded_store(tmp_path / f"{how}_is10", shards=2)
    shard = shard_paths(path)[1]
    _break(shard, how)
    with pytest.raises(CorruptShardError) as exc:
        make_stream_folds(_data(path, protocol="all"))
    msg = str(exc.value)
    assert "\n" not in msg and f"python -m emozoo.validate {path.resolve()}" in msg
    if how != "boundary":
        assert f"shard {shard.rsplit('/', 1)[-1]} does not decode" in msg, msg
    else:                                   # cut near the middle: at a record boundary or inside one
        assert "examples read where spec.json declares" in msg or "does not decode" in msg, msg


def test_train_cli_streaming_on_a_truncated_shard(tmp_path):
    from tests.train.conftest import run_train, tiny_overrides
    path = _sharded_store(tmp_path / "cli_is10", shards=2, speakers=3)
    _break(shard_paths(path)[0], "truncated")
    out = run_train(["--experiment", "baseline/emodb/is10/loso", "--override", *tiny_overrides(path),
                     "trainer.epochs=1", "data.streaming=true", "--model-dir", str(tmp_path / "run")])
    assert out.returncode == 2, out.stderr[-3000:]
    assert "Traceback" not in out.stderr
    [line] = [ln for ln in out.stderr.splitlines() if ln.startswith("error:")]
    assert "does not decode" in line


@pytest.mark.parametrize("label,emotion", [(7, "bored"), (1, "sad")])
def test_unknown_label_is_refused(tmp_path, label, emotion):
    rows = []
    for i in range(8):
        rows.append({"clip_id": f"c{i}", "corpus": "synth", "speaker": f"s{i % 2}", "culture": "x", "split": "",
                     "emotion": CLASSES_4[i % 4], "label": i % 4, "dialogue_id": "", "turn_index": -1,
                     "is10": np.full(3, i, np.float32)})
    rows[5].update(label=label, emotion=emotion)
    spec = StoreSpec.with_meta([FeatureSpec("is10", "float32", (3,))], classes=CLASSES_4, label_set="4class")
    write_store(rows, tmp_path / "bad_is10", spec)
    with pytest.raises(SchemaError, match=f"clip synth/c5 has label {label} .*not a class of the store's label set"):
        load_meta(tmp_path / "bad_is10", "is10")


def test_bad_arguments_are_refused(store):
    table = load_meta(store, "is10")
    members = Membership.of(table)
    with pytest.raises(SchemaError, match="has no feature 'mfcc'"):
        stream_fold_dataset(store, "mfcc", members=members, batch_size=4)
    with pytest.raises(ExperimentError, match="batch_size must be >= 1"):
        stream_fold_dataset(store, "is10", members=members, batch_size=0)
    with pytest.raises(ExperimentError, match="shuffle must be"):
        stream_fold_dataset(store, "is10", members=members, batch_size=4, shuffle="yes")


def test_frame_level_store_streams(tmp_path):
    rng = np.random.default_rng(0)
    rows = [{"clip_id": f"c{i}", "corpus": "synth", "speaker": f"s{i % 3}", "culture": "x", "split": "",
             "emotion": CLASSES_4[i % 4], "label": i % 4, "dialogue_id": "", "turn_index": -1,
             "mel": rng.normal(size=(5, 4)).astype(np.float32)} for i in range(30)]
    spec = StoreSpec.with_meta([FeatureSpec("mel", "float32", (5, 4))], classes=CLASSES_4, label_set="4class")
    write_store(rows, tmp_path / "frames", spec, num_shards=3)
    table = load_meta(tmp_path / "frames", "mel")
    x, y = next(iter(stream_fold_dataset(tmp_path / "frames", "mel", members=Membership.of(table),
                                         batch_size=30, seed=0)))
    assert x.shape == (30, 5, 4) and sorted(y.numpy().tolist()) == sorted(r["label"] for r in rows)
    by_first = {float(r["mel"][0, 0]): r["mel"] for r in rows}
    for xx in x.numpy():
        np.testing.assert_array_equal(xx, by_first[float(xx[0, 0])])


def test_streaming_under_mirrored_strategy_matches_default(tmp_path, store):
    """The streamed dataset (with its lookup table) distributes over 2 CPU replicas: same fold result."""
    from tests.train.conftest import run_train, tiny_overrides
    results = {}
    for strategy in ("default", "mirrored"):
        out = run_train(["--experiment", "baseline/emodb/is10/loso", "--override", *tiny_overrides(store),
                         "trainer.epochs=2", "data.streaming=true", "model.params.dropout=0.0", "data.folds=0",
                         "--strategy", strategy, "--cpu-devices", "2", "--model-dir", str(tmp_path / strategy)])
        assert out.returncode == 0, out.stderr[-3000:]
        [res] = list((tmp_path / strategy).glob("seed_0/*/result.json"))
        results[strategy] = json.loads(res.read_text())
    a, b = results["default"], results["mirrored"]
    assert a["best_epoch"] == b["best_epoch"] and a["sizes"] == b["sizes"]
    assert a["test"]["confusion_matrix"] == b["test"]["confusion_matrix"]
    assert abs(a["best_val_uar"] - b["best_val_uar"]) < 1e-6
