import pytest

from emozoo.data.manifest import Manifest, ManifestRow
from emozoo.errors import ManifestError


def _rows():
    return [ManifestRow("a", "c", path="/x/a.wav", label="W", emotion="angry", speaker="1",
                        paths=("/x/a.avi",), label_dist={"angry": 0.5, "sad": 0.5}, extras={"k": 1}),
            ManifestRow("b", "c", label="xxx", speaker="2", dialogue_id="d", turn_index=3, transcript="hi, \"you\"")]


def test_round_trip_jsonl_and_csv(tmp_path):
    m = Manifest(_rows(), name="c")
    back = Manifest.from_jsonl(m.to_jsonl(tmp_path / "m.jsonl"))
    assert list(back) == list(m)
    from emozoo.data.corpora.csv_manifest import read_manifest_csv  # noqa: F401
    import csv
    m.to_csv(tmp_path / "m.csv")
    with open(tmp_path / "m.csv", newline="") as f:
        recs = list(csv.DictReader(f))
    again = [ManifestRow.from_mapping(r) for r in recs]
    assert again == list(m)


def test_summary_and_selection():
    m = Manifest(_rows(), name="c")
    s = m.summary()
    assert s["clips"] == 2 and s["emotion"] == {"": 1, "angry": 1} and s["dialogues"] == 1
    assert len(m.where(speaker=["1", "3"])) == 1
    assert len(m.with_label_set("4class")) == 1
    assert len(m.with_label_set("4class", keep_unlabelled=True)) == 2


def test_errors(tmp_path):
    with pytest.raises(ManifestError):
        ManifestRow("", "c")
    with pytest.raises(ManifestError, match="duplicate"):
        Manifest([ManifestRow("a", "c"), ManifestRow("a", "c")])
    (tmp_path / "bad.jsonl").write_text('{"clip_id": "a", "corpus": "c"}\nnot json\n')
    with pytest.raises(ManifestError, match="bad.jsonl:2"):
        Manifest.from_jsonl(tmp_path / "bad.jsonl")
    with pytest.raises(ManifestError, match="bad value"):
        ManifestRow.from_mapping({"clip_id": "a", "corpus": "c", "turn_index": "x"})
