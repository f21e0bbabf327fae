"""emozoo.extract: sharded stores per feature, failures listed, resume, idempotence, CLI."""
import json

import numpy as np
import pytest

from emozoo.data.manifest import Manifest, ManifestRow
from emozoo.data.store import StoreWriteError
from emozoo.data.tfrecord import iter_examples, load_spec, read_store
from emozoo.errors import SchemaError
from emozoo.extract import extract_corpus, plan_shards
from emozoo.extract.__main__ import main
from emozoo.features.registry import get_extractor
from tests.conftest import corpus_dir

RATE = 16000
EMOTIONS = ["neutral", "happy", "angry", "sad", "fear", "happy", "sad"]


@pytest.fixture
def synth(tmp_path):
    """Seven short WAV clips (one labelled ``fear``, outside 4class), a 30 ms clip and a corrupt file."""
    import soundfile
    audio = tmp_path / "audio"
    audio.mkdir()
    rows, rng = [], np.random.default_rng(0)
    for i, emo in enumerate(EMOTIONS):
        n = int(RATE * (0.6 + 0.1 * i))
        t = np.arange(n) / RATE
        x = 0.3 * np.sin(2 * np.pi * (150 + 40 * i) * t) + 0.01 * rng.normal(size=n)
        path = audio / f"c{i}.wav"
        soundfile.write(path, x.astype(np.float32), RATE, subtype="PCM_16")
        rows.append(ManifestRow(clip_id=f"c{i}", corpus="synth", path=str(path), label=emo, emotion=emo,
                                speaker=f"s{i % 2}", culture="synthetic"))
    short = audio / "short.wav"
    soundfile.write(short, (0.3 * np.sin(np.arange(480) / 3.0)).astype(np.float32), RATE)
    rows.append(ManifestRow(clip_id="short", corpus="synth", path=str(short), label="sad", emotion="sad",
                            speaker="s0", culture="synthetic"))
    bad = audio / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEthis is not audio" * 10)
    rows.append(ManifestRow(clip_id="bad", corpus="synth", path=str(bad), label="angry", emotion="angry",
                            speaker="s1", culture="synthetic"))
    return Manifest(rows, name="synth")


def _run(manifest, tmp_path, features=("fbank", "short68"), **kw):
    kw = {"corpus": "synth", "out_root": tmp_path / "tf", "label_set": "4class", "examples_per_shard": 3,
          "progress": False, "raise_on_failures": False, **kw}
    return extract_corpus(manifest, list(features), **kw)


def test_plan_is_deterministic_and_round_robin(synth):
    plan = plan_shards(synth, examples_per_shard=3)
    assert list(plan) == ["all"] and len(plan["all"]) == 3
    ids = sorted(r.clip_id for r in synth)
    assert [r.clip_id for r in plan["all"][1]] == ids[1::3]
    reversed_manifest = Manifest(list(synth)[::-1], name="synth")
    assert plan_shards(reversed_manifest, examples_per_shard=3) == plan


def test_stores_per_feature_with_failures_listed(synth, tmp_path):
    fbank, short = _run(synth, tmp_path)
    assert fbank.store == tmp_path / "tf" / "synth_fbank" and short.store == tmp_path / "tf" / "synth_short68"
    # the corrupt file fails everywhere; the 30 ms clip is one padded Fbank frame but too short for short68
    assert [f["clip_id"] for f in fbank.failures] == ["bad"]
    assert sorted(f["clip_id"] for f in short.failures) == ["bad", "short"]
    assert "cannot decode" in fbank.failures[0]["error"]
    assert fbank.total == 8 and short.total == 7
    listed = [json.loads(line) for line in (short.store / "failures.jsonl").read_text().splitlines()]
    assert sorted(f["clip_id"] for f in listed) == ["bad", "short"]
    assert fbank.anomalies == 0 and short.anomalies == 0
    assert (fbank.store / "validation" / "statistics.pb").exists()

    spec = load_spec(fbank.store)
    assert spec["fbank"].shape == (None, 128) and spec.classes == ("neutral", "happy", "angry", "sad")
    assert spec.names[:9] == ["clip_id", "corpus", "speaker", "culture", "split", "emotion", "label",
                              "dialogue_id", "turn_index"]
    examples = {ex["clip_id"].numpy().decode(): ex for ex in read_store(fbank.store)}
    assert examples["c4"]["label"].numpy() == -1 and examples["c4"]["emotion"].numpy() == b""   # fear
    assert examples["c2"]["label"].numpy() == 2
    assert examples["short"]["fbank"].shape == (1, 128)
    assert examples["c6"]["fbank"].shape == (1 + (int(RATE * 1.2) - 400) // 160, 128)
    assert load_spec(short.store)["short68"].shape == (68,)


def test_stored_values_equal_direct_extraction(synth, tmp_path):
    from emozoo.data.audio import load_audio
    (store,) = _run(synth, tmp_path, out=tmp_path / "both")
    assert store.features == ("fbank", "short68")
    got = {ex["clip_id"][0].decode(): ex for ex in iter_examples(store.store)}
    row = next(r for r in synth if r.clip_id == "c3")
    x, _ = load_audio(row.path, RATE)
    np.testing.assert_array_equal(got["c3"]["short68"], get_extractor("short68")(x, RATE))
    np.testing.assert_array_equal(got["c3"]["fbank"], get_extractor("fbank")(x, RATE).reshape(-1))
    assert "short" not in got and "bad" not in got     # a combined store needs every feature of a clip


def test_resume_skips_finished_shards_and_is_idempotent(synth, tmp_path):
    (first,) = _run(synth, tmp_path, features=["short68"], validate=False)
    assert first.shards_written == 3 and first.shards_skipped == 0
    shards = sorted(first.store.glob("*.tfrecord"))
    before = {p.name: p.read_bytes() for p in shards}
    # an interrupted run: one shard never finished (only its .tmp), another lost its progress record
    shards[0].unlink()
    (first.store / (shards[0].name + ".tmp")).write_bytes(b"partial")
    (first.store / "progress" / (shards[2].name + ".json")).unlink()
    (again,) = _run(synth, tmp_path, features=["short68"], validate=False)
    assert again.shards_written == 2 and again.shards_skipped == 1
    assert {p.name: p.read_bytes() for p in sorted(first.store.glob("*.tfrecord"))} == before
    assert not list(first.store.glob("*.tmp"))
    (third,) = _run(synth, tmp_path, features=["short68"], validate=False)
    assert third.shards_written == 0 and third.shards_skipped == 3 and third.total == first.total
    with pytest.raises(StoreWriteError, match="short"):
        _run(synth, tmp_path, features=["short68"], validate=False, raise_on_failures=True)


def test_refuses_to_mix_settings_unless_overwrite(synth, tmp_path):
    _run(synth, tmp_path, features=["short68"], validate=False)
    with pytest.raises(SchemaError, match="label set"):
        _run(synth, tmp_path, features=["short68"], validate=False, label_set="6basic")
    fewer = Manifest(list(synth)[:4], name="synth")
    with pytest.raises(SchemaError, match="clips"):
        _run(fewer, tmp_path, features=["short68"], validate=False)
    (res,) = _run(fewer, tmp_path, features=["short68"], validate=False, overwrite=True)
    assert res.total == 4 and len(list(res.store.glob("*.tfrecord"))) == 2


def test_cli_reports_failures_loudly(synth, tmp_path, capsys):
    synth.to_csv(tmp_path / "synth.csv")
    out = tmp_path / "cli_store"
    rc = main(["--corpus", "csv", "--manifest", str(tmp_path / "synth.csv"), "--features", "fbank",
               "--out", str(out), "--no-progress", "--no-validate"])
    captured = capsys.readouterr()
    assert rc == 3
    assert "FAILED: 1 clip(s)" in captured.err and "bad" in captured.err
    assert load_spec(out).counts == {"all": 8}
    assert main(["--corpus", "csv", "--manifest", str(tmp_path / "synth.csv"), "--features", "mfcc",
                 "--out", str(tmp_path / "x"), "--no-progress"]) == 2
    assert "unknown feature 'mfcc'" in capsys.readouterr().err
    assert main(["--corpus", "jaffe", "--features", "is10", "--data-dir", str(tmp_path)]) == 2


@pytest.mark.data
def test_cli_on_emodb_clips(data_dir, tmp_path, capsys):
    from emozoo.data.audio import load_audio
    rc = main(["--corpus", "emodb", "--data-dir", str(data_dir), "--features", "is10,egemaps",
               "--label-set", "4class", "--limit", "4", "--out-root", str(tmp_path), "--no-progress"])
    assert rc == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "emodb_is10: 4 examples" in out and "no anomalies" in out
    got = {ex["clip_id"][0].decode(): ex for ex in iter_examples(tmp_path / "emodb_is10")}
    assert sorted(got) == ["03a01Fa", "03a01Nc", "03a01Wa", "03a02Fc"]
    x, _ = load_audio(corpus_dir(data_dir, "emodb") / "wav" / "03a01Wa.flac", RATE)
    np.testing.assert_array_equal(got["03a01Wa"]["is10"], get_extractor("is10")(x, RATE))
    assert got["03a01Wa"]["label"][0] == 2 and got["03a01Wa"]["culture"][0] == b"german"


def test_an_extractor_crash_on_one_clip_is_listed(synth, tmp_path, monkeypatch):
    from emozoo.data.tfrecord import FeatureSpec
    from emozoo.features import registry

    def crash_on_c2(x, rate):
        if len(x) == int(RATE * 0.8):                    # clip c2
            raise RuntimeError("library failure")
        return np.array([float(len(x))], np.float32)

    monkeypatch.setitem(registry._FACTORIES, "length", lambda: registry.Extractor(
        "length", FeatureSpec("length", "float32", (1,)), crash_on_c2, config="test"))
    monkeypatch.delitem(registry._CACHE, "length", raising=False)
    (res,) = _run(synth, tmp_path, features=["length"], validate=False)
    assert sorted(f["clip_id"] for f in res.failures) == ["bad", "c2"]
    assert "RuntimeError: library failure" in next(f["error"] for f in res.failures if f["clip_id"] == "c2")
    assert res.total == 7


def test_parallel_workers_write_the_same_stores(synth, tmp_path):
    (one,) = _run(synth, tmp_path / "a", features=["fbank"], validate=False)
    (two,) = _run(synth, tmp_path / "b", features=["fbank"], validate=False, workers=2)
    a = {p.name: p.read_bytes() for p in one.store.glob("*.tfrecord")}
    b = {p.name: p.read_bytes() for p in two.store.glob("*.tfrecord")}
    assert len(a) == 3 and a == b
    assert two.failures == one.failures and two.shards_written == 3


def test_row_extractors_for_other_modalities(synth, tmp_path, monkeypatch):
    """Extractors with input='row' (Dface, text) get the manifest row and need no audio."""
    from emozoo.data.tfrecord import FeatureSpec
    from emozoo.features import registry

    monkeypatch.setitem(registry._FACTORIES, "idlen", lambda: registry.Extractor(
        "idlen", FeatureSpec("idlen", "float32", (2,)), lambda row: [len(row.clip_id), len(row.speaker)],
        config="test", input="row"))
    monkeypatch.delitem(registry._CACHE, "idlen", raising=False)
    text_only = Manifest([ManifestRow(clip_id=f"t{i}", corpus="synth", speaker="spk", emotion="happy")
                          for i in range(3)], name="synth")
    (res,) = _run(text_only, tmp_path, features=["idlen"], validate=False)
    assert res.total == 3 and not res.failures
    got = [ex["idlen"].tolist() for ex in iter_examples(res.store)]
    assert sorted(got) == [[2.0, 3.0]] * 3
    with pytest.raises(SchemaError, match="no media path"):
        _run(text_only, tmp_path / "x", features=["idlen", "short68"], validate=False)


def test_gzip_store_reads_back(synth, tmp_path):
    (res,) = _run(synth, tmp_path, features=["short68"], validate=False, compression="GZIP")
    assert sorted(p.name for p in res.store.glob("*.tfrecord.gz")) == [f"all-0000{k}-of-00003.tfrecord.gz"
                                                                      for k in range(3)]
    assert len(list(read_store(res.store))) == res.total == 7
    (again,) = _run(synth, tmp_path, features=["short68"], validate=False, compression="GZIP")
    assert again.shards_written == 0


def test_segmenting_long_recordings(synth, tmp_path):
    import soundfile
    long_path = tmp_path / "audio" / "meeting.wav"
    t = np.arange(int(RATE * 5.3)) / RATE
    soundfile.write(long_path, (0.2 * np.sin(2 * np.pi * 200 * t)).astype(np.float32), RATE)
    rows = [r for r in synth if r.clip_id in ("c0", "bad")]
    rows.append(ManifestRow(clip_id="meeting", corpus="synth", path=str(long_path), culture="english"))
    manifest = Manifest(rows, name="synth")
    (res,) = _run(manifest, tmp_path, features=["fbank"], validate=False, segment_seconds=2.0, segment_hop=1.0)
    got = {ex["clip_id"][0].decode(): ex for ex in iter_examples(res.store)}
    # 5.3 s in 2 s windows every 1 s: 4 windows (the 0.3 s tail dropped); the 0.6 s clip c0 stays whole
    assert sorted(got) == ["c0#00000", "meeting#00000", "meeting#00001", "meeting#00002", "meeting#00003"]
    assert got["meeting#00001"]["fbank"].size == (1 + (2 * RATE - 400) // 160) * 128
    assert got["meeting#00001"]["label"][0] == -1 and got["c0#00000"]["label"][0] == 0
    assert [f["clip_id"] for f in res.failures] == ["bad"]
    from emozoo.data.audio import load_audio
    x, _ = load_audio(long_path, RATE)
    np.testing.assert_array_equal(got["meeting#00002"]["fbank"],
                                  get_extractor("fbank")(x[2 * RATE:4 * RATE], RATE).reshape(-1))
    with pytest.raises(SchemaError, match="segmenting differ"):
        _run(manifest, tmp_path, features=["fbank"], validate=False, segment_seconds=3.0)
    with pytest.raises(SchemaError, match="hop"):
        _run(manifest, tmp_path / "y", features=["fbank"], validate=False, segment_seconds=-1.0)


def test_runner_needs_beam_and_beam_options_need_runner(synth, tmp_path, capsys, monkeypatch):
    import sys
    synth.to_csv(tmp_path / "synth.csv")
    base = ["--corpus", "csv", "--manifest", str(tmp_path / "synth.csv"), "--features", "short68",
            "--out", str(tmp_path / "s"), "--no-progress", "--no-validate"]
    monkeypatch.setitem(sys.modules, "apache_beam", None)          # as where Beam is not installed
    monkeypatch.delitem(sys.modules, "emozoo.extract.beam", raising=False)
    assert main(base + ["--runner", "DirectRunner"]) == 2
    assert 'pip install -e ".[beam]"' in capsys.readouterr().err
    assert not (tmp_path / "s").exists()                            # refused before any store was touched
    with pytest.raises(SystemExit):
        main(base + ["--direct_num_workers=2"])
    assert "need --runner" in capsys.readouterr().err
