"""openSMILE functionals: dims, names, determinism, values equal to opensmile.Smile.process_file."""
import subprocess
import sys

import numpy as np
import pytest

from emozoo.errors import FeatureError
from emozoo.features.opensmile_features import OpenSmileFunctionals, import_opensmile
from emozoo.features.registry import get_extractor
from tests.conftest import corpus_dir

RATE = 16000


def _voice_like(f0=220.0, seconds=1.5, rate=RATE):
    """A harmonic tone with vibrato-free f0 and a little noise, so F0 trackers lock onto ``f0``."""
    t = np.arange(int(seconds * rate)) / rate
    x = sum(0.3 / k * np.sin(2 * np.pi * f0 * k * t) for k in range(1, 8))
    x = x * np.hanning(t.size) ** 0.2 + 0.002 * np.random.default_rng(0).normal(size=t.size)
    return x.astype(np.float32)


@pytest.mark.parametrize("name,dims", [("is10", 1582), ("egemaps", 88), ("compare", 6373)])
def test_dims_finite_and_deterministic(name, dims):
    ext = get_extractor(name)
    assert ext.spec.shape == (dims,) and ext.spec.dtype == "float32"
    x = _voice_like()
    a, b = ext(x, RATE), ext(x, RATE)
    assert a.shape == (dims,) and a.dtype == np.float32 and np.all(np.isfinite(a))
    np.testing.assert_array_equal(a, b)
    assert len(OpenSmileFunctionals(name).feature_names) == dims


def test_egemaps_f0_of_a_220_hz_tone():
    """eGeMAPS's mean F0 is in semitones from 27.5 Hz: 220 Hz is 12 * log2(8) = 36 semitones."""
    fn = OpenSmileFunctionals("egemaps")
    values = dict(zip(fn.feature_names, fn(_voice_like(220.0), RATE)))
    assert values["F0semitoneFrom27.5Hz_sma3nz_amean"] == pytest.approx(36.0, abs=0.5)
    higher = dict(zip(fn.feature_names, fn(_voice_like(330.0), RATE)))
    assert higher["F0semitoneFrom27.5Hz_sma3nz_amean"] == pytest.approx(36 + 12 * np.log2(1.5), abs=0.5)


@pytest.mark.data
@pytest.mark.parametrize("name", ["is10", "egemaps", "compare"])
def test_values_equal_opensmile_process_file_on_emodb(data_dir, tmp_path, name):
    import soundfile

    from emozoo.data.audio import load_audio
    opensmile = import_opensmile()
    fn = OpenSmileFunctionals(name)
    smile = opensmile.Smile(feature_set=getattr(opensmile.FeatureSet, fn.feature_set),
                            feature_level=opensmile.FeatureLevel.Functionals)
    path = corpus_dir(data_dir, "emodb") / "wav" / "03a01Fa.flac"
    # 1. the file as it is (22.05 kHz FLAC), decoded by emozoo vs read by opensmile itself
    x, rate = load_audio(path, target_rate=22050)
    reference = smile.process_file(str(path)).to_numpy()[0]
    np.testing.assert_allclose(fn(x, rate), reference, rtol=1e-6, atol=1e-6)
    # 2. what the stores hold: the 16 kHz waveform, written as float WAV for process_file
    x16, _ = load_audio(path, target_rate=RATE)
    soundfile.write(tmp_path / "clip.wav", x16, RATE, subtype="FLOAT")
    reference16 = smile.process_file(str(tmp_path / "clip.wav")).to_numpy()[0]
    np.testing.assert_allclose(get_extractor(name)(x16, RATE), reference16, rtol=1e-6, atol=1e-6)
    assert np.abs(reference16 - reference).max() > 0    # the rate matters: the stores say which


def test_works_after_tensorflow_was_imported_first():
    """libSMILEapi and TensorFlow both export Ooura's FFT; loaded naively after TF it segfaults."""
    code = ("import tensorflow, numpy as np\n"
            "from emozoo.features.opensmile_features import OpenSmileFunctionals\n"
            "x = np.sin(np.arange(16000) * 0.1).astype(np.float32)\n"
            "print(OpenSmileFunctionals('is10')(x, 16000).shape)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "(1582,)" in out.stdout


def test_bad_inputs():
    fn = OpenSmileFunctionals("is10")
    with pytest.raises(FeatureError, match="too short"):
        fn(np.zeros(100, np.float32) + 0.1, RATE)
    with pytest.raises(FeatureError, match="mono"):
        fn(np.zeros((2, 16000), np.float32), RATE)
    with pytest.raises(FeatureError, match="NaN"):
        fn(np.full(16000, np.nan, np.float32), RATE)
    with pytest.raises(FeatureError, match="unknown"):
        OpenSmileFunctionals("is11")
    with pytest.raises(FeatureError, match="16000 Hz"):
        get_extractor("is10")(_voice_like(), 8000)
