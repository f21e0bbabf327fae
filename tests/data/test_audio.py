"""Tests of emozoo.data.audio: decoding, checks, resampling, crop/pad/segment, tf.data wrappers."""
import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

from emozoo.data.audio import (audio_info, crop_or_pad, decode_audio, downmix, load_audio, resample,
                               segment, sniff_container, tf_crop_or_pad, tf_load_audio)
from emozoo.errors import AudioDecodeError


def sine(freq, rate, n, amp=0.5):
    return (amp * np.sin(2 * np.pi * freq * np.arange(n) / rate)).astype(np.float32)


def write(path, x, rate, subtype="PCM_16", fmt=None):
    sf.write(str(path), x, rate, subtype=subtype, format=fmt)
    return path


def fft_peak_hz(x, rate):
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(spectrum)]


# ----------------------------------------------------------------------------- decoding


def test_wav_int16_round_trip_matches_tf_and_soundfile(tmp_path):
    x = sine(440, 16000, 4000)
    p = write(tmp_path / "a.wav", x, 16000)
    y, rate = load_audio(p, target_rate=None)
    assert rate == 16000 and y.dtype == np.float32 and y.shape == (4000,)
    ref, _ = sf.read(str(p), dtype="float32")
    np.testing.assert_array_equal(y, ref)  # same int16 / 32768 scaling as soundfile
    tf_ref, _ = tf.audio.decode_wav(p.read_bytes())
    np.testing.assert_array_equal(y, tf_ref.numpy()[:, 0])
    assert np.max(np.abs(y - x)) <= 1 / 32768 + 1e-7


@pytest.mark.parametrize("subtype", ["FLOAT", "PCM_24", "PCM_32", "PCM_U8"])
def test_wav_formats_tf_cannot_read_fall_back(tmp_path, subtype):
    x = sine(300, 16000, 3000)
    p = write(tmp_path / f"{subtype}.wav", x, 16000, subtype=subtype)
    y, rate = load_audio(p, target_rate=None)
    tolerance = {"FLOAT": 0, "PCM_24": 1e-6, "PCM_32": 1e-7, "PCM_U8": 1 / 128 + 1e-6}[subtype]
    assert rate == 16000 and y.shape == x.shape
    assert np.max(np.abs(y - x)) <= tolerance


def test_wavex_header_and_bytes_source(tmp_path):
    x = sine(300, 16000, 2000)
    p = write(tmp_path / "ex.wav", x, 16000, fmt="WAVEX")
    y, _ = load_audio(p, None)
    y_bytes, _ = load_audio(p.read_bytes(), None)
    np.testing.assert_array_equal(y, y_bytes)
    assert np.max(np.abs(y - x)) <= 1 / 32768 + 1e-7


def test_flac_and_ogg(tmp_path):
    x = sine(440, 22050, 22050)
    flac = write(tmp_path / "a.flac", x, 22050)
    y, rate = load_audio(flac, target_rate=None)
    assert rate == 22050 and np.max(np.abs(y - x)) <= 1 / 32768 + 1e-7
    ogg = write(tmp_path / "a.ogg", x, 22050, subtype="VORBIS")
    y, rate = load_audio(ogg, target_rate=None)
    assert rate == 22050 and abs(len(y) - len(x)) < 64
    assert abs(fft_peak_hz(y, rate) - 440) <= 2


def test_mp3_goes_through_pyav(tmp_path):
    x = sine(440, 16000, 16000)
    p = tmp_path / "a.mp3"
    try:
        write(p, x, 16000, subtype="MPEG_LAYER_III", fmt="MP3")
    except Exception as exc:  # libsndfile built without MP3
        pytest.skip(f"cannot write MP3 here: {exc}")
    assert sniff_container(p.read_bytes()[:16]) == "other"
    y, rate = load_audio(p)
    assert rate == 16000 and abs(len(y) - 16000) < 2000
    assert abs(fft_peak_hz(y, rate) - 440) <= 2


def test_misnamed_file_is_sniffed(tmp_path):
    x = sine(440, 16000, 1600)
    p = write(tmp_path / "really_flac.wav", x, 16000, fmt="FLAC")
    y, _ = load_audio(p, None)
    assert np.max(np.abs(y - x)) <= 1 / 32768 + 1e-7


# ----------------------------------------------------------------------------- resampling


@pytest.mark.parametrize("orig", [44100, 22050, 8000])
def test_resampling_to_16k_keeps_frequency_and_length(tmp_path, orig):
    n = orig + 37  # not a whole number of output samples
    p = write(tmp_path / f"s{orig}.wav", sine(440, orig, n), orig, subtype="FLOAT")
    y, rate = load_audio(p, target_rate=16000)
    assert rate == 16000
    assert len(y) == round(n * 16000 / orig)
    assert abs(fft_peak_hz(y, 16000) - 440) <= 1.0
    # Independent check: away from the edges the samples are the analytic sine at 16 kHz.
    expected = sine(440, 16000, len(y))
    assert np.max(np.abs(y[400:-400] - expected[400:-400])) < 5e-3


def test_resample_function():
    x = np.random.default_rng(0).normal(size=(1000, 2)).astype(np.float32)
    assert resample(x, 16000, 16000) is x
    y = resample(x, 16000, 8000)
    assert y.shape == (500, 2) and y.dtype == np.float32
    np.testing.assert_allclose(resample(x[:, 0], 16000, 8000), y[:, 0], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(resample(x, 16000, 8000), y)  # deterministic
    assert resample(np.zeros(0, np.float32), 44100, 16000).shape == (0,)
    with pytest.raises(ValueError, match="positive integer"):
        resample(x, 0, 16000)
    with pytest.raises(ValueError, match="positive integer"):
        resample(x, 16000, 8000.5)


# ----------------------------------------------------------------------------- channels


def test_stereo_downmix_is_channel_mean(tmp_path):
    left, right = sine(440, 16000, 3200), sine(660, 16000, 3200, amp=0.3)
    p = write(tmp_path / "st.wav", np.stack([left, right], axis=1), 16000)
    stereo, _ = load_audio(p, None, mono=False)
    assert stereo.shape == (3200, 2)
    mono, _ = load_audio(p, None)
    assert mono.shape == (3200,)
    np.testing.assert_allclose(mono, stereo.mean(axis=1), atol=1e-7)
    np.testing.assert_allclose(downmix(stereo), stereo.mean(axis=1), atol=1e-7)
    assert downmix(mono) is mono
    stereo16k, rate = load_audio(p, 8000, mono=False)
    assert stereo16k.shape == (1600, 2) and rate == 8000


# ----------------------------------------------------------------------------- failures


def test_missing_path_and_directory(tmp_path):
    with pytest.raises(AudioDecodeError, match="no such file"):
        load_audio(tmp_path / "nope.wav")
    with pytest.raises(AudioDecodeError, match="not a regular file"):
        load_audio(tmp_path)
    with pytest.raises(TypeError):
        load_audio(123)


def test_empty_file_and_buffer(tmp_path):
    p = tmp_path / "empty.wav"
    p.write_bytes(b"")
    with pytest.raises(AudioDecodeError, match="empty"):
        load_audio(p)
    with pytest.raises(AudioDecodeError, match="empty"):
        load_audio(b"")


@pytest.mark.parametrize("name,content", [
    ("garbage.wav", b"RIFF\x10\x00\x00\x00WAVEfmt " + bytes(range(256)) * 4),
    ("garbage.flac", b"fLaC" + b"\x01\x02\x03" * 300),
    ("garbage.mp3", bytes(np.random.default_rng(1).integers(0, 256, 3000, dtype=np.uint8))),
])
def test_corrupt_bytes_name_the_file(tmp_path, name, content):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(AudioDecodeError, match="cannot decode audio") as info:
        load_audio(p)
    assert name in str(info.value) and ":" in str(info.value)


def test_zero_length_wav(tmp_path):
    p = write(tmp_path / "zero.wav", np.zeros((0, 1), np.float32), 16000)
    assert p.stat().st_size > 0
    with pytest.raises(AudioDecodeError, match="no audio samples"):
        load_audio(p)


def test_silent_file(tmp_path):
    p = write(tmp_path / "silence.wav", np.zeros(1600, np.float32), 16000)
    with pytest.raises(AudioDecodeError, match="silent.*allow_silent=True"):
        load_audio(p)
    y, rate = load_audio(p, allow_silent=True)
    assert rate == 16000 and y.shape == (1600,) and not y.any()
    quiet = write(tmp_path / "quiet.wav", np.full(1600, 1e-3, np.float32), 16000, subtype="FLOAT")
    load_audio(quiet)  # above the default threshold
    with pytest.raises(AudioDecodeError, match="silent"):
        load_audio(quiet, silence_threshold=1e-2)


def test_nan_in_float_wav(tmp_path):
    x = sine(440, 16000, 1600)
    x[100] = np.nan
    x[200] = np.inf
    p = write(tmp_path / "nan.wav", x, 16000, subtype="FLOAT")
    with pytest.raises(AudioDecodeError, match="2 of 1600 samples are NaN/inf"):
        load_audio(p)


def test_out_of_range_float_is_clipped_and_dtype(tmp_path):
    p = write(tmp_path / "loud.wav", np.array([0.5, 2.0, -3.0, 0.1], np.float32), 16000, subtype="FLOAT")
    y, _ = load_audio(p, None, dtype=np.float64)
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, [0.5, 1.0, -1.0, np.float32(0.1)])
    with pytest.raises(ValueError, match="floating"):
        load_audio(p, dtype=np.int16)


def test_decode_audio_and_audio_info(tmp_path):
    p = write(tmp_path / "st.flac", np.zeros((2205, 2), np.float32) + 0.1, 22050)
    data, rate = decode_audio(p)
    assert data.shape == (2205, 2) and rate == 22050
    assert audio_info(p) == {"sample_rate": 22050, "channels": 2, "frames": 2205, "duration": 0.1}
    with pytest.raises(AudioDecodeError, match="no such file"):
        audio_info(tmp_path / "nope.flac")


# ----------------------------------------------------------------------------- crop / pad / segment


def test_crop_modes():
    x = np.arange(10)
    np.testing.assert_array_equal(crop_or_pad(x, 4), [3, 4, 5, 6])
    np.testing.assert_array_equal(crop_or_pad(x, 4, mode="start"), [0, 1, 2, 3])
    a = crop_or_pad(x, 4, mode="random", rng=7)
    np.testing.assert_array_equal(a, crop_or_pad(x, 4, mode="random", rng=7))
    assert a[0] in range(7) and np.array_equal(a, np.arange(a[0], a[0] + 4))
    starts = {crop_or_pad(x, 4, mode="random", rng=np.random.default_rng(s))[0] for s in range(50)}
    assert starts == set(range(7))
    np.testing.assert_array_equal(crop_or_pad(x, 10), x)


def test_pad_modes():
    x = np.array([1, 2, 3])
    np.testing.assert_array_equal(crop_or_pad(x, 6), [0, 1, 2, 3, 0, 0])
    np.testing.assert_array_equal(crop_or_pad(x, 6, mode="start"), [1, 2, 3, 0, 0, 0])
    np.testing.assert_array_equal(crop_or_pad(x, 8, mode="start", pad_mode="wrap"), [1, 2, 3, 1, 2, 3, 1, 2])
    r = crop_or_pad(x, 6, mode="random", rng=3)
    assert r.sum() == 6 and "".join(map(str, r)).strip("0") == "123"
    two_d = crop_or_pad(np.ones((3, 2)), 5)
    assert two_d.shape == (5, 2) and two_d.sum() == 6
    np.testing.assert_array_equal(crop_or_pad(np.zeros(0), 3), [0, 0, 0])
    with pytest.raises(ValueError, match="mode"):
        crop_or_pad(x, 4, mode="middle")
    with pytest.raises(ValueError, match="pad_mode"):
        crop_or_pad(x, 4, pad_mode="reflect")
    with pytest.raises(ValueError, match="length"):
        crop_or_pad(x, 0)
    with pytest.raises(ValueError, match="wrap"):
        crop_or_pad(np.zeros(0), 3, pad_mode="wrap")


def test_segment_shapes_and_values():
    x = np.arange(1, 11)  # 10 samples
    s = segment(x, 4, 2)
    np.testing.assert_array_equal(s, [[1, 2, 3, 4], [3, 4, 5, 6], [5, 6, 7, 8], [7, 8, 9, 10]])
    s = segment(np.arange(1, 12), 4, 2)  # 11 samples: a padded 5th window
    assert s.shape == (5, 4)
    np.testing.assert_array_equal(s[-1], [9, 10, 11, 0])
    assert segment(np.arange(1, 12), 4, 2, pad_last=False).shape == (4, 4)
    np.testing.assert_array_equal(segment(np.arange(1, 4), 4, 2), [[1, 2, 3, 0]])
    assert segment(np.arange(1, 4), 4, 2, pad_last=False).shape == (0, 4)
    assert segment(np.arange(10), 3, 5).shape == (2, 3)  # gaps: windows at 0 and 5 only
    multi = segment(np.ones((9, 2)), 4, 4)
    assert multi.shape == (3, 4, 2) and multi.sum() == 18
    with pytest.raises(ValueError, match="hop"):
        segment(x, 4, 0)


# ----------------------------------------------------------------------------- tf.data


def test_tf_crop_or_pad_matches_numpy():
    for n in (3, 8, 11):
        x = np.arange(1, n + 1, dtype=np.float32)
        np.testing.assert_array_equal(tf_crop_or_pad(tf.constant(x), 8).numpy(), crop_or_pad(x, 8))
    two_d = tf_crop_or_pad(tf.ones((3, 2)), 5)
    assert two_d.shape == (5, 2) and float(tf.reduce_sum(two_d)) == 6
    r = tf_crop_or_pad(tf.range(1, 21), 5, random=True, seed=1).numpy()
    np.testing.assert_array_equal(r, np.arange(r[0], r[0] + 5))
    with pytest.raises(ValueError):
        tf_crop_or_pad(tf.ones(3), 0)


def test_tf_wrappers_in_a_pipeline(tmp_path):
    paths = [str(write(tmp_path / "a.wav", sine(440, 16000, 12000), 16000)),
             str(write(tmp_path / "b.flac", sine(330, 22050, 4410), 22050)),
             str(write(tmp_path / "c.wav", sine(220, 44100, 44100), 44100, subtype="PCM_24"))]
    ds = tf.data.Dataset.from_tensor_slices(paths)
    ds = ds.map(lambda p: tf_crop_or_pad(tf_load_audio(p, 16000), 8000), num_parallel_calls=2)
    assert ds.element_spec.shape.as_list() == [8000]
    batch = next(iter(ds.batch(3)))
    assert batch.shape == (3, 8000) and batch.dtype == tf.float32
    for row, p in zip(batch.numpy(), paths):
        np.testing.assert_allclose(row, crop_or_pad(load_audio(p)[0], 8000), atol=1e-6)

    graph_fn = tf.function(lambda p: tf_load_audio(p, 8000))
    assert graph_fn(tf.constant(paths[0])).shape == (6000,)

    random_ds = tf.data.Dataset.from_tensor_slices(paths).map(
        lambda p: tf_crop_or_pad(tf_load_audio(p), 4000, random=True, seed=0))
    assert all(x.shape == (4000,) for x in random_ds)


def test_tf_load_audio_error_surfaces(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all" * 10)
    ds = tf.data.Dataset.from_tensor_slices([str(bad)]).map(lambda p: tf_load_audio(p))
    with pytest.raises(tf.errors.OpError, match="bad.wav: cannot decode audio"):
        next(iter(ds))


# ----------------------------------------------------------------------------- real data


@pytest.mark.data
def test_real_emodb_file_loads_at_16k(data_dir):
    p = data_dir / "emodb/wav/03a01Fa.flac"
    if not p.exists():
        pytest.skip(f"{p} not present")
    info = audio_info(p)
    assert info["sample_rate"] == 22050 and info["channels"] == 1
    y, rate = load_audio(p)
    assert rate == 16000 and y.dtype == np.float32 and y.ndim == 1
    assert len(y) == round(info["frames"] * 16000 / 22050)
    assert abs(len(y) / rate - info["duration"]) < 1e-3
    native, native_rate = load_audio(p, target_rate=None)
    assert native_rate == 22050 and len(native) == info["frames"]
    assert 0.01 < np.max(np.abs(y)) <= 1.0
