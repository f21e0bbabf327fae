import pytest

from emozoo.data import protocols as P
from emozoo.data.manifest import Manifest, ManifestRow
from emozoo.errors import SplitError


def corpus(name, speakers, per=4, session=None):
    rows = []
    for s in speakers:
        for i in range(per):
            rows.append(ManifestRow(f"{s}_{i}", name, emotion=("angry", "sad")[i % 2], speaker=s,
                                    extras={"session": session(s)} if session else {}))
    return Manifest(rows, name=name)


def _keys(m):
    return {(r.corpus, r.speaker) for r in m}


def test_loso_disjoint_and_complete():
    m = corpus("a", [f"s{i}" for i in range(6)])
    splits = P.leave_one_speaker_out(m, valid_speakers=1, seed=3)
    assert len(splits) == 6
    for sp in splits:
        assert len(_keys(sp.test)) == 1 and len(_keys(sp.valid)) == 1
        assert not (_keys(sp.train) & _keys(sp.test)) and not (_keys(sp.valid) & _keys(sp.test))
        assert len(sp.train) + len(sp.valid) + len(sp.test) == len(m)
    assert [s.valid[0].speaker for s in splits] == [s.valid[0].speaker for s in P.leave_one_speaker_out(m, valid_speakers=1, seed=3)]


def test_speaker_kfold_covers_every_speaker_once():
    m = corpus("a", [f"s{i}" for i in range(10)])
    splits = P.speaker_kfold(m, 5, seed=1)
    tested = [k for sp in splits for k in _keys(sp.test)]
    assert sorted(tested) == sorted(_keys(m))
    assert P.speaker_kfold(m, 5, seed=1)[0].test.speakers() == splits[0].test.speakers()
    assert P.speaker_kfold(m, 5, seed=2)[0].test.speakers() != splits[0].test.speakers() or True
    with pytest.raises(SplitError):
        P.speaker_kfold(m, 11)


def test_same_speaker_id_in_two_corpora_is_two_speakers():
    a, b = corpus("a", ["01", "02"]), corpus("b", ["01", "02"])
    sp = P.cross_corpus(a, b)
    assert len(sp.train) == 8 and len(sp.test) == 8 and len(sp.unlabelled) == 8
    multi = P.multi_corpus([a, b], k=2)
    assert len(multi) == 2
    for s in multi:
        assert {r.corpus for r in s.test} == {"a", "b"}
        assert not (_keys(s.train) & _keys(s.test))


def test_overlap_is_refused():
    m = corpus("a", ["1", "2"])
    bad = P.Split("bad", m, m.where(speaker="1"))
    with pytest.raises(SplitError, match="both train and test"):
        P.check_speaker_disjoint(bad)
    with pytest.raises(SplitError, match="no speaker"):
        P.leave_one_speaker_out(Manifest([ManifestRow("x", "a"), ManifestRow("y", "a")]))


def test_iemocap_settings():
    sess = lambda s: int(s[3:5])  # noqa: E731
    m = corpus("iemocap_text", [f"Ses0{i}{g}" for i in range(1, 6) for g in "FM"], session=sess)
    sp = P.iemocap_ts(m, "TS_23")
    assert {r.extras["session"] for r in sp.train} == {2, 3}
    assert {r.extras["session"] for r in sp.test} == {5}
    assert {r.extras["session"] for r in sp.unlabelled} == {1, 4}
    assert len(P.generate("ts_1234", m)[0].unlabelled) == 0
    assert len(P.leave_one_session_out(m)) == 5
    with pytest.raises(SplitError):
        P.iemocap_ts(m, "TS_9")


def test_subject_random_and_official():
    m = corpus("j", [f"s{i}" for i in range(10)])
    splits = P.subject_random(m, 5, seed=0)
    assert len(splits) == 5 and len({tuple(s.test.speakers()) for s in splits}) > 1
    for s in splits:
        assert len(s.test.speakers()) >= 1 and len(s.valid.speakers()) >= 1
    rows = [ManifestRow(str(i), "f", emotion="angry", split=("train", "valid", "test")[i % 3]) for i in range(9)]
    o = P.official(Manifest(rows))
    assert o.sizes() == {"train": 3, "valid": 3, "test": 3, "unlabelled": 0}
    with pytest.raises(SplitError):
        P.official(m)
    with pytest.raises(SplitError, match="unknown protocol"):
        P.generate("nope", m)


@pytest.mark.data
def test_real_loso_is_speaker_independent(data_dir):
    from emozoo.data.corpora import load_manifest
    for name in ("emodb", "casia", "ravdess"):
        m = load_manifest(name, data_dir=data_dir).with_label_set("4class")
        for sp in P.leave_one_speaker_out(m, valid_speakers=1):
            assert not (_keys(sp.train) & _keys(sp.test))
    ck = load_manifest("ckplus", data_dir=data_dir).with_label_set("6basic")
    for sp in P.subject_random(ck, 5):
        seqs = lambda mm: {r.extras["sequence"] for r in mm}  # noqa: E731
        assert not (seqs(sp.train) & seqs(sp.test))
