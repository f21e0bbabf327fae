"""AFEW (EmotiW 2017) reader on releases generated in the official layout."""
import pytest

from emozoo.data.corpora import corpus_names, get_reader, load_manifest
from emozoo.data.corpora.afew import AFEW
from emozoo.errors import CorpusLayoutError, DataDirError, LabelError
from tests.data.corpora.official_layouts import AFEW_EMOTIONS, make_afew_release, write_video


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return make_afew_release(tmp_path_factory.mktemp("afew"))


def test_registered_with_corpus_facts():
    assert "afew" in corpus_names()
    reader = get_reader("afew")
    assert reader is AFEW
    assert (reader.folder, reader.modality, reader.culture, reader.language) == ("AFEW", "video", "english", "en")


def test_rows_splits_and_labels(release):
    m = AFEW(release.root).read()
    assert len(m) == 7 * 2 + 7 + 2 == len(release.clips)
    assert m.counts("split") == {"train": 14, "valid": 7, "test": 2}
    assert m.where(split="train").counts("label") == {e: 2 for e in AFEW_EMOTIONS}
    assert m.where(split="valid").counts("emotion") == {e.lower(): 1 for e in AFEW_EMOTIONS}
    assert m.where(split="test").counts("emotion") == {"": 2}
    folders = {"train": "Train_AFEW", "valid": "Val_AFEW"}
    for row in m:
        split, emotion = release.clips[row.clip_id]
        assert (row.split, row.label, row.emotion) == (split, emotion, emotion.lower())
        expected = (release.root / folders[split] / emotion if emotion else release.root / "Test_AFEW")
        assert row.path == str(expected / f"{row.clip_id}.avi")
        assert (row.speaker, row.culture, row.language) == ("", "english", "en")


def test_auxiliary_and_empty_folders_are_ignored(tmp_path):
    make_afew_release(tmp_path, train_per_emotion=1, val_per_emotion=1, test_clips=1)
    write_video(tmp_path / "Train_AFEW" / "LBPTOP_features" / "000000001.avi")
    write_video(tmp_path / "Test_AFEW" / "AlignedFaces_LBPTOP_Points" / "000000002.avi")
    (tmp_path / "Val_AFEW" / "notes").mkdir()
    (tmp_path / "Val_AFEW" / "notes" / "readme.txt").write_text("organisers' notes")
    m = AFEW(tmp_path).read()
    assert len(m) == 15
    assert "000000001" not in {r.clip_id for r in m} and "000000002" not in {r.clip_id for r in m}


def test_test_clips_in_subfolders_and_mp4(tmp_path):
    make_afew_release(tmp_path, train_per_emotion=1, val_per_emotion=0, test_clips=0)
    write_video(tmp_path / "Test_AFEW" / "Test_vid_Distribute" / "000000003.mp4")
    m = AFEW(tmp_path).read()
    assert m.where(split="test")[0].path == str(tmp_path / "Test_AFEW" / "Test_vid_Distribute" / "000000003.mp4")
    assert m.counts("split") == {"train": 7, "test": 1}


def test_emotion_folders_match_case_insensitively(tmp_path):
    write_video(tmp_path / "Train_AFEW" / "happy" / "000000004.avi")
    (row,) = AFEW(tmp_path).read()
    assert (row.label, row.emotion, row.split) == ("happy", "happy", "train")


def test_unknown_folder_with_clips_is_a_label_error(tmp_path):
    make_afew_release(tmp_path, train_per_emotion=1, val_per_emotion=1, test_clips=0)
    write_video(tmp_path / "Val_AFEW" / "Contempt" / "000000005.avi")
    with pytest.raises(LabelError, match=r"'Contempt' is not an AFEW emotion.*'Angry'.*'Surprise'"):
        AFEW(tmp_path).read()


def test_loose_clips_are_a_layout_error(tmp_path):
    make_afew_release(tmp_path, train_per_emotion=1, val_per_emotion=1, test_clips=0)
    write_video(tmp_path / "Train_AFEW" / "000000006.avi")
    with pytest.raises(CorpusLayoutError, match=r"1 clips directly in .*Train_AFEW"):
        AFEW(tmp_path).read()


def test_missing_folders(tmp_path):
    with pytest.raises(DataDirError):
        AFEW(tmp_path / "nowhere")
    write_video(tmp_path / "Test_AFEW" / "000000007.avi")
    with pytest.raises(CorpusLayoutError, match="neither Train_AFEW/ nor Val_AFEW/"):
        AFEW(tmp_path).read()
    (tmp_path / "Train_AFEW" / "Angry").mkdir(parents=True)  # the folder is there now
    assert AFEW(tmp_path).read().counts("split") == {"test": 1}
    empty = tmp_path / "empty"
    (empty / "Train_AFEW" / "Angry").mkdir(parents=True)
    (empty / "Val_AFEW" / "AlignedFaces_LBPTOP_Points").mkdir(parents=True)
    with pytest.raises(CorpusLayoutError, match="no clips found"):
        AFEW(empty).read()


def test_load_manifest_uses_default_folder(tmp_path):
    make_afew_release(tmp_path / "AFEW", train_per_emotion=1, val_per_emotion=1, test_clips=0, auxiliary=False)
    assert load_manifest("afew", data_dir=tmp_path).counts("split") == {"train": 7, "valid": 7}
