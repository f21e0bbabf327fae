"""Protocol audit: planted speaker overlap, duplicates, class balance, fold coverage, the CLI."""
from __future__ import annotations

import json

import pytest

from emozoo.data.audit import audit_emobox, audit_folds, audit_partition
from emozoo.data.emobox import EmoBoxEntry
from emozoo.data.manifest import Manifest, ManifestRow
from emozoo.errors import SplitError

EMOS = ("angry", "happy", "sad", "neutral")


def _entries(speakers, per_class=2, prefix="user"):
    return [EmoBoxEntry(key=f"{prefix}-{s}_{e}_{i}", emo=e, speaker=s, wav=f"wav/{s}_{e}_{i}.wav")
            for s in speakers for e in EMOS for i in range(per_class)]


def test_planted_speaker_overlap_is_flagged():
    train = _entries(["s1", "s2", "s3"])
    test = _entries(["s4"])
    clean = audit_partition(train, test, name="clean")
    assert not clean.errors and clean.stats["speaker_overlap"] == []
    # plant: two of s2's clips move to the test side
    planted = audit_partition(train[2:], test + train[8:10], name="planted")
    assert planted.has("speaker_overlap", "error")
    assert planted.stats["speaker_overlap"] == ["s2"]
    assert planted.stats["test_seen_speaker_share"] == pytest.approx(2 / 10)
    assert "speaker-DEPENDENT" in planted.format()


def test_speakers_from_corpus_rules_and_manifest():
    # EmoDB keys carry the speaker in characters 1-2 of the clip id; no speaker field needed
    tr = [EmoBoxEntry("emodb-03a01Wa", "anger"), EmoBoxEntry("emodb-08a01Wa", "anger")]
    te = [EmoBoxEntry("emodb-03a02Wa", "anger")]
    r = audit_partition(tr, te, corpus="emodb")
    assert r.stats["speaker_overlap"] == ["03"]
    assert r.stats["content_overlap"]["shared"] == [] and r.stats["content_overlap"]["test_contents"] == 1
    # unknown corpus, no speaker field, no manifest: warned, not guessed
    u = audit_partition([EmoBoxEntry("x-1", "a")], [EmoBoxEntry("x-2", "a")])
    assert u.has("speaker_unknown", "warning") and not u.has("speaker_overlap", "error")
    # speaker from the matched clip of a manifest
    m = Manifest([ManifestRow(clip_id="1", corpus="x", speaker="Bob"), ManifestRow(clip_id="2", corpus="x", speaker="bob")])
    assert audit_partition([EmoBoxEntry("x-1", "a")], [EmoBoxEntry("x-2", "a")], manifest=m).has("speaker_overlap", "error")


def test_duplicates_and_media_content(tmp_path):
    train = _entries(["s1", "s2"])
    test = _entries(["s3"])
    dup_key = audit_partition(train, test + [train[0]])
    assert dup_key.has("duplicate_key", "error")
    same_wav = [EmoBoxEntry("user-other", "sad", speaker="s3", wav=train[0].wav)]
    assert audit_partition(train, test + same_wav).has("duplicate_media", "error")
    # byte-identical files under two keys on one side (found in RAVDESS actor 07)
    a, b = tmp_path / "a.flac", tmp_path / "b.flac"
    a.write_bytes(b"same bytes")
    b.write_bytes(b"same bytes")
    m = Manifest([ManifestRow(clip_id="a", corpus="c", speaker="p", path=str(a)),
                  ManifestRow(clip_id="b", corpus="c", speaker="p", path=str(b)),
                  ManifestRow(clip_id="z", corpus="c", speaker="q", path=str(tmp_path / "none.flac"))])
    r = audit_partition([EmoBoxEntry("c-a", "x"), EmoBoxEntry("c-b", "x")], [EmoBoxEntry("c-z", "x")],
                        manifest=m, hash_media=True)
    f = [f for f in r.findings if f.check == "duplicate_media"]
    assert len(f) == 1 and f[0].level == "warning" and f[0].details["groups"] == [["c-a", "c-b"]]


def test_class_balance_findings():
    train = _entries(["s1", "s2"], per_class=2) + [EmoBoxEntry(f"user-x{i}", "angry", speaker="s1") for i in range(20)]
    test = [e for e in _entries(["s3"]) if e.emo != "neutral"] + [EmoBoxEntry("user-f", "fear", speaker="s3")]
    r = audit_partition(train, test)
    msgs = {f.check: f for f in r.findings if f.level != "info"}
    assert r.has("class_missing", "error")          # fear only in test
    assert r.has("class_missing", "warning")        # neutral only in train
    assert msgs["class_imbalance"].details["ratio"] == pytest.approx(26 / 1)   # angry 4 + 20 + 2, fear 1
    assert r.has("class_shift", "warning")
    assert r.stats["class_counts"]["test"]["fear"] == 1
    with pytest.raises(SplitError, match="empty test"):
        audit_partition(train, [])


def test_fold_coverage():
    spk = ["s1", "s2", "s3"]
    ents = {s: _entries([s]) for s in spk}
    folds = [([e for t in spk if t != s for e in ents[t]], ents[s]) for s in spk]
    reports, total = audit_folds(folds)
    assert len(reports) == 3 and not total.errors
    bad = [folds[0], folds[1], (folds[2][0], folds[2][1] + ents["s1"][:1])]      # one clip tested twice
    _, total = audit_folds(bad)
    assert total.has("fold_coverage", "error")


def test_audit_cli_strict_exit_code(tmp_path):
    from emozoo.data.__main__ import main
    tr, te = tmp_path / "tr.jsonl", tmp_path / "te.jsonl"
    tr.write_text("".join(json.dumps({"key": e.key, "emo": e.emo, "speaker": e.speaker}) + "\n" for e in _entries(["a", "b"])))
    te.write_text("".join(json.dumps({"key": e.key, "emo": e.emo, "speaker": e.speaker}) + "\n" for e in _entries(["b"], prefix="t")))
    out = tmp_path / "audit.json"
    assert main(["audit", "--train", str(tr), "--test", str(te), "--json", str(out)]) == 0
    assert main(["audit", "--train", str(tr), "--test", str(te), "--strict"]) == 1
    rep = json.loads(out.read_text())
    assert rep["stats"]["speaker_overlap"] == ["b"]
    assert main(["audit"]) == 2


@pytest.mark.data
def test_real_emobox_audit_findings(data_dir):
    """EmoDB's EmoBox folds put all 10 speakers in every test fold; CASIA's and RAVDESS's are speaker-disjoint."""
    emodb = audit_emobox("emodb", data_dir=data_dir, hash_media=False)
    assert emodb["set"]["stats"]["folds_with_speaker_overlap"] == [1, 2, 3, 4, 5]
    assert all(len(f["stats"]["speaker_overlap"]) == 10 for f in emodb["folds"])
    assert emodb["summary"]["test_seen_speaker_share"] == "100%"
    for corpus in ("casia", "ravdess"):
        a = audit_emobox(corpus, data_dir=data_dir, hash_media=False)
        assert a["set"]["stats"]["folds_with_speaker_overlap"] == []
        assert a["summary"]["coverage"] == "each clip tested once"
