"""Readers of the corpora in the shared data directory: true counts on the real data."""
import pytest

from emozoo.data.corpora import load_manifest
from emozoo.data.__main__ import main as data_main

pytestmark = pytest.mark.data


def _m(name, data_dir):
    folder = {"ckplus": "ckplus48", "ravdess_av": "ravdess_av_features"}.get(name, name)
    if not (data_dir / folder).exists():
        pytest.skip(f"{folder} not in {data_dir}")
    return load_manifest(name, data_dir=data_dir)


def test_emodb(data_dir):
    m = _m("emodb", data_dir)
    assert len(m) == 535
    assert m.counts("label")["W"] == 127 and m.counts("emotion")["angry"] == 127
    assert m.counts("emotion") == {"angry": 127, "boredom": 81, "disgust": 46, "fear": 69,
                                   "happy": 71, "sad": 62, "neutral": 79}
    assert m.speakers() == ["03", "08", "09", "10", "11", "12", "13", "14", "15", "16"]
    r = next(r for r in m if r.clip_id == "03a01Wa")
    assert (r.speaker, r.gender, r.culture, r.language) == ("03", "male", "german", "de")


def test_casia(data_dir):
    m = _m("casia", data_dir)
    assert len(m) == 1200
    assert set(m.counts("emotion").values()) == {200}
    assert len(m.speakers()) == 4
    r = next(r for r in m if r.clip_id == "239-wangzhe-neutral")
    assert r.transcript and r.culture == "mandarin" and r.gender == "male"


def test_ravdess(data_dir):
    m = _m("ravdess", data_dir)
    assert len(m) == 1424
    assert len(m.speakers()) == 24
    c = m.counts("emotion")
    assert c["neutral"] == 96 and c["calm"] == 184 and c["fear"] == 184 and c["angry"] == 192
    r = next(r for r in m if r.clip_id == "03-01-05-01-02-01-18")
    assert (r.emotion, r.speaker, r.gender) == ("angry", "18", "female")
    assert r.transcript == "Dogs are sitting by the door"


def test_jaffe(data_dir):
    m = _m("jaffe", data_dir)
    assert len(m) == 213 and len(m.speakers()) == 10
    assert m.counts("culture") == {"japanese": 213}


def test_ckplus(data_dir):
    m = _m("ckplus", data_dir)
    assert len(m) == 981 and len(m.speakers()) == 118
    assert m.counts("label") == {"anger": 135, "contempt": 54, "disgust": 177, "fear": 75,
                                 "happy": 207, "sadness": 84, "surprise": 249}


def test_fer2013(data_dir):
    m = _m("fer2013", data_dir)
    assert m.counts("split") == {"train": 28709, "valid": 3589, "test": 3589}
    assert {r.extras["usage"] for r in m.where(split="test")} == {"PrivateTest"}


def test_iemocap_text(data_dir):
    m = _m("iemocap_text", data_dir)
    assert len(m) == 7433
    assert len({r.dialogue_id for r in m}) == 151
    assert sum(1 for r in m if r.extras["session"] == 5) == 1623
    assert len(m.speakers()) == 10
    assert m.counts("label")["fru"] == 1849
    four = m.with_label_set("4class")
    assert four.counts("emotion")["happy"] == 648 + 1041
    first = [r for r in m if r.dialogue_id == "Ses01F_impro01"]
    assert [r.turn_index for r in first] == list(range(len(first)))
    assert first[0].transcript == "Excuse me." and first[0].speaker == "Ses01F"


def test_meld(data_dir):
    m = _m("meld", data_dir)
    assert m.counts("split") == {"train": 9989, "valid": 1109, "test": 2610}
    assert m.where(split="train").counts("label")["joy"] == 1743


def test_ravdess_av(data_dir):
    m = _m("ravdess_av", data_dir)
    assert len(m) == 1440 and len(m.speakers()) == 24
    assert m.counts("emotion")["neutral"] == 96


def test_inspect_cli_prints_true_counts(data_dir, capsys, monkeypatch):
    monkeypatch.setenv("EMOZOO_DATA_DIR", str(data_dir))
    assert data_main(["inspect", "--corpus", "emodb"]) == 0
    out = capsys.readouterr().out
    assert "535 clips" in out and "W" in out and "127" in out
    assert data_main(["inspect", "--corpus", "iemocap_text"]) == 0
    out = capsys.readouterr().out
    assert "7433 clips, 151 dialogues" in out and "1623" in out
