"""CHEAVD 2.0 (MEC 2017) reader on releases generated in the official layout."""
import pytest

from emozoo.data.corpora import corpus_names, get_reader, load_manifest
from emozoo.data.corpora.cheavd import CHEAVD
from emozoo.errors import CorpusLayoutError, DataDirError, LabelError
from tests.data.corpora.official_layouts import CHEAVD_LABELS, make_cheavd_release


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return make_cheavd_release(tmp_path_factory.mktemp("cheavd"))


def test_registered_with_corpus_facts():
    assert "cheavd" in corpus_names()
    reader = get_reader("cheavd")
    assert reader is CHEAVD
    assert (reader.modality, reader.culture, reader.language) == ("video", "mandarin", "zh")
    assert reader.licence == "CASIA/MEC 2017 research agreement"


def test_rows_splits_and_labels(release):
    m = CHEAVD(release.root).read()
    assert len(m) == 16 + 8 + 3
    assert m.counts("split") == {"train": 16, "valid": 8, "test": 3}
    assert m.where(split="train").counts("emotion") == {e: 2 for e in CHEAVD_LABELS}
    assert m.where(split="valid").counts("emotion") == {e: 1 for e in CHEAVD_LABELS}
    assert m.where(split="test").counts("emotion") == {"": 3}
    for row in m:
        split, label = release.clips[row.clip_id]
        assert (row.split, row.label, row.emotion) == (split, label, label.lower())
        assert row.path.endswith(".mp4" if int(row.clip_id) % 2 == 0 else ".avi")
        assert (row.speaker, row.gender, row.culture, row.language) == ("", "", "mandarin", "zh")
    assert m[0].clip_id == "00001" and m[0].path == str(release.root / "train" / "00001.avi")


@pytest.mark.parametrize("suffix, separator, header, case", [
    (".csv", ",", True, "title"),
    (".txt", "\t", False, "upper"),
    (".txt", " ", True, "lower"),
    (".csv", ", ", False, "title"),
])
def test_list_formats(tmp_path, suffix, separator, header, case):
    release = make_cheavd_release(tmp_path, train_per_label=1, val_per_label=1, test_clips=1,
                                  list_suffix=suffix, separator=separator, header=header, label_case=case)
    m = CHEAVD(tmp_path).read()
    assert len(m) == 17
    assert m.where(split="train").counts("emotion") == {e: 1 for e in CHEAVD_LABELS}
    row = m.where(split="train")[0]
    assert row.label == release.clips[row.clip_id][1] == {"title": "Angry", "upper": "ANGRY", "lower": "angry"}[case]
    assert row.emotion == "angry"


def test_labelled_test_set(tmp_path):
    make_cheavd_release(tmp_path, train_per_label=1, val_per_label=1, test_clips=8, test_labels=True)
    assert CHEAVD(tmp_path).read().where(split="test").counts("emotion") == {e: 1 for e in CHEAVD_LABELS}


def test_names_without_extension_and_unlisted_clips(tmp_path):
    make_cheavd_release(tmp_path, train_per_label=1, val_per_label=1, test_clips=0)
    train = tmp_path / "train.txt"
    lines = train.read_text().splitlines()
    train.write_text("\n".join(line.replace(".avi", "").replace(".mp4", "") for line in lines[:-1]) + "\n")
    m = CHEAVD(tmp_path).read().where(split="train")
    assert len(m) == 8
    assert m.counts("emotion") == {**{e: 1 for e in CHEAVD_LABELS[:-1]}, "": 1}  # the unlisted clip


def test_gb18030_list_with_chinese_header(tmp_path):
    make_cheavd_release(tmp_path, train_per_label=1, val_per_label=1, test_clips=0)
    train = tmp_path / "train.txt"
    train.write_bytes(("文件名,标签\n" + train.read_text()).encode("gb18030"))
    assert len(CHEAVD(tmp_path).read().where(split="train")) == 8


def test_unknown_label_is_a_label_error(tmp_path):
    make_cheavd_release(tmp_path, train_per_label=1, val_per_label=1, test_clips=0)
    val = tmp_path / "val.txt"
    val.write_text(val.read_text().replace("neutral", "contempt"))
    with pytest.raises(LabelError, match=r"val\.txt:5.*'contempt'.*worried"):
        CHEAVD(tmp_path).read()


@pytest.mark.parametrize("line, message", [
    ("00003.avi,happy,extra", r"train\.txt:9: expected '<clip filename>,<emotion>'"),
    ("00003.avi", r"train\.txt:9: expected"),
    ("99999.mp4,happy", r"train\.txt:9: clip '99999.mp4' is not in"),
    ("00001.avi,angry", r"train\.txt:9: clip '00001.avi' is listed twice"),
])
def test_bad_list_lines(tmp_path, line, message):
    make_cheavd_release(tmp_path, train_per_label=1, val_per_label=1, test_clips=0)
    with open(tmp_path / "train.txt", "a") as f:
        f.write(line + "\n")
    with pytest.raises(CorpusLayoutError, match=message):
        CHEAVD(tmp_path).read()


def test_layout_errors(tmp_path):
    with pytest.raises(DataDirError):
        CHEAVD(tmp_path / "nowhere")
    with pytest.raises(CorpusLayoutError, match="none of train/, val/, test/"):
        CHEAVD(tmp_path).read()
    make_cheavd_release(tmp_path, train_per_label=1, val_per_label=1, test_clips=0)
    (tmp_path / "train.csv").write_text("00001.avi,angry\n")
    with pytest.raises(CorpusLayoutError, match="keep one label list"):
        CHEAVD(tmp_path).read()
    (tmp_path / "train.csv").unlink()
    (tmp_path / "val.txt").unlink()
    with pytest.raises(CorpusLayoutError, match=r"no label list; expected val\.txt or val\.csv"):
        CHEAVD(tmp_path).read()


def test_load_manifest_uses_default_folder(tmp_path):
    make_cheavd_release(tmp_path / "CHEAVD2", train_per_label=1, val_per_label=0, test_clips=2)
    m = load_manifest("cheavd", data_dir=tmp_path)
    assert m.counts("split") == {"train": 8, "test": 2}
