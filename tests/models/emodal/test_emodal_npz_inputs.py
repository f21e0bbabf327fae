"""Issue 16 section 3: an ``.npz`` with zero rows, string values or broken bytes gets a one-line
SchemaError from emodal_ravdess_av, not a traceback or an empty prediction."""
import numpy as np
import pytest

from emozoo.errors import SchemaError


@pytest.fixture(scope="module")
def predictor():
    import emozoo

    return emozoo.load("emodal_ravdess_av")


def _npz(path, audio, visual):
    np.savez(path, X_audio_mfcc=audio, X_visual_au=visual)
    return path


@pytest.mark.parametrize("case, pattern", [
    ("zero_rows", "no rows"),
    ("strings", "<U3 values, not numbers"),
    ("bytes", "S3 values, not numbers"),
    ("not_a_zip", "cannot read"),
    ("truncated", "cannot read"),
])
def test_bad_npz_is_a_clear_error(predictor, tmp_path, case, pattern):
    path = tmp_path / f"{case}.npz"
    if case == "zero_rows":
        _npz(path, np.zeros((0, 259), np.float32), np.zeros((0, 35), np.float32))
    elif case == "strings":
        _npz(path, np.full((2, 259), "abc"), np.full((2, 35), "abc"))
    elif case == "bytes":
        _npz(path, np.full((2, 259), b"abc"), np.zeros((2, 35)))
    elif case == "not_a_zip":
        path.write_bytes(b"PK\x03\x04" + bytes(range(200)))
    else:
        _npz(path, np.zeros((4, 259), np.float32), np.zeros((4, 35), np.float32))
        path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(SchemaError, match=pattern) as exc:
        predictor.predict(str(path))
    assert str(path) in str(exc.value) and "\n" not in str(exc.value)


def test_zero_rows_and_strings_given_as_arrays(predictor):
    with pytest.raises(SchemaError, match="no rows"):
        predictor.predict({"audio": np.zeros((0, 259)), "visual": np.zeros((0, 35))})
    with pytest.raises(SchemaError, match="must be numbers"):
        predictor.predict({"audio": np.full((1, 259), "x"), "visual": np.zeros((1, 35))})
    with pytest.raises(SchemaError, match="numbers"):
        predictor.predict(np.full((1, 294), "x"))


def test_a_good_npz_still_predicts(predictor, tmp_path):
    x = np.random.default_rng(0).normal(size=(3, 294)).astype("float32")
    path = _npz(tmp_path / "ok.npz", x[:, :259], x[:, 259:])
    np.testing.assert_allclose(predictor.predict(str(path)), predictor.predict(x), rtol=1e-6)


@pytest.mark.data
def test_truncated_copy_of_the_real_npz(predictor, data_dir, tmp_path):
    from tests.conftest import corpus_dir

    real = corpus_dir(data_dir, "ravdess_av_features") / "au_mfcc_features.npz"
    cut = tmp_path / "cut.npz"
    cut.write_bytes(real.read_bytes()[: real.stat().st_size // 2])
    with pytest.raises(SchemaError, match="cannot read") as exc:
        predictor.predict(str(cut))
    assert "\n" not in str(exc.value)
