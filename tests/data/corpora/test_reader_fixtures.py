"""Readers of the shared corpora on tiny synthetic layouts: formats users have, and broken layouts."""
import json

import numpy as np
import pytest
import soundfile as sf

from emozoo.data.corpora import get_reader, load_manifest
from emozoo.data.corpora.csv_manifest import read_manifest_csv
from emozoo.errors import (CorpusLayoutError, DataDirError, LabelError, ManifestError,
                           UnknownCorpusError)


def _tone(path, rate=16000, seconds=0.2, channels=1):
    t = np.arange(int(rate * seconds)) / rate
    x = 0.3 * np.sin(2 * np.pi * 220 * t)
    if channels > 1:
        x = np.stack([x] * channels, axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x, rate)


def test_ravdess_official_48k_wav_and_video(tmp_path):
    root = tmp_path / "ravdess"
    _tone(root / "Actor_01" / "03-01-05-02-01-01-01.wav", rate=48000)
    _tone(root / "Actor_02" / "03-01-01-01-02-02-02.wav", rate=48000, channels=2)
    _tone(root / "Actor_02" / "03-02-03-01-01-01-02.wav", rate=48000)  # song: not speech
    (root / "Actor_02" / "01-01-03-01-01-01-02.mp4").write_bytes(b"\0")
    m = get_reader("ravdess")(root).read()
    assert [r.clip_id for r in m] == ["03-01-05-02-01-01-01", "03-01-01-01-02-02-02"]
    assert [r.gender for r in m] == ["male", "female"]
    assert m[0].extras["intensity"] == "02"
    v = get_reader("ravdess")(root, modality="video").read()
    assert [r.clip_id for r in v] == ["01-01-03-01-01-01-02"]
    song = get_reader("ravdess")(root, vocal_channel="song").read()
    assert [r.clip_id for r in song] == ["03-02-03-01-01-01-02"]


def test_ravdess_wrong_actor_folder(tmp_path):
    _tone(tmp_path / "r" / "Actor_03" / "03-01-05-02-01-01-01.wav")
    with pytest.raises(CorpusLayoutError, match="actor 01"):
        get_reader("ravdess")(tmp_path / "r").read()


def test_emodb_official_wav_and_bad_name(tmp_path):
    _tone(tmp_path / "emodb" / "wav" / "03a01Wa.wav")
    _tone(tmp_path / "emodb" / "wav" / "03a01Wa.flac")  # same clip twice: one row
    m = get_reader("emodb")(tmp_path / "emodb").read()
    assert len(m) == 1 and m[0].path.endswith(".wav") and m[0].emotion == "angry"
    _tone(tmp_path / "emodb" / "wav" / "99zz.wav")
    with pytest.raises(CorpusLayoutError, match="SSTTTEV"):
        get_reader("emodb")(tmp_path / "emodb").read()


def test_emodb_unknown_emotion_letter(tmp_path):
    _tone(tmp_path / "e" / "wav" / "03a01Qa.wav")
    with pytest.raises(LabelError, match="unknown emodb label 'Q'"):
        get_reader("emodb")(tmp_path / "e").read()


def test_casia_layout_and_unknown_emotion(tmp_path):
    _tone(tmp_path / "c" / "wangzhe" / "angry" / "201.wav")
    (tmp_path / "c" / "sentences_201-250_gbk.txt").write_bytes("201. 就是下雨也去。\n".encode("gbk"))
    m = get_reader("casia")(tmp_path / "c").read()
    assert m[0].clip_id == "201-wangzhe-angry" and m[0].transcript == "就是下雨也去。"
    _tone(tmp_path / "c" / "wangzhe" / "bored" / "202.wav")
    with pytest.raises(LabelError):
        get_reader("casia")(tmp_path / "c").read()


def test_jaffe_and_ckplus_layouts(tmp_path):
    from PIL import Image
    img = Image.fromarray(np.zeros((8, 8), np.uint8))
    (tmp_path / "j").mkdir()
    img.save(tmp_path / "j" / "KA.AN1.39.tiff")
    m = get_reader("jaffe")(tmp_path / "j").read()
    assert (m[0].speaker, m[0].emotion) == ("KA", "angry")
    img.save(tmp_path / "j" / "bad-name.tiff")
    with pytest.raises(CorpusLayoutError):
        get_reader("jaffe")(tmp_path / "j").read()
    (tmp_path / "ck" / "joy").mkdir(parents=True)
    img.save(tmp_path / "ck" / "joy" / "S005_001_00000011.png")
    with pytest.raises(LabelError, match="not a CK\\+ emotion"):
        get_reader("ckplus")(tmp_path / "ck").read()


def test_iemocap_text_malformed_line(tmp_path):
    (tmp_path / "i").mkdir()
    good = {"dialogue": "Ses05F_impro01", "session": 5, "split": "test",
            "utterances": [{"speaker": "F", "label": "exc", "text": "Hi."},
                           {"speaker": "M", "label": "xxx", "text": "Hm."}]}
    (tmp_path / "i" / "dialogues.jsonl").write_text(json.dumps(good) + "\n{broken\n")
    with pytest.raises(CorpusLayoutError, match=":2: malformed"):
        get_reader("iemocap_text")(tmp_path / "i").read()
    (tmp_path / "i" / "dialogues.jsonl").write_text(json.dumps(good) + "\n")
    m = get_reader("iemocap_text")(tmp_path / "i").read()
    assert [r.emotion for r in m] == ["excited", ""] and m[1].speaker == "Ses05M"
    assert [r.emotion for r in m.with_label_set("4class", keep_unlabelled=True)] == ["happy", ""]


def test_meld_missing_column(tmp_path):
    (tmp_path / "meld").mkdir()
    for f in ("train", "dev", "test"):
        (tmp_path / "meld" / f"{f}_sent_emo.csv").write_text("Utterance,Speaker\nhi,Joey\n")
    with pytest.raises(CorpusLayoutError, match="lacks columns"):
        get_reader("meld")(tmp_path / "meld").read()


def test_ravdess_av_missing_arrays(tmp_path):
    (tmp_path / "av").mkdir()
    np.savez(tmp_path / "av" / "au_mfcc_features.npz", clip_id=np.array(["01-01-01-01-01-01-01"]))
    with pytest.raises(CorpusLayoutError, match="lacks arrays"):
        get_reader("ravdess_av")(tmp_path / "av").read()


def test_missing_corpus_folder_and_unknown_reader(tmp_path):
    with pytest.raises(DataDirError, match="does not exist"):
        load_manifest("emodb", data_dir=tmp_path)
    with pytest.raises(UnknownCorpusError, match="no corpus reader named 'nope'"):
        get_reader("nope")
    with pytest.raises(CorpusLayoutError, match="missing folder wav/"):
        (tmp_path / "emodb").mkdir()
        load_manifest("emodb", data_dir=tmp_path)


def test_manifest_csv(tmp_path):
    _tone(tmp_path / "clips" / "a.wav")
    _tone(tmp_path / "clips" / "b.wav")
    csv_path = tmp_path / "mine.csv"
    csv_path.write_text("path,label,speaker,culture,mood\nclips/a.wav,angry,s1,x,3\nclips/b.wav,,s2,x,\n")
    m = read_manifest_csv(csv_path)
    assert m.name == "mine" and [r.emotion for r in m] == ["angry", ""]
    assert m[0].extras == {"mood": "3"} and m[0].path == str((tmp_path / "clips" / "a.wav").resolve())
    csv_path.write_text("path,label\nclips/a.wav,wut\n")
    with pytest.raises(LabelError, match="label map"):
        read_manifest_csv(csv_path)
    assert read_manifest_csv(csv_path, label_map={"wut": "angry"})[0].emotion == "angry"
    csv_path.write_text("file,label\nclips/a.wav,angry\n")
    with pytest.raises(ManifestError, match="'path' and 'label'"):
        read_manifest_csv(csv_path)
    csv_path.write_text("path,label\nclips/a.wav,angry\nclips/a.wav,sad\n")
    with pytest.raises(ManifestError, match="duplicate clip_id"):
        read_manifest_csv(csv_path)
