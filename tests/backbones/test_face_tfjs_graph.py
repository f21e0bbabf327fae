"""The TF.js graph-model reader: plain and quantized dtypes, and clear errors on damaged files."""
import json

import numpy as np
import pytest

from emozoo.backbones.face.tfjs_graph import read_graph_model
from emozoo.errors import WeightsError


def _write(tmp_path, entries, blobs, *, extra=b"", split=None, nodes=None):
    """A model.json + shard(s) holding ``entries`` (manifest weights) with byte blobs ``blobs``."""
    raw = b"".join(blobs) + extra
    paths = ["group1-shard1of1.bin"] if split is None else ["s1.bin", "s2.bin"]
    if split is None:
        (tmp_path / paths[0]).write_bytes(raw)
    else:
        (tmp_path / paths[0]).write_bytes(raw[:split])
        (tmp_path / paths[1]).write_bytes(raw[split:])
    spec = {"format": "graph-model", "modelTopology": {"node": nodes or [
                {"name": "x", "op": "Placeholder"},
                {"name": "conv", "op": "Conv2D", "input": ["x", "w:0", "^ctrl"],
                 "attr": {"strides": {"list": {"i": ["1", "2", "2", "1"]}}, "padding": {"s": "U0FNRQ=="}}}]},
            "weightsManifest": [{"paths": paths, "weights": entries}]}
    path = tmp_path / "model.json"
    path.write_text(json.dumps(spec))
    return path


def test_reads_float32_int32_and_quantized_weights_across_shards(tmp_path):
    w = np.arange(6, dtype="<f4").reshape(2, 3) / 7
    idx = np.array([1, 2], "<i4")
    q8 = np.array([0, 10, 255], np.uint8)
    q16 = np.array([3, 60000], "<u2")
    h = np.array([0.5, -2.25, 1000.0], "<f2")
    path = _write(tmp_path, [
        {"name": "w", "shape": [2, 3], "dtype": "float32"},
        {"name": "idx", "shape": [2], "dtype": "int32"},
        {"name": "q8", "shape": [3], "dtype": "float32",
         "quantization": {"dtype": "uint8", "scale": 0.5, "min": -1.0, "original_dtype": "float32"}},
        {"name": "q16", "shape": [2], "dtype": "float32",
         "quantization": {"dtype": "uint16", "scale": 0.001, "min": 2.0, "original_dtype": "float32"}},
        {"name": "h", "shape": [3], "dtype": "float32", "quantization": {"dtype": "float16", "original_dtype": "float32"}},
        {"name": "scalar", "shape": [], "dtype": "float32"},
    ], [w.tobytes(), idx.tobytes(), q8.tobytes(), q16.tobytes(), h.tobytes(), np.float32(6).tobytes()], split=10)
    g = read_graph_model(path)
    np.testing.assert_array_equal(g.weight("w"), w)
    assert g.weight("idx").dtype == np.int32 and list(g.weight("idx")) == [1, 2]
    np.testing.assert_allclose(g.weight("q8"), [-1.0, 4.0, 126.5])
    np.testing.assert_allclose(g.weight("q16"), [2.003, 62.0], rtol=1e-6)
    np.testing.assert_array_equal(g.weight("h"), [0.5, -2.25, 1000.0])
    assert g.weight("scalar").shape == () and float(g.weight("scalar")) == 6.0
    conv = g.node("conv")
    assert conv.inputs == ("x", "w") and conv.strides == (2, 2) and conv.padding == "SAME"
    assert g.ops() == {"Placeholder": 1, "Conv2D": 1}


def test_truncated_bin_is_refused(tmp_path):
    w = np.zeros((4, 4), "<f4")
    path = _write(tmp_path, [{"name": "w", "shape": [4, 4], "dtype": "float32"}], [w.tobytes()[:-4]])
    with pytest.raises(WeightsError, match="truncated"):
        read_graph_model(path)


def test_extra_bytes_after_last_weight_are_refused(tmp_path):
    path = _write(tmp_path, [{"name": "w", "shape": [2], "dtype": "float32"}], [np.zeros(2, "<f4").tobytes()],
                  extra=b"\0\0\0\0")
    with pytest.raises(WeightsError, match="4 bytes after the last weight"):
        read_graph_model(path)


def test_missing_shard_and_missing_weight_name(tmp_path):
    path = _write(tmp_path, [{"name": "w", "shape": [2], "dtype": "float32"}], [np.zeros(2, "<f4").tobytes()])
    g = read_graph_model(path)
    with pytest.raises(WeightsError, match="no weight 'nope'"):
        g.weight("nope")
    with pytest.raises(WeightsError, match="no node 'nope'"):
        g.node("nope")
    (tmp_path / "group1-shard1of1.bin").unlink()
    with pytest.raises(WeightsError, match="shard.*missing"):
        read_graph_model(path)


@pytest.mark.parametrize("entry", [
    {"name": "s", "shape": [1], "dtype": "string"},
    {"name": "c", "shape": [1], "dtype": "complex64"},
    {"name": "q", "shape": [1], "dtype": "float32", "quantization": {"dtype": "int4", "scale": 1, "min": 0}},
])
def test_unsupported_dtypes_are_refused(tmp_path, entry):
    path = _write(tmp_path, [entry], [b"\0" * 8])
    with pytest.raises(WeightsError, match="supported|supports"):
        read_graph_model(path)


def test_not_a_graph_model(tmp_path):
    (tmp_path / "model.json").write_text(json.dumps({"format": "layers-model", "modelTopology": {},
                                                     "weightsManifest": []}))
    with pytest.raises(WeightsError, match="graph models only"):
        read_graph_model(tmp_path / "model.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(WeightsError, match="not valid JSON"):
        read_graph_model(tmp_path / "bad.json")
    with pytest.raises(WeightsError, match="does not exist"):
        read_graph_model(tmp_path / "absent.json")
