"""AMI Meeting Corpus reader on releases generated in the official layout."""
import pytest

from emozoo.data.corpora import corpus_names, get_reader, load_manifest
from emozoo.data.corpora.ami import AMI
from emozoo.errors import CorpusLayoutError, DataDirError
from tests.data.corpora.official_layouts import AMI_DEFAULT_MEETINGS, make_ami_release


def test_registered_with_corpus_facts():
    assert "ami" in corpus_names()
    reader = get_reader("ami")
    assert reader is AMI
    assert (reader.folder, reader.modality, reader.culture, reader.language, reader.licence) == (
        "amicorpus", "audio", "english", "en", "CC BY 4.0")


def test_one_unlabelled_row_per_meeting(tmp_path):
    release = make_ami_release(tmp_path)
    m = AMI(tmp_path).read()
    assert [r.clip_id for r in m] == sorted(AMI_DEFAULT_MEETINGS)
    for row in m:
        assert row.path == str(release.files[(row.clip_id, "Mix-Headset")])
        assert (row.emotion, row.label, row.speaker, row.split, row.dialogue_id) == ("", "", "", "", row.clip_id)
        assert not row.labelled
        x = row.extras
        assert (x["scenario"], x["session"], x["stream"]) == (row.clip_id[:2], row.clip_id, "Mix-Headset")
        assert x["duration"] == pytest.approx(release.durations[row.clip_id])
        assert (x["sample_rate"], x["channels"]) == (16000, 1)
    assert m.counts("dialogue_id") == {meeting: 1 for meeting in AMI_DEFAULT_MEETINGS}
    assert sorted(r.extras["scenario"] for r in m) == ["EN", "ES", "IB", "IN", "IS", "TS"]


def test_stream_choice(tmp_path):
    release = make_ami_release(tmp_path, ("ES2002a", "IS1000a"), ("Mix-Headset", "Array1-01", "Headset-0"))
    make_ami_release(tmp_path, ("TS3003a",), ("Mix-Headset",))  # a meeting without the array stream
    m = AMI(tmp_path, stream="Array1-01").read()
    assert [r.clip_id for r in m] == ["ES2002a", "IS1000a"]
    assert m[0].path == str(release.files[("ES2002a", "Array1-01")])
    assert {r.extras["stream"] for r in m} == {"Array1-01"}
    assert len(AMI(tmp_path, stream="Headset-0").read()) == 2
    assert len(AMI(tmp_path).read()) == 3


def test_unknown_stream_lists_the_streams_present(tmp_path):
    make_ami_release(tmp_path, ("ES2002a",), ("Mix-Headset", "Headset-1"))
    with pytest.raises(CorpusLayoutError, match=r"Array2-03.*\['Headset-1', 'Mix-Headset'\]"):
        AMI(tmp_path, stream="Array2-03").read()
    with pytest.raises(CorpusLayoutError, match="not a stream name"):
        AMI(tmp_path, stream="../Mix-Headset")


def test_root_may_be_the_folder_holding_amicorpus(tmp_path):
    make_ami_release(tmp_path / "amicorpus", ("EN2001a",))
    (row,) = AMI(tmp_path).read()
    assert row.path == str(tmp_path / "amicorpus" / "EN2001a" / "audio" / "EN2001a.Mix-Headset.wav")


def test_unreadable_wav_names_the_file(tmp_path):
    release = make_ami_release(tmp_path, ("ES2002a", "IS1000a"))
    broken = release.files[("IS1000a", "Mix-Headset")]
    broken.write_bytes(b"RIFF....not a wav")
    with pytest.raises(CorpusLayoutError, match=r"cannot read .*IS1000a\.Mix-Headset\.wav"):
        AMI(tmp_path).read()


def test_missing_folders(tmp_path):
    with pytest.raises(DataDirError, match="groups.inf.ed.ac.uk"):
        AMI(tmp_path / "nowhere")
    (tmp_path / "notes").mkdir()
    with pytest.raises(CorpusLayoutError, match="no meeting folders"):
        AMI(tmp_path).read()


def test_load_manifest_uses_default_folder(tmp_path):
    make_ami_release(tmp_path / "amicorpus", ("IB4001", "IN1001"), seconds=0.1)
    m = load_manifest("ami", data_dir=tmp_path)
    assert [r.clip_id for r in m] == ["IB4001", "IN1001"]
    assert [r.extras["duration"] for r in m] == pytest.approx([0.1, 0.2])
