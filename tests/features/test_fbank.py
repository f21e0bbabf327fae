"""Fbank / FFT spectrogram parity against NumPy and librosa, crops, tf.data and SavedModel use."""
import numpy as np
import pytest
import tensorflow as tf

from emozoo.errors import FeatureError
from emozoo.features.fbank import (crop_frames, functionals, log_mel, log_spectrogram, num_frames,
                                   power_spectrogram)
from tests.conftest import corpus_dir

RATE = 16000
WIN, HOP, NFFT = 400, 160, 512


def _tone(seconds=1.013, rate=RATE):
    t = np.arange(int(seconds * rate)) / rate
    x = 0.5 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 2500 * t + 0.3)
    x += 0.01 * np.random.default_rng(0).normal(size=t.size)
    return x.astype(np.float32)


def _emodb_clip(data_dir):
    from emozoo.data.audio import load_audio
    path = corpus_dir(data_dir, "emodb") / "wav" / "03a01Fa.flac"
    return load_audio(path, RATE)[0]


# --- an independent NumPy implementation of the documented definition -------

def np_power(x):
    x = np.asarray(x, np.float64)
    if x.size < WIN:
        x = np.pad(x, (0, WIN - x.size))
    n = 1 + (x.size - WIN) // HOP
    frames = np.stack([x[t * HOP:t * HOP + WIN] for t in range(n)])
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WIN) / WIN)          # periodic Hann
    spec = np.fft.rfft(frames * hann, n=NFFT)                              # zero-padded at the end
    return np.abs(spec) ** 2


def np_mel_matrix(n_mels=128, fmin=20.0, fmax=8000.0, n_bins=NFFT // 2 + 1):
    mel = lambda f: 1127.0 * np.log1p(np.asarray(f) / 700.0)  # noqa: E731  (HTK)
    bins = mel(np.linspace(0.0, RATE / 2, n_bins))
    edges = np.linspace(mel(fmin), mel(fmax), n_mels + 2)
    w = np.zeros((n_bins, n_mels))
    for m in range(n_mels):
        lo, c, hi = edges[m:m + 3]
        rise, fall = (bins - lo) / (c - lo), (hi - bins) / (hi - c)
        w[:, m] = np.maximum(0.0, np.minimum(rise, fall))
    w[0] = 0.0                                                             # DC bin excluded
    return w


def np_log_mel(x):
    return np.log(np_power(x) @ np_mel_matrix() + 1e-6)


def np_log_spectrogram(x):
    p = np_power(x)[:, :256]
    return np.log(p.reshape(p.shape[0], 128, 2).mean(-1) + 1e-6)


def _check_log(actual, expected, power_floor=1e-3):
    """Log values agree within 1e-3 where the energy is above the floor (float32 vs float64)."""
    actual = np.asarray(actual)
    assert actual.shape == expected.shape
    loud = expected > np.log(power_floor)
    assert loud.mean() > 0.3
    np.testing.assert_allclose(actual[loud], expected[loud], atol=1e-3, rtol=0)
    np.testing.assert_allclose(actual, expected, atol=0.05, rtol=0)


# --- tests ------------------------------------------------------------------

def test_log_mel_matches_numpy_on_a_tone():
    x = _tone()
    out = log_mel(x).numpy()
    assert out.shape == (num_frames(x.size), 128) == (1 + (x.size - WIN) // HOP, 128)
    _check_log(out, np_log_mel(x))
    # the 440 Hz band is the loudest band of the tone's low range
    centres = np.argmax(np_mel_matrix(), axis=0) * RATE / NFFT
    assert abs(centres[np.argmax(out.mean(0))] - 440) < 60


def test_log_spectrogram_matches_numpy_on_a_tone():
    x = _tone()
    out = log_spectrogram(x).numpy()
    _check_log(out, np_log_spectrogram(x))
    assert np.argmax(out.mean(0)) == int(440 // 62.5)     # 62.5 Hz bands


def test_power_spectrogram_framing_matches_librosa():
    librosa = pytest.importorskip("librosa")
    x = _tone()
    ours = power_spectrogram(x).numpy()
    # librosa centres a 400-sample window in a 512-sample frame: pad 56 samples on both sides so that
    # its frame t covers x[160 t : 160 t + 400] exactly as tf.signal.stft's does.
    pad = (NFFT - WIN) // 2
    ref = np.abs(librosa.stft(np.pad(x.astype(np.float64), (pad, pad)), n_fft=NFFT, hop_length=HOP,
                              win_length=WIN, window="hann", center=False)) ** 2
    assert ours.shape == ref.T.shape
    np.testing.assert_allclose(ours, ref.T, rtol=2e-3, atol=1e-3 * ref.max())


@pytest.mark.data
def test_log_mel_and_spectrogram_match_numpy_on_emodb(data_dir):
    x = _emodb_clip(data_dir)
    _check_log(log_mel(x).numpy(), np_log_mel(x))
    _check_log(log_spectrogram(x).numpy(), np_log_spectrogram(x))


def test_short_input_is_one_padded_frame_and_silence_is_finite():
    out = log_mel(np.zeros(100, np.float32)).numpy()
    assert out.shape == (1, 128)
    np.testing.assert_allclose(out, np.log(1e-6), rtol=1e-6)
    _check_log(log_mel(_tone(0.02)).numpy(), np_log_mel(_tone(0.02)))


def test_batched_input_matches_single():
    x = _tone()
    batch = log_mel(np.stack([x, x[::-1].copy()])).numpy()
    np.testing.assert_allclose(batch[0], log_mel(x).numpy(), atol=1e-5)
    np.testing.assert_allclose(batch[1], log_mel(x[::-1].copy()).numpy(), atol=1e-5)


def test_bad_inputs_raise_feature_error():
    with pytest.raises(FeatureError, match="sample_rate"):
        log_mel(_tone(), 16000.5)
    with pytest.raises(FeatureError, match="float"):
        log_mel(np.zeros(1000, np.int16))
    with pytest.raises(FeatureError, match="time axis"):
        log_mel(np.float32(0.0))
    with pytest.raises(FeatureError, match="fmin"):
        log_mel(_tone(), fmin=9000.0)
    with pytest.raises(FeatureError, match="divide"):
        log_spectrogram(_tone(), n_bins=100)


def test_crop_frames_modes_and_padding():
    frames = tf.reshape(tf.range(300 * 2, dtype=tf.float32), (300, 2))
    c = crop_frames(frames, 128).numpy()
    assert c.shape == (128, 2) and c[0, 0] == 2 * 86           # (300 - 128) // 2 = 86
    assert crop_frames(frames, 128, mode="start").numpy()[0, 0] == 0
    r1 = crop_frames(frames, 128, mode="random", seed=[1, 2]).numpy()
    r2 = crop_frames(frames, 128, mode="random", seed=[1, 2]).numpy()
    np.testing.assert_array_equal(r1, r2)
    assert np.all(np.diff(r1[:, 0]) == 2)                        # contiguous window
    short = crop_frames(frames[:50], 128).numpy()
    assert short.shape == (128, 2) and np.all(short[50:] == 0) and short[49, 0] == 98
    with pytest.raises(FeatureError):
        crop_frames(frames, 128, mode="middle")


def test_functionals_mean_and_std():
    frames = np.random.default_rng(1).normal(size=(2, 50, 8)).astype(np.float32)
    out = functionals(frames).numpy()
    np.testing.assert_allclose(out[..., :8], frames.mean(1), atol=1e-5)
    np.testing.assert_allclose(out[..., 8:], frames.std(1), atol=1e-5)
    with pytest.raises(FeatureError):
        functionals(np.zeros(5, np.float32))


def test_runs_inside_tf_data_and_a_saved_model(tmp_path):
    x = _tone()
    expected = log_mel(x).numpy()
    ds = tf.data.Dataset.from_tensors(x).map(lambda w: crop_frames(log_mel(w), 128))
    (got,) = list(ds.as_numpy_iterator())
    np.testing.assert_allclose(got[:expected.shape[0]], expected, atol=1e-3)

    class Frontend(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def fbank(self, waveform):
            return log_mel(waveform)

    tf.saved_model.save(Frontend(), str(tmp_path / "frontend"))
    loaded = tf.saved_model.load(str(tmp_path / "frontend"))
    np.testing.assert_allclose(loaded.fbank(tf.constant(x)).numpy(), expected, atol=1e-3)


def test_crop_dataset_from_a_frame_store(tmp_path):
    from emozoo.data.tfrecord import FeatureSpec, StoreSpec, write_store
    from emozoo.errors import SchemaError
    from emozoo.features.fbank import crop_dataset
    spec = StoreSpec.with_meta([FeatureSpec("fbank", "float32", (None, 4))], classes=("neutral", "happy"))
    examples = []
    for i, n in enumerate([300, 50, 200, 130]):
        frames = np.arange(n * 4, dtype=np.float32).reshape(n, 4) + 10000 * i
        examples.append({"clip_id": f"c{i}", "corpus": "x", "speaker": "s", "culture": "c", "split": "",
                         "emotion": "" if i == 3 else "happy", "label": -1 if i == 3 else 1,
                         "dialogue_id": "", "turn_index": -1, "fbank": frames})
    write_store(examples, tmp_path / "s", spec)
    (x, y), = list(crop_dataset(tmp_path / "s", width=128, mode="center", batch_size=8).as_numpy_iterator())
    assert x.shape == (3, 128, 4) and y.tolist() == [1, 1, 1]
    assert x[0, 0, 0] == 4 * 86 and np.all(x[1, 50:] == 0)
    ds = crop_dataset(tmp_path / "s", width=128, mode="random", seed=3, batch_size=None)
    epoch1 = [a[0, 0] for a, _ in ds.as_numpy_iterator()]
    epoch2 = [a[0, 0] for a, _ in ds.as_numpy_iterator()]
    again = [a[0, 0] for a, _ in crop_dataset(tmp_path / "s", width=128, mode="random", seed=3,
                                              batch_size=None).as_numpy_iterator()]
    assert epoch1 == again                                     # reproducible from the seed
    assert epoch1 != epoch2                                    # a new window every epoch
    with pytest.raises(SchemaError, match="frame-level"):
        crop_dataset(tmp_path / "s", feature="label")


# --- eager calls run one cached graph; the banded Mel product ---------------------------------------

@pytest.mark.parametrize("fn,kind,dims", [(log_mel, "mel", 40), (log_spectrogram, "spectrogram", 64),
                                          (power_spectrogram, "power", 257)])
def test_eager_calls_reuse_one_graph_traced_once_for_any_length(fn, kind, dims):
    """Per-clip eager calls never run op by op: one cached tf.function per parameter set and input rank,
    traced once whatever the clip length or batch size (a retrace per length would count here)."""
    from emozoo.features import fbank as fb
    kwargs = {"mel": {"n_mels": dims, "fmin": 30.0}, "spectrogram": {"n_bins": dims}, "power": {}}[kind]
    plan = {"mel": fb._Plan("mel", RATE, WIN, HOP, NFFT, dims, 30.0, RATE / 2.0, 1e-6),
            "spectrogram": fb._Plan("spectrogram", RATE, WIN, HOP, NFFT, dims, eps=1e-6),
            "power": fb._Plan("power", RATE, WIN, HOP, NFFT)}[kind]
    x = _tone()
    outs = [fn(x[:n], **kwargs) for n in (x.size, 12345, 401, 100)]
    assert [o.shape[0] for o in outs] == [num_frames(n) for n in (x.size, 12345, 401, 100)]
    assert all(o.shape[-1] == dims for o in outs)
    one = fb._graph_fn(plan, 1)
    assert isinstance(one, tf.types.experimental.PolymorphicFunction)
    assert one.experimental_get_tracing_count() == 1
    np.testing.assert_array_equal(outs[1].numpy(), one(x[:12345]).numpy())
    for b, n in ((2, 8000), (3, 5000)):
        assert fn(np.zeros((b, n), np.float32) + x[:n], **kwargs).shape[:2] == (b, num_frames(n))
    assert fb._graph_fn(plan, 2).experimental_get_tracing_count() == 1


def test_in_graph_calls_keep_the_static_shape():
    g = tf.function(lambda w: log_mel(w)).get_concrete_function(tf.TensorSpec([None, None], tf.float32))
    assert g.output_shapes.as_list() == [None, None, 128]
    g = tf.function(lambda w: log_spectrogram(w)).get_concrete_function(tf.TensorSpec([3, 16000], tf.float32))
    assert g.output_shapes.as_list() == [3, 98, 128]


def test_banded_mel_product_equals_the_dense_one():
    from emozoo.features.fbank import band_groups, banded_matmul
    mel = tf.signal.linear_to_mel_weight_matrix(128, 257, RATE, 20.0, 8000.0).numpy()
    groups = band_groups(mel)
    assert len(groups) == 8
    assert sum((hi - lo) * (b - a) for lo, hi, a, b in groups) < mel.size / 3   # the point of banding
    power = np.random.default_rng(2).gamma(1.0, 1.0, size=(50, 257)).astype(np.float32)
    np.testing.assert_allclose(banded_matmul(tf.constant(power), mel, groups).numpy(), power @ mel, rtol=1e-5)
    # any matrix: a run covers every row where one of its columns is non-zero
    rng = np.random.default_rng(3)
    other = (rng.normal(size=(257, 20)) * (rng.random((257, 20)) < 0.1)).astype(np.float32)
    np.testing.assert_allclose(banded_matmul(tf.constant(power), other, band_groups(other, 4)).numpy(),
                               power @ other, rtol=1e-4, atol=1e-4)


def test_registered_extractors_run_the_cached_graph_per_clip():
    from emozoo.features import fbank as fb
    from emozoo.features.registry import get_extractor
    x = _tone()
    for name, fn, plan in (("fbank", log_mel, fb._Plan("mel", RATE, WIN, HOP, NFFT, 128, 20.0, RATE / 2.0, 1e-6)),
                           ("spectrogram", log_spectrogram, fb._Plan("spectrogram", RATE, WIN, HOP, NFFT, 128,
                                                                     eps=1e-6))):
        ext = get_extractor(name)
        fb._graph_fn.cache_clear()
        fb._concrete_fn.cache_clear()
        outs = [ext(x[:n], RATE) for n in (x.size, 9999, 3210)]
        assert fb._graph_fn(plan, 1).experimental_get_tracing_count() == 1     # the extractor traced it, once
        for n, out in zip((x.size, 9999, 3210), outs):
            np.testing.assert_array_equal(out, fn(x[:n]).numpy())
