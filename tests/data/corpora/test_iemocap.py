"""IEMOCAP reader on releases generated in the official layout (tests/data/corpora/official_layouts.py)."""
import math

import pytest

from emozoo.data.corpora import corpus_names, get_reader, load_manifest
from emozoo.data.corpora.iemocap import IEMOCAP, arousal_valence_levels, parse_emo_evaluation
from emozoo.data.manifest import Manifest
from emozoo.errors import CorpusLayoutError, DataDirError, LabelError
from tests.data.corpora.official_layouts import IEMOCAP_HEADER, make_iemocap_release


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return make_iemocap_release(tmp_path_factory.mktemp("iemocap") / "IEMOCAP_full_release")


@pytest.fixture(scope="module")
def manifest(release):
    return IEMOCAP(release.root).read()


def write_dialogue(root, text, dialogue="Ses01F_impro01"):
    """A one-dialogue Session1 with the given EmoEvaluation text (verbatim)."""
    path = root / "Session1" / "dialog" / "EmoEvaluation" / f"{dialogue}.txt"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    return path


OFFICIAL_BLOCKS = (
    IEMOCAP_HEADER + "\n\n"
    "[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000, 2.5000]\n"
    "C-E2:\tNeutral; Frustration;\t()\n"
    "A-E3:\tval 3; act 2; dom  2;\t()\n"
    "A-E4:\tval 2; act 3; dom  3;\t(mildly aggravated but staying polite, attitude)\n"
    "\n"
    "[10.0100 - 11.3925]\tSes01F_impro01_M000\txxx\t[2.0000, 4.0000, 3.5000]\n"
    "C-E1:\tNeutral state;\t()\n"
    "C-E3:\tFrustration; Anger;\t(annoyed; curt)\n"
    "C-M1:\tOther:indifferent;\t()\n"
    "C-E4:\t;\t()\n"
    "A-E1:\tval 2; act 4; dom  ;\t()\n"
    "\n"
)


def test_registered_with_corpus_facts():
    assert "iemocap" in corpus_names()
    reader = get_reader("iemocap")
    assert reader is IEMOCAP
    assert (reader.folder, reader.modality, reader.culture, reader.language) == (
        "IEMOCAP_full_release", "audio", "english", "en")
    assert reader.licence == "USC IEMOCAP licence (research, non-commercial)"
    assert reader.source == "sail.usc.edu/iemocap"


def test_one_row_per_evaluated_turn(release, manifest):
    assert len(manifest) == 5 * 2 * 4 == len(release.turns)
    assert {r.clip_id for r in manifest} == set(release.turns)
    assert manifest.speakers() == [f"Ses0{n}{g}" for n in range(1, 6) for g in "FM"]
    assert manifest.counts("gender") == {"female": 20, "male": 20}
    assert manifest.counts("label") == {c: 5 for c in ("neu", "fru", "ang", "sad", "exc", "hap", "xxx", "sur")}
    assert manifest.counts("split") == {"": 40}
    assert {r.culture for r in manifest} == {"english"} and {r.language for r in manifest} == {"en"}
    # Transcription lines of non-evaluated names (..._MXX0, M_LAUGHTER) make no rows.
    assert not [r for r in manifest if "XX" in r.clip_id or "LAUGHTER" in r.clip_id]


def test_rows_match_what_was_written(release, manifest):
    for row in manifest:
        turn = release.turns[row.clip_id]
        assert row.label == turn.code
        assert row.speaker == turn.speaker and row.gender == turn.gender
        assert row.dialogue_id == turn.dialogue
        assert row.transcript == turn.transcript
        assert row.path == str(release.wav(turn.name))
        assert row.paths == (str(release.avi(turn.dialogue)),)
        assert row.turn_index == release.dialogues[turn.dialogue].index(turn.name)
        x = row.extras
        assert (x["session"], x["start"], x["end"]) == (turn.session, turn.start, turn.end)
        assert (x["valence"], x["activation"], x["dominance"]) == turn.vad
        assert x["annotator_dims"] == [list(map(float, d)) for _, d in turn.dims]
        assert x["valence_level"] == arousal_valence_levels(turn.vad[0])
        assert x["arousal_level"] == arousal_valence_levels(turn.vad[1])
        assert x["improvised"] == ("_impro" in turn.dialogue)


def test_speaker_is_the_turn_letter_not_the_dialogue_letter(manifest):
    # In Ses01F_* dialogues the male actor's turns are ..._M000 and belong to Ses01M.
    row = next(r for r in manifest if r.clip_id == "Ses01F_impro01_M000")
    assert (row.speaker, row.gender, row.dialogue_id) == ("Ses01M", "male", "Ses01F_impro01")
    row = next(r for r in manifest if r.clip_id == "Ses02M_impro01_F001")
    assert (row.speaker, row.gender) == ("Ses02F", "female")


def test_turn_index_follows_start_time_not_file_order(release, manifest):
    # The file lists F000, F001, M000, M001; by start time they alternate.
    blocks = [line.split("\t")[1] for line in release.emo_evaluation("Ses01F_impro01").read_text().splitlines()
              if line.startswith("[")]
    assert blocks == ["Ses01F_impro01_F000", "Ses01F_impro01_F001", "Ses01F_impro01_M000", "Ses01F_impro01_M001"]
    rows = sorted(manifest.where(dialogue_id="Ses01F_impro01"), key=lambda r: r.turn_index)
    assert [r.clip_id for r in rows] == [
        "Ses01F_impro01_F000", "Ses01F_impro01_M000", "Ses01F_impro01_F001", "Ses01F_impro01_M001"]
    assert [r.turn_index for r in rows] == [0, 1, 2, 3]
    assert [r.extras["start"] for r in rows] == [1.2345, 4.3345, 7.4345, 10.5345]


def test_transcript_keeps_colons_and_brackets(manifest):
    row = next(r for r in manifest if r.clip_id == "Ses01F_impro01_F000")
    assert row.transcript == "Turn 0: of Ses01F_impro01 [LAUGHTER]."


def test_emotions_and_label_dist(manifest):
    by_id = {r.clip_id: r for r in manifest}
    neu = by_id["Ses01F_impro01_F000"]  # E1 Neutral; E2 Neutral; Frustration; F1 Neutral
    assert (neu.label, neu.emotion) == ("neu", "neutral")
    assert neu.label_dist == pytest.approx({"neutral": 5 / 6, "frustrated": 1 / 6})
    fru = by_id["Ses01F_impro01_M000"]
    assert (fru.label, fru.emotion) == ("fru", "frustrated")
    assert fru.label_dist == pytest.approx({"frustrated": 5 / 6, "angry": 1 / 6})
    for row in manifest:
        assert math.isclose(sum(row.label_dist.values()), 1.0)


def test_xxx_turns_are_unlabelled_but_keep_votes(manifest):
    xxx = manifest.where(label="xxx")
    assert len(xxx) == 5
    for row in xxx:
        assert row.emotion == "" and not row.labelled
        assert row.label_dist == pytest.approx({"neutral": 1 / 3, "frustrated": 1 / 3, "angry": 1 / 3})
    four = manifest.with_label_set("4class")
    assert four.counts("emotion") == {"neutral": 5, "angry": 5, "sad": 5, "happy": 10}


def test_4class_keeps_out_of_set_turns_as_unlabelled_context(manifest):
    four = manifest.with_label_set("4class", keep_unlabelled=True)
    assert [r.clip_id for r in four] == [r.clip_id for r in manifest]  # every row kept, same order
    by_label = {}
    for original, row in zip(manifest, four):
        by_label.setdefault(original.label, set()).add(row.emotion)
        assert (row.label, row.label_dist, row.turn_index) == (original.label, original.label_dist, original.turn_index)
    assert by_label == {"neu": {"neutral"}, "hap": {"happy"}, "exc": {"happy"}, "ang": {"angry"}, "sad": {"sad"},
                        "fru": {""}, "sur": {""}, "xxx": {""}}
    assert four.counts("emotion") == {"neutral": 5, "happy": 10, "angry": 5, "sad": 5, "": 15}
    # Dialogue context stays whole: every dialogue keeps all its turns, indices 0..n-1.
    for dialogue in {r.dialogue_id for r in four}:
        assert sorted(r.turn_index for r in four.where(dialogue_id=dialogue)) == [0, 1, 2, 3]


def test_avi_directly_in_dialog_avi(tmp_path):
    release = make_iemocap_release(tmp_path, sessions=(2,), dialogues_per_session=1, turns_per_dialogue=2,
                                   wav=False)
    divx = release.avi("Ses02F_impro01")
    plain = divx.parent.parent / divx.name
    divx.rename(plain)
    assert {r.paths for r in IEMOCAP(tmp_path).read()} == {(str(plain),)}


def test_official_block_text_parses_exactly(tmp_path):
    write_dialogue(tmp_path, OFFICIAL_BLOCKS)
    (tmp_path / "Session1" / "dialog" / "EmoEvaluation" / "Categorical").mkdir()
    m = IEMOCAP(tmp_path).read()
    assert [r.clip_id for r in m] == ["Ses01F_impro01_F000", "Ses01F_impro01_M000"]
    f000, m000 = m
    assert f000.label_dist == {"frustrated": 0.5, "neutral": 0.5}  # one annotator, two emotions
    assert f000.extras["annotator_dims"] == [[3.0, 2.0, 2.0], [2.0, 3.0, 3.0]]
    assert (f000.extras["start"], f000.extras["end"]) == (6.2901, 8.2357)
    assert (f000.extras["valence"], f000.extras["activation"], f000.extras["dominance"]) == (2.5, 2.5, 2.5)
    # Neutral state -> neutral; Frustration; Anger split; Other:<text> -> other; the empty C-E4 casts no vote.
    assert m000.label_dist == pytest.approx({"neutral": 1 / 3, "frustrated": 1 / 6, "angry": 1 / 6, "other": 1 / 3})
    assert m000.extras["annotator_dims"] == [[2.0, 4.0, None]]
    assert (m000.emotion, m000.speaker, m000.gender) == ("", "Ses01M", "male")
    # No wav, avi or transcription in this copy: rows keep the expected path, no extra paths.
    assert f000.path == str(tmp_path / "Session1" / "sentences" / "wav" / "Ses01F_impro01" / "Ses01F_impro01_F000.wav")
    assert f000.paths == () and f000.transcript == ""


@pytest.mark.parametrize("value, level", [
    (1, 0), (1.5, 0), (2, 0), (2.0001, 1), (2.5, 1), (3.5, 1), (3.9999, 1), (4, 2), (4.5, 2), (5, 2),
])
def test_arousal_valence_levels_boundaries(value, level):
    assert arousal_valence_levels(value) == level


@pytest.mark.parametrize("value", [0.5, 5.5, float("nan")])
def test_arousal_valence_levels_rejects_off_scale(value):
    with pytest.raises(LabelError, match="1-5"):
        arousal_valence_levels(value)


def test_levels_in_extras(tmp_path):
    write_dialogue(tmp_path, OFFICIAL_BLOCKS)
    f000, m000 = IEMOCAP(tmp_path).read()
    assert (f000.extras["valence_level"], f000.extras["arousal_level"]) == (1, 1)  # 2.5, 2.5
    assert (m000.extras["valence_level"], m000.extras["arousal_level"]) == (0, 2)  # 2.0, 4.0


def test_off_scale_consensus_is_binned_at_the_scale_ends(tmp_path):
    write_dialogue(tmp_path, OFFICIAL_BLOCKS.replace("[2.5000, 2.5000, 2.5000]", "[5.5000, 0.5000, 2.5000]"))
    f000, _ = IEMOCAP(tmp_path).read()
    assert (f000.extras["valence"], f000.extras["activation"]) == (5.5, 0.5)  # raw values kept
    assert (f000.extras["valence_level"], f000.extras["arousal_level"]) == (2, 0)


def test_nan_consensus_is_a_layout_error(tmp_path):
    write_dialogue(tmp_path, OFFICIAL_BLOCKS.replace("[2.5000, 2.5000, 2.5000]", "[nan, 2.5000, 2.5000]"))
    with pytest.raises(CorpusLayoutError, match=r"Ses01F_impro01_F000.*1-5 scale"):
        IEMOCAP(tmp_path).read()


@pytest.mark.parametrize("bad_line, line_no", [
    ("[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000]", 3),  # two dims
    ("[6.2901 - ]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000, 2.5000]", 3),
    ("[6.2901 - 8.2357]\tSes01F_impro01_X000\tneu\t[2.5000, 2.5000, 2.5000]", 3),  # no F/M
])
def test_malformed_turn_line_names_file_and_line(tmp_path, bad_line, line_no):
    path = write_dialogue(tmp_path, IEMOCAP_HEADER + "\n\n" + bad_line + "\nC-E2:\tNeutral;\t()\n")
    with pytest.raises(CorpusLayoutError, match=rf"{path.name}:{line_no}"):
        IEMOCAP(tmp_path).read()


@pytest.mark.parametrize("bad_line", ["C-E2 Neutral", "A-E3:\tval 3; act two; dom  2;\t()", "B-E1:\tNeutral;\t()"])
def test_malformed_annotator_line_names_file_and_line(tmp_path, bad_line):
    text = OFFICIAL_BLOCKS.replace("A-E3:\tval 3; act 2; dom  2;\t()", bad_line)
    path = write_dialogue(tmp_path, text)
    with pytest.raises(CorpusLayoutError, match=rf"{path.name}:5"):
        IEMOCAP(tmp_path).read()


def test_annotation_before_any_turn_is_an_error(tmp_path):
    path = write_dialogue(tmp_path, IEMOCAP_HEADER + "\nC-E2:\tNeutral;\t()\n")
    with pytest.raises(CorpusLayoutError, match=rf"{path.name}:2.*before any turn"):
        parse_emo_evaluation(path)


def test_duplicate_turn_is_an_error(tmp_path):
    block = "[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000, 2.5000]\n"
    write_dialogue(tmp_path, block + block)
    with pytest.raises(CorpusLayoutError, match="more than once"):
        IEMOCAP(tmp_path).read()


def test_unknown_consensus_code_is_a_label_error(tmp_path):
    write_dialogue(tmp_path, OFFICIAL_BLOCKS.replace("\tneu\t", "\tzzz\t"))
    with pytest.raises(LabelError, match="'zzz'.*Ses01F_impro01_F000|Ses01F_impro01_F000.*'zzz'"):
        IEMOCAP(tmp_path).read()


def test_unknown_annotator_emotion_is_a_label_error(tmp_path):
    write_dialogue(tmp_path, OFFICIAL_BLOCKS.replace("Neutral; Frustration;", "Neutral; Boredom;"))
    with pytest.raises(LabelError, match="Boredom"):
        IEMOCAP(tmp_path).read()


def test_missing_media(tmp_path):
    release = make_iemocap_release(tmp_path, sessions=(1,), dialogues_per_session=1, video=False)
    gone = release.wav("Ses01F_impro01_M001")
    gone.unlink()
    m = IEMOCAP(tmp_path).read()
    assert len(m) == 4 and all(r.paths == () for r in m)
    assert next(r for r in m if r.clip_id == "Ses01F_impro01_M001").path == str(gone)
    with pytest.raises(CorpusLayoutError, match=r"1 sentence wav files are missing(.|\n)*Ses01F_impro01_M001\.wav"):
        IEMOCAP(tmp_path, require_media=True).read()
    make_iemocap_release(tmp_path, sessions=(1,), dialogues_per_session=1, video=False)
    assert len(IEMOCAP(tmp_path, require_media=True).read()) == 4


def test_session_selection(tmp_path):
    make_iemocap_release(tmp_path, sessions=(1, 2, 3), dialogues_per_session=1, turns_per_dialogue=2,
                         wav=False, video=False)
    m = IEMOCAP(tmp_path, sessions=[3, 1]).read()
    assert sorted({r.extras["session"] for r in m}) == [1, 3]
    assert len(m) == 4
    with pytest.raises(CorpusLayoutError, match="Session5"):
        IEMOCAP(tmp_path, sessions=(5,)).read()


def test_missing_folders(tmp_path):
    with pytest.raises(DataDirError, match="sail.usc.edu/iemocap"):
        IEMOCAP(tmp_path / "nowhere")
    with pytest.raises(CorpusLayoutError, match="Session1..Session5"):
        IEMOCAP(tmp_path).read()
    (tmp_path / "Session1" / "sentences").mkdir(parents=True)
    with pytest.raises(CorpusLayoutError, match="EmoEvaluation"):
        IEMOCAP(tmp_path).read()


def test_load_manifest_uses_default_folder_and_round_trips(tmp_path):
    make_iemocap_release(tmp_path / "IEMOCAP_full_release", sessions=(4,), dialogues_per_session=3,
                         turns_per_dialogue=3, wav=False, video=False)
    m = load_manifest("iemocap", data_dir=tmp_path)
    assert len(m) == 9
    assert sorted({r.dialogue_id for r in m}) == ["Ses04F_impro01", "Ses04F_script01_1", "Ses04M_impro01"]
    back = Manifest.from_jsonl(m.to_jsonl(tmp_path / "iemocap.jsonl"))
    assert list(back) == list(m)
