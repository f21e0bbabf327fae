"""emotion_speech: the head, the published zoo model, adaptation, refusals, weights handling.

Tests that run the Whisper backbone skip with the install command when its weights are missing
(CI installs them); tests on real clips carry ``@pytest.mark.data``.
"""
import json
from pathlib import Path

import numpy as np
import pytest

from emozoo.errors import EmozooError, InputRefused, WeightsError
from tests.models._flagship import files_or_skip, load_or_skip

REPO = Path(__file__).resolve().parents[3]
ZOO = REPO / "saved_models"


@pytest.fixture(scope="module")
def model():
    return load_or_skip("emotion_speech", "whisper_base")


def _voiced(f0: float, seconds: float = 1.0, rate: int = 16000) -> np.ndarray:
    """A harmonic 'vowel' with vibrato (periodic: passes the shared speech check)."""
    t = np.arange(int(seconds * rate)) / rate
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.03 * np.sin(2 * np.pi * 5 * t))) / rate
    w = sum(np.sin(k * phase) / k for k in range(1, 8)) * (0.5 + 0.5 * np.sin(np.pi * t / seconds))
    return (0.3 * w / np.abs(w).max()).astype(np.float32)


@pytest.fixture(scope="module")
def clips():
    return [_voiced(f0) for f0 in np.linspace(90, 300, 12)]


# --- the head ---------------------------------------------------------------------------------
def test_statistics_and_normalise():
    from emozoo.models.emotion_speech.emotion_speech_head import normalise, per_group_normalise, statistics
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, (50, 3, 4)).astype(np.float32)
    mean, std = statistics(x)
    assert mean.shape == std.shape == (3, 4)
    np.testing.assert_allclose(mean, x.mean(0), atol=1e-5)
    np.testing.assert_allclose(std, x.std(0), atol=1e-5)
    z = normalise(x, mean, std)
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(z.std(0), 1, atol=1e-3)
    groups = np.array(["a"] * 20 + ["b"] * 30)
    x[20:] += 100.0
    zg = per_group_normalise(x, groups)
    np.testing.assert_allclose(zg[20:].mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(zg[:20].mean(0), 0, atol=1e-4)


def test_head_learns_and_exports_consistently(tmp_path):
    """The head learns a task carried by one row, weights that row most, and the SavedModel's
    in-graph shipped normalisation equals normalising outside it."""
    import tensorflow as tf

    from emozoo.models.emotion_speech.emotion_speech_head import (export_head, head_probabilities, normalise,
                                                                  statistics, train_head)
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 400)
    x = rng.normal(0, 1, (400, 3, 8)).astype(np.float32)
    x[:, 1, :4] += 3.0 * np.eye(4)[y]              # only row 1 carries the class
    mean, std = statistics(x)
    z = normalise(x, mean, std)
    head = train_head(z, y, 4, head="linear", seed=0)
    assert (head_probabilities(head, z).argmax(1) == y).mean() > 0.9
    assert int(np.argmax(head.layer_weights().numpy())) == 1
    export_head(head, mean, std, tmp_path / "m", ("a", "b", "c", "d"), {"input": "emotion_speech_waveform"})
    loaded = tf.saved_model.load(str(tmp_path / "m"))
    p1 = loaded.serve_states(tf.constant(x[:16]))["probabilities"].numpy()
    p2 = loaded.serve_normalised(tf.constant(z[:16]))["probabilities"].numpy()
    np.testing.assert_allclose(p1, p2, atol=1e-5)
    np.testing.assert_allclose(p2, head_probabilities(head, z[:16]), atol=1e-5)
    assert json.loads((tmp_path / "m" / "assets" / "labels.json").read_text()) == ["a", "b", "c", "d"]


# --- the published model ----------------------------------------------------------------------
def test_zoo_folder_holds_the_head_only():
    from emozoo.zoo import read_registry
    entry = read_registry(ZOO)["models"]["emotion_speech"]
    folder = ZOO / entry["path"]
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert size < 3_000_000, f"{folder} is {size} bytes: the backbone must not be inside the zoo folder"
    assert not any(p.suffix in (".bin", ".safetensors") for p in folder.rglob("*"))
    pre = json.loads((folder / "assets" / "preprocessing.json").read_text())
    assert pre["input"] == "emotion_speech_waveform" and pre["backbone"] == "whisper_base"
    assert "non-commercial" in entry["licence"] and "MIT" in entry["backbone"]["licence"]
    assert entry["metrics"]["no_adaptation"]["uar"]["mean"] > 0.4


def test_load_through_emozoo(model):
    from emozoo.models.emotion_speech.emotion_speech_predictor import EmotionSpeechPredictor
    assert isinstance(model, EmotionSpeechPredictor)
    assert model.labels == ("neutral", "happy", "angry", "sad")
    assert model.adapted is None
    assert model.statistics[0].shape == (7, 512)


def test_weights_missing_gives_the_install_command(tmp_path, monkeypatch):
    import emozoo
    monkeypatch.setenv("EMOZOO_WEIGHTS_DIR", str(tmp_path / "empty"))
    with pytest.raises(WeightsError, match="install whisper_base"):
        emozoo.load("emotion_speech")


def test_refuses_non_signal(model):
    with pytest.raises(InputRefused, match="DC offset"):
        model.predict(np.full(32000, 0.4, np.float32), 16000)
    with pytest.raises(InputRefused, match="silent"):
        model.predict(np.zeros(32000, np.float32), 16000)
    noise = np.random.default_rng(0).normal(0, 0.1, 32000).astype(np.float32)
    with pytest.raises(InputRefused, match="no voiced speech"):
        model.predict(noise, 16000)
    with pytest.raises(InputRefused, match="too short"):
        model.predict(_voiced(150, 0.1), 16000)


def test_waveform_at_another_rate_is_resampled(model):
    w16 = _voiced(140, 1.0, 16000)
    w8 = _voiced(140, 1.0, 8000)
    p16, p8 = model.predict(w16, 16000), model.predict(w8, 8000)
    assert p16.shape == p8.shape == (1, 4)
    np.testing.assert_allclose(p8.sum(), 1, atol=1e-5)
    # the same band-limited signal at 8 kHz is resampled to 16 kHz: nearly the same states
    a, b = model.states(w8, 8000), model.states(w16, 16000)
    assert np.abs(a - b).mean() < 0.03 and np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.999
    np.testing.assert_allclose(p8, p16, atol=0.05)


# --- adaptation -------------------------------------------------------------------------------
def test_adapt_reset_save_load_round_trip(model, clips, tmp_path):
    probe = clips[3]
    shipped = model.predict(probe, 16000)
    try:
        assert model.adapt(clips, sample_rate=16000) == 12
        assert model.adapted == 12
        from emozoo.models.emotion_speech.emotion_speech_head import statistics
        states = np.stack([model.states(c, 16000)[0] for c in clips])
        np.testing.assert_allclose(model.statistics[0], statistics(states)[0], atol=1e-4)
        adapted = model.predict(probe, 16000)
        assert not np.allclose(adapted, shipped, atol=1e-3), "adaptation changed nothing"
        path = model.save_adaptation(tmp_path / "data" / "adaptation.npz")
        assert path.stat().st_size < 100_000
        with np.load(path, allow_pickle=False) as d:
            assert json.loads(str(d["meta"]))["clips"] == 12
        model.reset()
        assert model.adapted is None
        np.testing.assert_allclose(model.predict(probe, 16000), shipped, atol=1e-6)
        meta = model.load_adaptation(path)
        assert meta["backbone"] == "whisper_base" and model.adapted == 12
        np.testing.assert_allclose(model.predict(probe, 16000), adapted, atol=1e-6)
        # predict(..., adapt="batch") on the same clips = adapt then predict; the model's state is kept
        model.reset()
        batch = model.predict_states(states, statistics(states))
        np.testing.assert_allclose(batch[3], adapted[0], atol=1e-5)
    finally:
        model.reset()


def test_adapt_batch_on_files(model, tmp_path):
    import soundfile as sf
    files = []
    for i, f0 in enumerate(np.linspace(100, 260, 10)):
        files.append(str(tmp_path / f"c{i}.wav"))
        sf.write(files[-1], _voiced(f0, 0.8), 16000)
    batch = model.predict(files, adapt="batch")
    assert model.adapted is None                      # for that call only
    model.adapt(str(tmp_path))                        # a folder of audio files
    try:
        assert model.adapted == 10
        np.testing.assert_allclose(model.predict(files), batch, atol=1e-5)
    finally:
        model.reset()
    assert not np.allclose(model.predict(files), batch, atol=1e-3)


def test_below_minimum_is_refused(model, clips):
    from emozoo.models.emotion_speech.emotion_speech_predictor import AdaptationError
    with pytest.raises(AdaptationError, match="at least 10 clips"):
        model.adapt(clips[:9], sample_rate=16000)
    assert model.adapted is None
    dc = np.full(16000, 0.3, np.float32)
    with pytest.raises(AdaptationError, match="1 refused by the speech check"):
        model.adapt(clips[:9] + [dc], sample_rate=16000)
    with pytest.raises(EmozooError, match="at least 10 clips.*the batch gave 1 usable"):
        model.predict(clips[0], 16000, adapt="batch")
    with pytest.raises(AdaptationError, match="not a folder"):
        model.adapt("/nonexistent/folder")
    with pytest.raises(AdaptationError, match="not adapted"):
        model.save_adaptation("/tmp/never.npz")


def test_adaptation_file_refused_inside_the_zoo(model, clips, tmp_path):
    from emozoo.models.emotion_speech.emotion_speech_predictor import AdaptationError
    model.adapt(clips, sample_rate=16000)
    try:
        for target in (model.path / "adaptation.npz", model.path.parent / "a.npz", ZOO / "a.npz"):
            with pytest.raises(AdaptationError, match="inside the checksummed zoo folder"):
                model.save_adaptation(target)
            assert not target.exists()
        with pytest.raises(AdaptationError, match="inside the checksummed zoo folder"):
            model.load_adaptation(model.path / "assets" / "labels.json")
    finally:
        model.reset()


def test_bad_adaptation_files_are_refused(model, tmp_path):
    from emozoo.models.emotion_speech.emotion_speech_predictor import AdaptationError
    bad = tmp_path / "bad.npz"
    np.savez(bad, mean=np.zeros((5, 384), np.float32), std=np.ones((5, 384), np.float32),
             meta=np.array(json.dumps({"backbone": "whisper_tiny_en", "clips": 10})))
    with pytest.raises(AdaptationError, match="this model needs whisper_base"):
        model.load_adaptation(bad)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(AdaptationError, match="not an emotion_speech adaptation file"):
        model.load_adaptation(tmp_path / "junk.npz")
    assert model.adapted is None


# --- real clips ---------------------------------------------------------------------------------
REAL = {"emodb/wav/03a01Wa.flac": "angry", "emodb/wav/03a01Nc.flac": "neutral",
        "ravdess/Actor_02/03-01-05-02-01-01-02.flac": "angry", "casia/wangzhe/angry/201.flac": "angry"}


@pytest.mark.data
def test_real_clips(model, data_dir):
    assert model.predict_labels(files_or_skip(data_dir, REAL)) == list(REAL.values())


@pytest.mark.data
def test_states_equal_the_training_store(model, data_dir):
    """The predictor's backbone path gives the values the head was trained on (the whisper_base store)."""
    from emozoo.data.tfrecord import read_store
    store = REPO / "tfrecords" / "emodb_whisper_base"
    if not store.exists():
        pytest.skip(f"{store} not built")
    want = None
    for ex in read_store(str(store), features=["clip_id", "whisper_base"]).as_numpy_iterator():
        if ex["clip_id"].decode() == "03a01Wa":
            want = ex["whisper_base"]
            break
    assert want is not None
    got = model.states(str(data_dir / "emodb" / "wav" / "03a01Wa.flac"))[0]
    np.testing.assert_allclose(got, want, atol=2e-3, rtol=1e-3)


@pytest.mark.data
def test_windows_of_a_real_clip(model, data_dir):
    from emozoo.zoo.windows import predict_windows
    rows = list(predict_windows(model, data_dir / "emodb" / "wav" / "03a01Wa.flac", window=1.0, hop=0.5))
    assert len(rows) >= 2
    assert any(r["prediction"] == "angry" for r in rows)
    assert all(abs(sum(r["probabilities"].values()) - 1) < 1e-4 for r in rows if r["probabilities"])


def test_cli_adapt(model, tmp_path, capsys):
    """python -m emozoo.predict --model emotion_speech --adapt DIR|batch FILE...: adapted rows; too few clips: exit 2."""
    import soundfile as sf

    from emozoo.predict.__main__ import main
    files = []
    for i, f0 in enumerate(np.linspace(100, 260, 10)):
        files.append(str(tmp_path / f"c{i}.wav"))
        sf.write(files[-1], _voiced(f0, 0.8), 16000)
    want = model.predict(files, adapt="batch")
    assert main(["--model", "emotion_speech", "--json", "--adapt", "batch", *files]) == 0
    out, err = capsys.readouterr()
    rows = [json.loads(line) for line in out.splitlines()]
    got = np.array([[r["probabilities"][k] for k in model.labels] for r in rows])
    np.testing.assert_allclose(got, want, atol=1e-3)
    assert "adapted on 10 clips" in err
    assert main(["--model", "emotion_speech", "--json", "--adapt", str(tmp_path), files[0]]) == 0
    capsys.readouterr()
    assert main(["--model", "emotion_speech", "--adapt", "batch", *files[:3]]) == 2
    assert "at least 10 clips" in capsys.readouterr().err
