"""emozoo.backbones.probe: protocols, normalisation and heads on synthetic layered features."""
import numpy as np
import pytest

from emozoo.backbones import probe
from emozoo.errors import SplitError


def _table(n_per=40, rows=3, dims=6, informative_row=1, seed=0):
    """Two corpora x 4 speakers x 4 classes; only ``informative_row`` carries the class."""
    rng = np.random.default_rng(seed)
    xs, ys, corpora, speakers, split = [], [], [], [], []
    for c, offset in (("a", 0.0), ("b", 5.0)):
        for s in range(4):
            for i in range(n_per):
                y = i % 4
                x = rng.normal(size=(rows, dims)) + offset          # corpus offset: removed by corpus_znorm
                x[informative_row, y] += 3.0
                xs.append(x)
                ys.append(y)
                corpora.append(c)
                speakers.append(f"{c}/s{s}")
                split.append("train" if s < 3 else "test")
    return probe.LayeredTable(np.asarray(xs, np.float32), np.asarray(ys), np.asarray(corpora), np.asarray(speakers),
                              ("w", "x", "y", "z"), np.asarray(split))


def test_loso_leaves_each_speaker_out_once_inside_its_corpus():
    t = _table()
    folds = list(probe.splits(t, "loso:a"))
    assert [name for name, _, _ in folds] == ["a/s0", "a/s1", "a/s2", "a/s3"]
    seen = np.concatenate([te for _, _, te in folds])
    assert sorted(seen) == sorted(np.flatnonzero(t.corpus == "a"))
    for name, tr, te in folds:
        assert set(t.speaker[te]) == {name}
        assert name not in set(t.speaker[tr]) and set(t.corpus[tr]) == {"a"}


def test_cross_loco_split_kfold_partition_as_named():
    t = _table()
    (_, tr, te), = probe.splits(t, "cross:a->b")
    assert set(t.corpus[tr]) == {"a"} and set(t.corpus[te]) == {"b"}
    (_, tr, te), = probe.splits(t, "loco:b")
    assert set(t.corpus[tr]) == {"a"} and set(t.corpus[te]) == {"b"}
    (_, tr, te), = probe.splits(t, "split:train->test")
    assert set(t.split[tr]) == {"train"} and set(t.split[te]) == {"test"}
    folds = list(probe.splits(t, "kfold:b:2"))
    assert len(folds) == 2
    for _, tr, te in folds:
        assert not set(t.speaker[tr]) & set(t.speaker[te])
    assert sorted(np.concatenate([te for _, _, te in folds])) == sorted(np.flatnonzero(t.corpus == "b"))


@pytest.mark.parametrize("protocol", ["loso:zz", "cross:a->zz", "kfold:a:9", "split:train->dev", "bogus:a"])
def test_bad_protocols_are_clear_errors(protocol):
    with pytest.raises(SplitError):
        list(probe.splits(_table(), protocol))


def test_corpus_znorm_uses_each_corpus_own_statistics():
    t = probe.corpus_znorm(_table())
    for c in ("a", "b"):
        x = t.x[t.corpus == c]
        np.testing.assert_allclose(x.mean(axis=0), 0.0, atol=1e-4)
        np.testing.assert_allclose(x.std(axis=0), 1.0, atol=1e-3)


def test_logistic_probe_reads_the_informative_layer_only():
    t = probe.corpus_znorm(_table())
    good = probe.evaluate_protocol(t, "cross:a->b", "lr", row=1)
    noise = probe.evaluate_protocol(t, "cross:a->b", "lr", row=0)
    assert good["uar"] > 0.9
    assert noise["uar"] < 0.45          # chance is 0.25
    assert good["folds"] == 1 and good["n_test"] == int((t.corpus == "b").sum())
    assert np.asarray(good["confusion"]).sum() == good["n_test"]


def test_logistic_class_balance_matters():
    # 90 % of one class in training: the balanced fit still recalls the rare classes
    rng = np.random.default_rng(1)
    y = np.r_[np.zeros(270, int), np.repeat([1, 2, 3], 10)]
    x = rng.normal(size=(len(y), 4)) + 2.0 * np.eye(4)[y]
    w = probe.fit_logistic(x, y, 4)
    pred = probe.predict_logistic(w, x)
    recalls = [(pred[y == k] == k).mean() for k in range(4)]
    assert min(recalls) > 0.6


def test_weighted_head_learns_to_weight_the_informative_layer():
    t = probe.corpus_znorm(_table())
    res = probe.evaluate_protocol(t, "cross:a->b", "wsum_linear", seed=0)
    assert res["uar"] > 0.9
    assert int(np.argmax(res["layer_weights"])) == 1


def test_run_table_resumes_and_summarises(tmp_path):
    t = probe.corpus_znorm(_table(rows=2))
    saved = []
    res = probe.run_table({"f": t}, ["cross:a->b"], [0], {}, heads=("lr_rows",), save=saved.append, log=lambda m: None)
    assert set(res["f"]["cross:a->b"]) == {"lr_row0", "lr_row1", "lr_mean"}
    assert len(saved) == 3
    # a second call with everything present fits nothing
    probe.run_table({"f": t}, ["cross:a->b"], [0], res, heads=("lr_rows",), save=saved.append, log=lambda m: None)
    assert len(saved) == 3
    summary = probe.summarise(res)["f"]["cross:a->b"]
    assert summary["lr_by_layer"]["1"] > 90 and "lr_mean" in summary


def test_load_layered_reads_a_store_and_refuses_a_missing_feature(tmp_path):
    from emozoo.errors import SchemaError
    from tests.helpers import write_feature_store

    store = write_feature_store(tmp_path / "emodb_is10", corpus="emodb", speakers=3, per_class=2, dim=8)
    t = probe.load_layered({"emodb": str(store)}, "is10")
    assert t.x.shape == (3 * 4 * 2, 1, 8) and (t.y >= 0).all()          # unlabelled clips left out
    assert set(t.corpus) == {"emodb"} and all(s.startswith("emodb/") for s in t.speaker)
    with pytest.raises(SchemaError, match="python -m emozoo.extract --corpus emodb --features whisper_base"):
        probe.load_layered({"emodb": str(store)}, "whisper_base")
    with pytest.raises(SchemaError, match="not a complete TFRecord store"):
        probe.load_layered({"emodb": str(tmp_path / "nothing_here")}, "is10")
