"""EmoBox partitions: reading, key matching to our clips (incl. missing clips), labels, the evaluate path."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from emozoo.data import emobox
from emozoo.data.emobox import (EmoBoxCorpus, emobox_folds, format_missing, load_label_map, match_entries,
                                missing_report, read_partition)
from emozoo.data.manifest import Manifest, ManifestRow
from emozoo.errors import LabelError, ManifestError, SplitError


def _write_jsonl(path: Path, entries):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(e) + "\n" for e in entries))
    return path


def _entry(key, emo, **kw):
    return {"key": key, "dataset": key.split("-")[0], "wav": f"downloads/{key}.wav", "sample_rate": 16000,
            "length": 1.5, "emo": emo, **kw}


def _casia_manifest(speakers=("wangzhe", "ZhaoZuoxiang", "liuchanhg", "zhaoquanyin"), sentences=(201, 202)):
    rows = []
    for s in speakers:
        for emo in ("angry", "fear", "happy", "neutral", "sad", "surprise"):
            for n in sentences:
                rows.append(ManifestRow(clip_id=f"{n}-{s}-{emo}", corpus="casia", speaker=s, emotion=emo, label=emo,
                                        path=f"/nowhere/{s}/{emo}/{n}.flac"))
    return Manifest(rows, name="casia")


CASIA_MAP = {"neutral": "Neutral", "angry": "Angry", "surprise": "Surprise", "sad": "Sad", "happy": "Happy",
             "fear": "Fear"}


def _write_casia_emobox(root: Path, speakers, *, drop_clip: str = "", extra_test=()):
    """EmoBox-style CASIA partitions: fold k tests speaker k (EmoBox lower-cases speaker names)."""
    (root / "casia").mkdir(parents=True, exist_ok=True)
    (root / "casia" / "label_map.json").write_text(json.dumps(CASIA_MAP))
    keys = {s: [f"casia-{n}-{s.lower()}-{e}" for e in CASIA_MAP for n in (201, 202)] for s in speakers}
    for k, test_spk in enumerate(speakers, 1):
        tr = [_entry(key, key.rsplit("-", 1)[1]) for s in speakers if s != test_spk for key in keys[s]]
        te = [_entry(key, key.rsplit("-", 1)[1]) for key in keys[test_spk]] + [_entry(x, "sad") for x in extra_test if k == 1]
        _write_jsonl(root / "casia" / f"fold_{k}" / f"casia_train_fold_{k}.jsonl", tr)
        _write_jsonl(root / "casia" / f"fold_{k}" / f"casia_test_fold_{k}.jsonl", te)
    return root


def test_read_partition_fields_and_errors(tmp_path):
    p = _write_jsonl(tmp_path / "p.jsonl", [_entry("emodb-03a01Wa", "anger"), _entry("emodb-03a01Nc", "neutral")])
    es = read_partition(p)
    assert [e.key for e in es] == ["emodb-03a01Wa", "emodb-03a01Nc"]
    assert es[0].clip_id == "03a01Wa" and es[0].corpus == "emodb" and es[0].sample_rate == 16000 and es[0].line == 1
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(_entry("emodb-03a01Wa", "anger")) + "\n{not json\n")
    with pytest.raises(ManifestError, match=r"bad.jsonl:2"):
        read_partition(bad)
    nokey = _write_jsonl(tmp_path / "nokey.jsonl", [{"emo": "anger"}])
    with pytest.raises(ManifestError, match="no 'key'"):
        read_partition(nokey)
    csvp = tmp_path / "p.csv"
    csvp.write_text("key,emo,speaker\nemodb-03a01Wa,anger,03\n")
    assert read_partition(csvp)[0].speaker == "03"


def test_label_map_is_case_insensitive_and_checked(tmp_path):
    p = tmp_path / "label_map.json"
    # EmoBox's EmoDB map writes "Neutral" while its partitions write "neutral" (and "boredem")
    p.write_text(json.dumps({"anger": "Angry", "boredem": "Boredom", "disgust": "Disgust", "fear": "Fear",
                             "happy": "Happy", "Neutral": "Neutral", "sad": "Sad"}))
    m = load_label_map(p)
    assert m["neutral"] == "neutral" and m["boredem"] == "boredom"
    assert emobox.check_label_set("emodb", m) == ("angry", "boredom", "disgust", "fear", "happy", "neutral", "sad")
    with pytest.raises(LabelError, match="differ"):
        emobox.check_label_set("casia", m)
    p.write_text(json.dumps({"x": "Excited"}))
    with pytest.raises(LabelError, match="Excited"):
        load_label_map(p)


def test_key_matching_case_missing_and_duplicates(tmp_path):
    manifest = _casia_manifest()
    entries = read_partition(_write_jsonl(tmp_path / "te.jsonl", [
        _entry("casia-201-zhaozuoxiang-angry", "angry"),      # our clip id is 201-ZhaoZuoxiang-angry
        _entry("casia-999-zhaozuoxiang-angry", "angry"),      # no such clip
        _entry("casia-202-wangzhe-sad", "sad"),
        _entry("casia-202-wangzhe-sad", "sad"),               # listed twice
    ]))
    r = match_entries(entries, manifest, {k: v.lower() for k, v in CASIA_MAP.items()})
    assert [row.clip_id for row in r.rows] == ["201-ZhaoZuoxiang-angry", "202-wangzhe-sad"]
    assert [e.key for e in r.missing] == ["casia-999-zhaozuoxiang-angry"]
    assert r.duplicates == ["casia-202-wangzhe-sad"]
    assert not r.complete
    assert r.rows[0].extras["emobox_key"] == "casia-201-zhaozuoxiang-angry"
    # a label disagreeing with our reader's means the key names another clip
    wrong = read_partition(_write_jsonl(tmp_path / "w.jsonl", [_entry("casia-201-wangzhe-angry", "sad")]))
    r = match_entries(wrong, manifest, {k: v.lower() for k, v in CASIA_MAP.items()})
    assert not r.rows and r.label_mismatch[0][2] == "sad"


def test_emobox_folds_report_missing_clips_without_failing(tmp_path):
    speakers = ("wangzhe", "ZhaoZuoxiang", "liuchanhg", "zhaoquanyin")
    root = _write_casia_emobox(tmp_path / "emobox", speakers, extra_test=("casia-250-wangzhe-sad",))
    folds, classes = emobox_folds("casia", root=root, manifest=_casia_manifest(speakers))
    assert classes == ("angry", "fear", "happy", "neutral", "sad", "surprise")
    assert len(folds) == 4
    assert folds[0].entries["test"] == 13 and len(folds[0].test) == 12      # 1 entry without a clip
    assert [e.key for e in folds[0].missing["test"]] == ["casia-250-wangzhe-sad"]
    assert all(len(f.train) == 36 for f in folds)
    rep = missing_report(folds)
    assert rep["distinct_missing"] == 1 and rep["per_fold"][1] == {"train": 0, "test": 1}
    assert "casia-250-wangzhe-sad" in format_missing("casia", rep)
    with pytest.raises(SplitError, match="no clip"):
        emobox_folds("casia", root=root, manifest=_casia_manifest(speakers), strict=True)
    # a fold folder fewer than EmoBox's is an error, not a silent shrink
    import shutil
    shutil.rmtree(root / "casia" / "fold_4")
    with pytest.raises(SplitError, match="found 3 folds"):
        emobox_folds("casia", root=root, manifest=_casia_manifest(speakers))


def test_evaluate_emobox_path_end_to_end(tmp_path, monkeypatch):
    """run_protocol on a synthetic store and synthetic EmoBox folds: per-fold EmoBox scores, missing entry kept."""
    from tests.helpers import write_feature_store
    from emozoo.evaluate.emobox import run_protocol, validation_rows
    from emozoo.experiments import DataConfig, ExperimentConfig, ModelConfig, OptimizerConfig, TrainerConfig
    from emozoo.train.data import load_table, table_manifest

    store = write_feature_store(tmp_path / "synth_store", corpus="synth", speakers=4, per_class=4, dim=8)
    table = load_table(store, "is10")
    manifest = table_manifest(table, "synth")
    monkeypatch.setitem(emobox.CORPORA, "synth", EmoBoxCorpus("synth", "4class", 2))
    root = tmp_path / "emobox"
    (root / "synth").mkdir(parents=True)
    (root / "synth" / "label_map.json").write_text(json.dumps({"neu": "Neutral", "hap": "Happy", "ang": "Angry",
                                                               "sad": "Sad"}))
    code = {"neutral": "neu", "happy": "hap", "angry": "ang", "sad": "sad"}
    rows = list(manifest)
    for k in (1, 2):   # fold k tests speakers spk{2k-2}, spk{2k-1}
        test_spk = {f"spk{2 * k - 2}", f"spk{2 * k - 1}"}
        tr = [_entry(f"synth-{r.clip_id}", code[r.emotion]) for r in rows if r.speaker not in test_spk]
        te = [_entry(f"synth-{r.clip_id}", code[r.emotion]) for r in rows if r.speaker in test_spk]
        if k == 1:
            te.append(_entry("synth-synth_0_sad_99", "sad"))    # in the partition, not in our copy
        _write_jsonl(root / "synth" / f"fold_{k}" / f"synth_train_fold_{k}.jsonl", tr)
        _write_jsonl(root / "synth" / f"fold_{k}" / f"synth_test_fold_{k}.jsonl", te)
    cfg = ExperimentConfig("emobox/synth/test", ModelConfig("baseline", dict(generator_units=[8], classifier_units=[8],
                                                                               dropout=0.1)),
                           DataConfig(corpora=("synth",), features="is10", stores={"synth": str(store)},
                                      label_set="4class"),
                           OptimizerConfig("adam", 1e-2), TrainerConfig(epochs=15, batch_size=8, patience=0, seeds=1,
                                                                        tensorboard=False))
    s = run_protocol(cfg, "synth", tmp_path / "run", emobox_dir=root, manifest=manifest, log=lambda *_: None)
    assert len(s["per_seed"][0]["folds"]) == 2
    assert s["missing"]["keys"] == ["synth-synth_0_sad_99"]
    assert s["per_seed"][0]["folds"][0]["test_size"] == 32
    folds_ua = s["ua"]["fold_mean"]
    assert s["ua"]["mean"] == pytest.approx(np.mean(folds_ua))      # EmoBox: mean over folds
    assert s["ua"]["mean"] > 0.5                                     # separable classes are learnt
    # validation is drawn from the training side: speakers when train/test are speaker-disjoint
    tr = Manifest([r for r in rows if r.speaker not in {"spk0", "spk1"}])
    te = Manifest([r for r in rows if r.speaker in {"spk0", "spk1"}])
    v, how = validation_rows(tr, te, seed=0)
    assert how.startswith("speakers") and {r.speaker for r in v} < {"spk2", "spk3"}
    v, how = validation_rows(Manifest(rows[::2]), Manifest(rows[1::2]), seed=0)   # speakers shared: clips
    assert how.startswith("stratified") and {r.clip_id for r in v} <= {r.clip_id for r in rows[::2]}


@pytest.mark.data
def test_real_emobox_partitions_match_our_clips(data_dir):
    """EmoDB and CASIA: every EmoBox entry has a clip; RAVDESS: exactly the 16 missing files reported."""
    for corpus, n_folds, n_missing in (("emodb", 5, 0), ("casia", 4, 0), ("ravdess", 6, 16)):
        folds, classes = emobox_folds(corpus, data_dir=data_dir)
        assert len(folds) == n_folds and len(classes) == {"emodb": 7, "casia": 6, "ravdess": 8}[corpus]
        rep = missing_report(folds)
        assert rep["distinct_missing"] == n_missing
        assert sum(len(f.test) for f in folds) + sum(len(f.missing["test"]) for f in folds) == \
            sum(f.entries["test"] for f in folds)
    assert all(k.split("-")[3] in ("02", "06") for k in rep["keys"])        # calm actor 01, fearful actor 03
    assert {k.split("-")[-1] for k in rep["keys"]} == {"01", "03"}


def test_evaluate_emobox_rejects_unknown_corpus_and_4class_store(tmp_path, monkeypatch):
    from tests.helpers import write_feature_store
    from emozoo.errors import SchemaError
    from emozoo.evaluate.emobox import run_protocol
    from emozoo.experiments import get_experiment

    cfg = get_experiment("emobox/casia/is10/paper")
    with pytest.raises(SplitError, match="covers"):
        run_protocol(cfg, "iemocap", tmp_path / "r")
    # a 4-class store where EmoBox's CASIA needs all 6 classes: the error names the command that builds it
    store = write_feature_store(tmp_path / "s", corpus="casia", speakers=4, per_class=1, dim=4)
    speakers = ("spk0", "spk1", "spk2", "spk3")
    root = _write_casia_emobox(tmp_path / "emobox", speakers)
    with pytest.raises(SchemaError, match="--label-set casia6"):
        run_protocol(cfg, "casia", tmp_path / "r", emobox_dir=root, store=str(store),
                     manifest=_casia_manifest(speakers))


def test_speaker_normalise_uses_each_speakers_fold_clips():
    from emozoo.evaluate.emobox import speaker_normalise
    from emozoo.train.data import FeatureTable
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(5, 2, (6, 3)), rng.normal(-3, 0.5, (6, 3)), np.full((2, 3), 100.0)]).astype(np.float32)
    x[:6, 2] = 7.0                                                    # constant within speaker a: centred only
    spk = np.array(["a"] * 6 + ["b"] * 6 + ["c"] * 2)
    ids = np.array([f"k{i}" for i in range(14)])
    meta = {"clip_id": ids, "corpus": np.array(["x"] * 14), "speaker": spk, "culture": spk, "emotion": spk}
    t = FeatureTable("s", x, np.zeros(14, np.int64), meta, ("neutral",))
    rows = Manifest([ManifestRow(clip_id=c, corpus="x", speaker=s) for c, s in zip(ids[:12], spk[:12])])
    n = speaker_normalise(t, rows)
    for s in ("a", "b"):
        m = spk == s
        assert np.allclose(n.x[m][:, :2].mean(0), 0, atol=1e-5) and np.allclose(n.x[m][:, :2].std(0), 1, atol=1e-4)
    assert np.allclose(n.x[:6, 2], 0)
    assert np.array_equal(n.x[12:], x[12:])                          # speaker c is not in the fold: untouched
    assert np.array_equal(t.x, x)                                    # the input table is not modified
