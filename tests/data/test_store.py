"""write_manifest_store: raw-media stores from real and synthetic audio, and its failure path."""
import json

import numpy as np
import pytest
import soundfile as sf

from emozoo.data.manifest import Manifest, ManifestRow
from emozoo.data.store import StoreWriteError, write_manifest_store
from emozoo.data.tfrecord import iter_examples, load_spec, read_store


def _row(tmp_path, name, emotion="angry", speaker="s1", *, rate=16000, channels=1, seconds=0.5, silent=False,
         corrupt=False):
    path = tmp_path / f"{name}.wav"
    if corrupt:
        path.write_bytes(b"RIFF\x00\x00\x00\x00WAVEgarbage")
    else:
        t = np.arange(int(rate * seconds)) / rate
        x = np.zeros_like(t) if silent else 0.3 * np.sin(2 * np.pi * 220 * t)
        sf.write(path, np.stack([x] * channels, axis=1) if channels > 1 else x, rate)
    return ManifestRow(clip_id=name, path=str(path), label=emotion, emotion=emotion, speaker=speaker,
                       corpus="toy", culture="toy")


def test_converts_rate_and_channels(tmp_path):
    rows = [_row(tmp_path, "a"), _row(tmp_path, "b", "sad", rate=44100, channels=2),
            _row(tmp_path, "c", "disgust", rate=8000)]
    store = write_manifest_store(Manifest(rows, name="toy"), tmp_path / "store", modality="audio",
                                 label_set="4class", progress=False)
    exs = {e["clip_id"][0].decode(): e for e in iter_examples(store)}
    assert set(exs) == {"a", "b", "c"}
    for e in exs.values():
        assert e["sample_rate"][0] == 16000 and abs(e["audio"].size - 8000) <= 1
    assert exs["c"]["emotion"][0] == b"" and exs["c"]["label"][0] == -1      # disgust is outside 4class
    spec = load_spec(store)
    assert spec.classes == ("neutral", "happy", "angry", "sad") and spec.counts == {"all": 3}
    assert not (store / "failures.jsonl").exists()
    batch = next(iter(read_store(store).batch(3)))
    assert batch["audio"].shape[0] == 3


def test_bad_clips_are_listed_and_the_rest_written(tmp_path):
    rows = [_row(tmp_path, "good1"), _row(tmp_path, "silent", silent=True), _row(tmp_path, "broken", corrupt=True),
            _row(tmp_path, "good2", "happy")]
    rows.append(ManifestRow(clip_id="gone", path=str(tmp_path / "gone.wav"), emotion="sad", corpus="toy"))
    with pytest.raises(StoreWriteError) as err:
        write_manifest_store(Manifest(rows, name="toy"), tmp_path / "store", modality="audio", progress=False)
    msg = str(err.value)
    assert "3 clip(s)" in msg and "silent" in msg and "broken" in msg and "gone" in msg
    failures = [json.loads(line) for line in (tmp_path / "store" / "failures.jsonl").read_text().splitlines()]
    assert {f["clip_id"] for f in failures} == {"silent", "broken", "gone"}
    assert all(f["error"] for f in failures)
    written = {e["clip_id"][0].decode() for e in iter_examples(tmp_path / "store")}
    assert written == {"good1", "good2"}          # nothing good was lost
    assert load_spec(tmp_path / "store").counts == {"all": 2}


@pytest.mark.data
def test_real_emodb_clips(data_dir, tmp_path):
    from emozoo.data.corpora import load_manifest
    m = load_manifest("emodb", data_dir=data_dir)
    some = Manifest([r for r in m if r.speaker == "03"][:6], name="emodb")
    store = write_manifest_store(some, tmp_path / "emodb", modality="audio", label_set="4class", progress=False,
                                 compression="GZIP", num_shards=2)
    spec = load_spec(store)
    assert spec.counts == {"all": 6} and spec.compression == "GZIP" and len(spec.shards["all"]) == 2
    exs = list(iter_examples(store))
    assert len(exs) == 6 and all(np.abs(e["audio"]).max() <= 1.0 for e in exs)
    # the stored waveform is the file resampled to 16 kHz: same duration, same signal
    first = next(e for e in exs if e["clip_id"][0].decode() == some[0].clip_id)
    ref, rate = sf.read(some[0].path, dtype="float32")
    assert abs(first["audio"].size - round(ref.size * 16000 / rate)) <= 1
    import librosa
    expect = librosa.resample(ref, orig_sr=rate, target_sr=16000)[: first["audio"].size]
    assert np.corrcoef(first["audio"][: expect.size], expect)[0, 1] > 0.99
