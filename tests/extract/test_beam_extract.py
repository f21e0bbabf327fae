"""``--runner DirectRunner``: the Beam pipeline writes the in-process runner's stores, byte for byte."""
import json

import numpy as np
import pytest

from emozoo.data.manifest import Manifest, ManifestRow
from emozoo.data.tfrecord import iter_examples, load_spec
from emozoo.extract import extract_corpus
from emozoo.extract.__main__ import main

pytest.importorskip("apache_beam", reason="Apache Beam not installed (pip install -e \".[beam]\"); "
                                          "CI installs only .[test]")

RATE = 16000


@pytest.fixture
def corpus(tmp_path):
    """Nine short tone+noise clips in two splits, one corrupt file."""
    import soundfile
    rows, rng = [], np.random.default_rng(1)
    for i, emo in enumerate(["neutral", "happy", "angry", "sad", "fear", "happy", "sad", "angry", "neutral"]):
        n = int(RATE * (0.5 + 0.05 * i))
        x = 0.3 * np.sin(2 * np.pi * (120 + 30 * i) * np.arange(n) / RATE) + 0.01 * rng.normal(size=n)
        path = tmp_path / f"c{i}.wav"
        soundfile.write(path, x.astype(np.float32), RATE, subtype="PCM_16")
        rows.append(ManifestRow(clip_id=f"c{i}", corpus="synth", path=str(path), label=emo, emotion=emo,
                                speaker=f"s{i % 3}", culture="synthetic", split="train" if i < 6 else "test"))
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot audio" * 8)
    rows.append(ManifestRow(clip_id="bad", corpus="synth", path=str(bad), label="sad", emotion="sad",
                            speaker="s0", culture="synthetic", split="train"))
    manifest = Manifest(rows, name="synth")
    manifest.to_jsonl(tmp_path / "synth.jsonl")
    return manifest


def _store_files(store):
    return {p.name: p.read_bytes() for p in sorted(store.glob("*.tfrecord"))}


def test_beam_direct_runner_equals_in_process(corpus, tmp_path, capsys):
    common = {"corpus": "synth", "label_set": "4class", "examples_per_shard": 3, "progress": False,
              "raise_on_failures": False, "validate": False}
    local = extract_corpus(corpus, ["short68"], out_root=tmp_path / "local", **common)
    # the CLI path: --runner DirectRunner, 2 worker processes (direct_running_mode=multi_processing)
    rc = main(["--corpus", "csv", "--manifest", str(tmp_path / "synth.jsonl"), "--features", "short68",
               "--label-set", "4class", "--examples-per-shard", "3", "--out-root", str(tmp_path / "beam"),
               "--runner", "DirectRunner", "--workers", "2", "--no-progress"])
    captured = capsys.readouterr()
    assert rc == 3, captured.err                      # the corrupt clip is listed, the rest written
    assert "FAILED: 1 clip(s)" in captured.err and "bad" in captured.err
    for res in local:
        beam_store = tmp_path / "beam" / res.store.name
        files = _store_files(beam_store)
        assert len(files) == 4 and files == _store_files(res.store)   # train 7 clips -> 3 shards, test 3 -> 1
        assert load_spec(beam_store).to_json() == load_spec(res.store).to_json()
        assert (beam_store / "schema.pbtxt").read_text() == (res.store / "schema.pbtxt").read_text()
        listed = [json.loads(line) for line in (beam_store / "failures.jsonl").read_text().splitlines()]
        assert [f["clip_id"] for f in listed] == ["bad"] == [f["clip_id"] for f in res.failures]
        assert (beam_store / "validation" / "anomalies.pbtxt").exists()   # the CLI validated the Beam store
    a = {ex["clip_id"][0]: ex for ex in iter_examples(tmp_path / "beam" / "synth_short68")}
    b = {ex["clip_id"][0]: ex for ex in iter_examples(local[0].store)}
    assert sorted(a) == sorted(b) and len(a) == 9
    for k in a:
        for name in ("short68", "label", "split", "speaker"):
            np.testing.assert_array_equal(a[k][name], b[k][name])


def test_beam_resumes_only_missing_shards(corpus, tmp_path):
    common = {"corpus": "synth", "label_set": "4class", "examples_per_shard": 3, "progress": False,
              "raise_on_failures": False, "validate": False, "out_root": tmp_path / "tf"}
    (first,) = extract_corpus(corpus, ["short68"], **common)
    before = _store_files(first.store)
    victim = sorted(first.store.glob("train-*.tfrecord"))[1]
    victim.unlink()
    (again,) = extract_corpus(corpus, ["short68"], runner="DirectRunner",
                              pipeline_args=["--direct_running_mode=in_memory"], **common)
    assert again.shards_written == 1 and again.shards_skipped == 3
    assert _store_files(first.store) == before
