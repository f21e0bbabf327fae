"""Whisper backbone: CTranslate2 reader, log-Mel front end, encoder, parity with CTranslate2, extractor.

Parity fixtures: ``tests/backbones/fixtures/whisper_reference.npz``, written by
``tools/reference/whisper_reference.py`` with CTranslate2 (fp32 compute) and librosa.
"""
import json
import struct
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from emozoo.backbones.whisper.ct2_reader import read_ct2_model
from emozoo.backbones.whisper.encoder import WhisperEncoder, sinusoids
from emozoo.backbones.whisper.frontend import WhisperAudioConverter, log_mel_spectrogram, mel_filters
from emozoo.errors import EmozooError, FeatureError, WeightsError
from tests.conftest import corpus_dir

FIXTURE = Path(__file__).parent / "fixtures" / "whisper_reference.npz"
REAL_CLIPS = {"casia": ("casia", "liuchanhg/angry/201.flac"),
              "ravdess": ("ravdess", "Actor_01/03-01-05-01-01-01-01.flac")}


def synthetic_wave(seconds: float = 2.5, sr: int = 16000) -> np.ndarray:
    """Same formula as tools/reference/whisper_reference.py::synthetic_wave."""
    t = np.arange(int(seconds * sr)) / sr
    f0 = 120.0 + 40.0 * t
    phase = 2 * np.pi * np.cumsum(f0) / sr
    voiced = sum(np.sin(k * phase) / k for k in range(1, 8))
    env = 0.5 * (1 - np.cos(2 * np.pi * 4.0 * t))
    return (0.1 * env * voiced + 0.01 * np.sin(2 * np.pi * 3000.0 * t)).astype(np.float32)


def rel_err(a, b):
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(np.asarray(b)))


@pytest.fixture(scope="module")
def ref():
    return np.load(FIXTURE, allow_pickle=False)


def _preset(name):
    from emozoo.backbones.whisper.backbone import WhisperBackbone
    try:
        return WhisperBackbone.from_preset(name)
    except WeightsError as exc:
        pytest.skip(f"{name} weights not installed ({exc}); CI installs them")


@pytest.fixture(scope="module")
def base():
    return _preset("whisper_base")


# -- CTranslate2 reader ---------------------------------------------------------------------------

def _ct2_string(s):
    b = s.encode() + b"\0"
    return struct.pack("<H", len(b)) + b


def write_ct2(path, variables, aliases=(), version=6, name="WhisperSpec", revision=3):
    """A minimal CTranslate2 writer following ctranslate2/specs/model_spec.py::_serialize."""
    ids = {np.dtype("float32"): 0, np.dtype("int8"): 1, np.dtype("int16"): 2, np.dtype("int32"): 3,
           np.dtype("float16"): 4}
    out = [struct.pack("<I", version), _ct2_string(name), struct.pack("<I", revision),
           struct.pack("<I", len(variables))]
    for var, arr in variables.items():
        arr = np.asarray(arr, order="C")  # (ascontiguousarray would make a 0-d array 1-d)
        out += [_ct2_string(var), struct.pack("<B", arr.ndim), struct.pack(f"<{arr.ndim}I", *arr.shape),
                struct.pack("<B", ids[arr.dtype]), struct.pack("<I", arr.nbytes), arr.tobytes()]
    out.append(struct.pack("<I", len(aliases)))
    for alias, target in aliases:
        out += [_ct2_string(alias), _ct2_string(target)]
    Path(path).write_bytes(b"".join(out))


def test_reader_reads_every_dtype_shape_and_alias(tmp_path):
    rng = np.random.default_rng(0)
    variables = {"encoder/w": rng.standard_normal((3, 4, 2)).astype(np.float16),
                 "encoder/b": rng.standard_normal(5).astype(np.float32),
                 "decoder/q": rng.integers(-128, 127, (2, 3)).astype(np.int8),
                 "encoder/num_heads": np.array(8, np.int16)}
    write_ct2(tmp_path / "model.bin", variables, aliases=[("decoder/proj", "decoder/q")])
    m = read_ct2_model(tmp_path / "model.bin")
    assert (m.name, m.revision, m.version) == ("WhisperSpec", 3, 6)
    assert set(m.variables) == set(variables)
    for k, v in variables.items():
        assert m.variables[k].dtype == v.dtype and m.variables[k].shape == v.shape
        np.testing.assert_array_equal(m.variables[k], v)
    np.testing.assert_array_equal(m.get("decoder/proj"), variables["decoder/q"])
    only = read_ct2_model(tmp_path / "model.bin", prefix="encoder/")
    assert set(only.variables) == {"encoder/w", "encoder/b", "encoder/num_heads"}


@pytest.mark.parametrize("cut", [2, 10, 40, 70, -3])
def test_reader_refuses_a_truncated_file(tmp_path, cut):
    write_ct2(tmp_path / "model.bin", {"encoder/w": np.ones((4, 4), np.float16)})
    raw = (tmp_path / "model.bin").read_bytes()
    (tmp_path / "cut.bin").write_bytes(raw[:cut])
    with pytest.raises(WeightsError, match="truncated|corrupt"):
        read_ct2_model(tmp_path / "cut.bin")


def test_reader_refuses_unknown_version_bad_sizes_and_trailing_bytes(tmp_path):
    write_ct2(tmp_path / "v5.bin", {"w": np.ones(3, np.float32)}, version=5)
    with pytest.raises(WeightsError, match="version 5 is not supported"):
        read_ct2_model(tmp_path / "v5.bin")
    write_ct2(tmp_path / "ok.bin", {"w": np.ones(3, np.float32)})
    raw = bytearray((tmp_path / "ok.bin").read_bytes())
    (tmp_path / "trailing.bin").write_bytes(bytes(raw) + b"xx")
    with pytest.raises(WeightsError, match="unexpected bytes"):
        read_ct2_model(tmp_path / "trailing.bin")
    dtype_at = 4 + 2 + 12 + 4 + 4 + 2 + 2 + 1 + 4   # version, name, revision, count, var name, rank, dim
    bad = bytearray(raw)
    bad[dtype_at] = 9
    (tmp_path / "dtype.bin").write_bytes(bytes(bad))
    with pytest.raises(WeightsError, match="unknown CTranslate2 dtype id 9"):
        read_ct2_model(tmp_path / "dtype.bin")
    with pytest.raises(WeightsError, match="does not exist"):
        read_ct2_model(tmp_path / "missing.bin")


def test_reader_refuses_a_truncated_copy_of_the_real_model(tmp_path):
    from emozoo import weights
    try:
        src = weights.path("whisper_base") / "model.bin"
    except WeightsError as exc:
        pytest.skip(f"whisper_base not installed: {exc}")
    with open(src, "rb") as fh:
        (tmp_path / "model.bin").write_bytes(fh.read(3_000_000))
    with pytest.raises(WeightsError, match="truncated or corrupt"):
        read_ct2_model(tmp_path / "model.bin")
    assert issubclass(WeightsError, EmozooError)


# -- front end --------------------------------------------------------------------------------------

def test_mel_filters_match_librosa_slaney():
    librosa = pytest.importorskip("librosa")
    want = librosa.filters.mel(sr=16000, n_fft=400, n_mels=80)
    got = mel_filters()
    assert got.shape == (80, 201) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-8)


def test_front_end_matches_the_reference_log_mel_on_the_synthetic_signal(ref):
    mel = log_mel_spectrogram(synthetic_wave()[None])[0].numpy()
    assert mel.shape == (40000 // 160, 80)          # last STFT frame dropped, like Whisper
    mid = mel.shape[0] // 2
    np.testing.assert_allclose(mel[:4], ref["synthetic/mel_head"], atol=1e-4)
    np.testing.assert_allclose(mel[mid:mid + 4], ref["synthetic/mel_mid"], atol=1e-4)
    np.testing.assert_allclose(mel.mean(0), ref["synthetic/mel_mean"], atol=1e-5)


def test_front_end_is_a_graph_layer_with_per_clip_clamp():
    conv = WhisperAudioConverter()
    fn = tf.function(conv, input_signature=[tf.TensorSpec([None, None], tf.float32)])
    w = synthetic_wave(1.0)
    batch = np.stack([w, 0.01 * w])
    out = fn(tf.constant(batch)).numpy()
    assert out.shape == (2, 100, 80)
    # each clip is clamped at its own max - 8: batching never changes a clip's features
    for i in range(2):
        np.testing.assert_allclose(out[i], fn(tf.constant(batch[i:i + 1])).numpy()[0], atol=1e-6)
    # a clip 40 dB quieter is 1 lower (log10(1e-4) / 4) where neither the max - 8 clamp nor the
    # 1e-10 floor (-1.5) applies
    free = (out[0] > out[0].max() - 1.9) & (out[1] > out[1].max() - 1.9) & (out[1] > -1.49)
    assert free.mean() > 0.2
    np.testing.assert_allclose(out[1][free], out[0][free] - 1.0, atol=1e-3)
    assert conv.compute_output_shape((None, 16000)) == (None, 100, 80)


# -- encoder ------------------------------------------------------------------------------------------

def test_sinusoids_are_whispers_table():
    table = sinusoids(1500, 512)
    assert table.shape == (1500, 512)
    np.testing.assert_allclose(table[0, :256], 0.0)
    np.testing.assert_allclose(table[0, 256:], 1.0)
    np.testing.assert_allclose(table[10, 1], np.sin(10 * np.exp(-np.log(10000) / 255)), rtol=1e-6)


def test_tiny_encoder_shapes_variable_length_config_and_saved_model(tmp_path):
    from emozoo.backbones.whisper.backbone import WhisperBackbone
    model = WhisperBackbone(hidden_dim=32, num_layers=2, num_heads=4, max_positions=64)
    for n in (1600, 4000):          # 10 and 25 frames -> 5 and 13 positions
        out = model(tf.zeros([1, n]))
        assert tuple(out.shape) == (1, 3, ((n // 160) + 1) // 2, 32)
    clone = WhisperBackbone.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    x = tf.constant(synthetic_wave(0.5)[None])
    np.testing.assert_allclose(clone(x), model(x), rtol=1e-5, atol=1e-5)
    export = str(tmp_path / "sm")
    model.export(export, format="tf_saved_model", verbose=False,
                 input_signature=[tf.TensorSpec([None, None], tf.float32)])
    restored = tf.saved_model.load(export)
    np.testing.assert_allclose(restored.serve(x), model(x), rtol=1e-5, atol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="longer than 64 positions"):
        model(tf.zeros([1, 160 * 130]))


def test_encoder_key_projection_has_no_trainable_bias():
    enc = WhisperEncoder(hidden_dim=16, num_layers=1, num_heads=2)
    enc.build((None, None, 80))
    key = enc.blocks[0].attention._key_dense
    assert not key.bias.trainable and np.all(key.bias.numpy() == 0)
    with pytest.raises(FeatureError, match="not divisible"):
        WhisperEncoder(hidden_dim=10, num_heads=3)


# -- parity with CTranslate2 -------------------------------------------------------------------------

def _check_parity(backbone, ref, key, wave):
    out = backbone(wave[None])[0, -1].numpy()      # encoder output after the final layer norm
    t = out.shape[0]
    assert rel_err(out.mean(0), ref[f"{key}/enc_mean"]) < 1e-3
    assert rel_err(out[[0, t // 2]], ref[f"{key}/enc_frames"]) < 1e-3
    padded = np.zeros(480000, np.float32)
    padded[:wave.size] = wave
    pad = backbone(padded[None])[0, -1].numpy()
    assert pad.shape[0] == 1500
    assert rel_err(pad[:t].mean(0), ref[f"{key}/pad_enc_mean"]) < 1e-3
    assert rel_err(pad[[0, t // 2]], ref[f"{key}/pad_enc_frames"]) < 1e-3


def test_encoder_matches_ctranslate2_on_the_synthetic_signal(base, ref):
    _check_parity(base, ref, "synthetic", synthetic_wave())


def test_tiny_en_matches_ctranslate2_on_the_synthetic_signal(ref):
    tiny = _preset("whisper_tiny_en")
    assert (tiny.num_layers, tiny.hidden_dim, tiny.encoder.num_heads) == (4, 384, 6)
    out = tiny(synthetic_wave()[None])[0, -1].numpy()
    assert rel_err(out.mean(0), ref["synthetic/tiny_enc_mean"]) < 1e-3


@pytest.mark.data
@pytest.mark.parametrize("key", sorted(REAL_CLIPS))
def test_encoder_matches_ctranslate2_on_real_clips(base, ref, data_dir, key):
    from emozoo.data.audio import load_audio
    folder, rel = REAL_CLIPS[key]
    wave, _ = load_audio(corpus_dir(data_dir, folder) / rel, target_rate=16000)
    mel = log_mel_spectrogram(wave[None])[0].numpy()
    mid = mel.shape[0] // 2
    np.testing.assert_allclose(mel[:4], ref[f"{key}/mel_head"], atol=1e-4)
    np.testing.assert_allclose(mel[mid:mid + 4], ref[f"{key}/mel_mid"], atol=1e-4)
    _check_parity(base, ref, key, wave)


def test_fixture_records_the_reference_versions(ref):
    meta = json.loads(str(ref["meta"]))
    assert meta["compute_type"] == "float32"
    assert {"ctranslate2", "numpy", "librosa"} <= set(meta["versions"])


# -- extractor -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def extractor():
    """The float32 extractor (the parity path; the int8 default is in test_whisper_int8.py)."""
    from emozoo.backbones.whisper.extractor import make_extractor
    try:
        return make_extractor("whisper_base", precision="float32")
    except WeightsError as exc:
        pytest.skip(f"whisper_base not installed: {exc}")


def test_extractor_returns_layerwise_means(extractor, base):
    wave = synthetic_wave()
    feats = extractor(wave, 16000)
    assert feats.shape == (7, 512) and feats.dtype == np.float32 and np.all(np.isfinite(feats))
    assert extractor.spec.shape == (7, 512)
    assert "whisper_base/model.bin" in extractor.config and "rate=16000" in extractor.config
    states = base(wave[None])[0].numpy()
    np.testing.assert_allclose(feats, states.mean(1), rtol=1e-5, atol=1e-5)
    short = extractor(wave[:8000], 16000)     # variable length: 0.5 s works, differs
    assert short.shape == (7, 512) and not np.allclose(short, feats)


def test_extractor_windows_long_clips_weighted_by_positions(extractor):
    from emozoo.backbones.whisper.extractor import window_bounds
    assert window_bounds(100, 30) == [(0, 25), (25, 50), (50, 75), (75, 100)]
    assert window_bounds(30, 30) == [(0, 30)]
    wave = np.tile(synthetic_wave(), 13)[:int(32.5 * 16000)]   # 32.5 s -> two 16.25 s windows
    feats = extractor(wave, 16000)
    half = wave.size // 2
    a, b = extractor(wave[:half], 16000), extractor(wave[half:], 16000)
    np.testing.assert_allclose(feats, (a + b) / 2, rtol=1e-4, atol=1e-5)


def test_extractor_clear_errors(extractor):
    with pytest.raises(FeatureError, match="at least 400 samples"):
        extractor(np.zeros(100, np.float32), 16000)
    with pytest.raises(FeatureError, match="mono"):
        extractor(np.zeros((2, 16000), np.float32), 16000)
    with pytest.raises(FeatureError, match="expects 16000 Hz"):
        extractor(np.zeros(16000, np.float32), 22050)
    with pytest.raises(FeatureError, match="NaN"):
        extractor(np.full(16000, np.nan, np.float32), 16000)


def test_unknown_preset_is_a_weights_error():
    from emozoo.backbones.whisper.backbone import WhisperBackbone
    with pytest.raises(WeightsError, match="unknown Whisper preset"):
        WhisperBackbone.from_preset("whisper_huge")


def test_missing_weights_name_the_install_command(tmp_path, monkeypatch):
    from emozoo.backbones.whisper.backbone import WhisperBackbone
    monkeypatch.setenv("EMOZOO_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(WeightsError, match="python -m emozoo.weights install whisper_base"):
        WhisperBackbone.from_preset("whisper_base")


def test_extract_runner_writes_a_2d_whisper_store(tmp_path):
    """The store keeps the [L + 1, d] shape and the values of direct extraction; 0 anomalies."""
    import soundfile

    from emozoo.data.manifest import Manifest, ManifestRow
    from emozoo.data.tfrecord import load_spec, read_store
    from emozoo.extract import extract_corpus
    from emozoo.features.registry import get_extractor
    try:
        ext = get_extractor("whisper_tiny_en")
    except WeightsError as exc:
        pytest.skip(f"whisper_tiny_en not installed: {exc}")
    rows = []
    for i, emo in enumerate(("happy", "sad", "angry")):
        path = tmp_path / f"c{i}.wav"
        soundfile.write(path, synthetic_wave(0.8 + 0.3 * i) * (1 + i), 16000, subtype="FLOAT")
        rows.append(ManifestRow(clip_id=f"c{i}", corpus="synth", path=str(path), label=emo, emotion=emo,
                                speaker=f"s{i % 2}", culture="synthetic"))
    (result,) = extract_corpus(Manifest(rows, name="synth"), ["whisper_tiny_en"], corpus="synth",
                               out_root=tmp_path / "tf", label_set="4class", progress=False)
    assert result.total == 3 and not result.failures and result.anomalies == 0
    assert tuple(load_spec(result.store)["whisper_tiny_en"].shape) == (5, 384)
    got = {ex["clip_id"].numpy().decode(): ex["whisper_tiny_en"].numpy() for ex in read_store(result.store)}
    np.testing.assert_allclose(got["c1"], ext(synthetic_wave(1.1) * 2, 16000), rtol=1e-5, atol=1e-6)


def test_frame_level_variant(base):
    from emozoo.backbones.whisper.extractor import WhisperPooler
    pooler = WhisperPooler(base, max_samples=16000)           # 1 s windows, to test the concatenation
    wave = synthetic_wave()                                     # 2.5 s -> 3 windows of 13333/13333/13334
    frames = pooler.frames(wave)
    assert frames.shape == (3 * 42, 512)
    first = base(wave[None, :13333])[0, -1].numpy()
    np.testing.assert_allclose(frames[:42], first, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(pooler.frames(wave, 0)[:42], base(wave[None, :13333])[0, 0].numpy(),
                               rtol=1e-5, atol=1e-5)
    with pytest.raises(FeatureError, match="out of range"):
        pooler.frames(wave, 7)
    from emozoo.features.registry import get_extractor
    ext = get_extractor("whisper_base_frames")
    out = ext(wave, 16000)
    assert ext.spec.shape == (None, 512) and out.shape == (125, 512) and out.dtype == np.float32
    assert ext.name == "whisper_base_frames" and "frames,row=6/7" in ext.config
