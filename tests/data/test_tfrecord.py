import json

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from emozoo.data.tfrecord import (FeatureSpec, StoreSpec, encode_example, iter_examples, load_spec,
                                  read_store, write_store)
from emozoo.errors import SchemaError

CLASSES = ("neutral", "happy", "angry", "sad")


def spec():
    return StoreSpec.with_meta([FeatureSpec("is10", "float32", (4,)),
                                FeatureSpec("audio", "float32", (None,)),
                                FeatureSpec("frames", "float32", (None, 3))],
                               classes=CLASSES, label_set="4class")


def example(i, n=5):
    return {"clip_id": f"c{i}", "corpus": "t", "speaker": f"s{i % 2}", "culture": "x", "split": "train",
            "emotion": CLASSES[i % 4], "label": i % 4, "dialogue_id": "", "turn_index": -1,
            "is10": np.full(4, i, np.float32), "audio": np.arange(n + i, dtype=np.float32),
            "frames": np.ones((i + 1, 3), np.float32) * i}


@pytest.mark.parametrize("compression", [None, "GZIP"])
def test_round_trip(tmp_path, compression):
    s = spec()
    write_store([example(i) for i in range(7)], tmp_path, s, split="train", num_shards=3, compression=compression)
    assert sorted(p.name for p in tmp_path.glob("train-*")) == [
        f"train-0000{i}-of-00003.tfrecord" + (".gz" if compression else "") for i in range(3)]
    got = sorted(read_store(tmp_path, "train").as_numpy_iterator(), key=lambda e: e["clip_id"])
    assert len(got) == 7 and load_spec(tmp_path).counts == {"train": 7}
    for i, ex in enumerate(got):
        np.testing.assert_array_equal(ex["is10"], np.full(4, i))
        np.testing.assert_array_equal(ex["audio"], np.arange(5 + i))
        assert ex["frames"].shape == (i + 1, 3) and ex["label"] == i % 4


def test_schema_saved_beside_shards(tmp_path):
    write_store([example(0)], tmp_path, spec())
    schema = text_format.Parse((tmp_path / "schema.pbtxt").read_text(), schema_pb2.Schema())
    feats = {f.name: f for f in schema.feature}
    assert [d.size for d in feats["is10"].shape.dim] == [4]
    assert list(feats["emotion"].string_domain.value)[:4] == list(CLASSES)
    assert feats["label"].int_domain.max == 3
    back = StoreSpec.from_schema(schema)
    assert [(f.name, f.dtype, f.shape) for f in back.features] == [(f.name, f.dtype, f.shape) for f in spec().features]
    assert back.classes == CLASSES


def test_splits_accumulate_and_rewrite(tmp_path):
    s = spec()
    write_store([example(i) for i in range(4)], tmp_path, s, split="train", num_shards=2)
    write_store([example(i) for i in range(2)], tmp_path, spec(), split="test", num_shards=1)
    assert load_spec(tmp_path).counts == {"train": 4, "test": 2}
    write_store([example(i) for i in range(3)], tmp_path, spec(), split="train", num_shards=1)
    assert not list(tmp_path.glob("train-*-of-00002*"))
    assert len(list(read_store(tmp_path))) == 5


def test_encode_refuses_bad_examples():
    s = spec()
    bad = example(1)
    del bad["is10"]
    with pytest.raises(SchemaError, match="lacks feature"):
        encode_example(bad, s)
    with pytest.raises(SchemaError, match="undeclared"):
        encode_example({**example(1), "extra": 1}, s)
    with pytest.raises(SchemaError, match="shape"):
        encode_example({**example(1), "is10": np.zeros(5)}, s)
    with pytest.raises(SchemaError, match="NaN"):
        encode_example({**example(1), "is10": np.array([0, np.nan, 0, 0])}, s)
    encode_example({**example(1), "is10": np.array([0, np.nan, 0, 0])}, s, check_finite=False)
    with pytest.raises(SchemaError, match="only the first"):
        FeatureSpec("x", "float32", (3, None))


def test_interrupted_write_leaves_no_store(tmp_path):
    def gen():
        yield example(0)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_store(gen(), tmp_path / "s", spec(), num_shards=1)
    assert not list((tmp_path / "s").glob("*.tfrecord*")) and not (tmp_path / "s" / "spec.json").exists()
    with pytest.raises(SchemaError, match="not a complete TFRecord store"):
        load_spec(tmp_path / "s")


def test_missing_shard_and_raw_iteration(tmp_path):
    write_store([example(i) for i in range(3)], tmp_path, spec(), num_shards=3, split="all")
    raw = list(iter_examples(tmp_path))
    assert len(raw) == 3 and raw[0]["clip_id"][0] == b"c0"
    next(tmp_path.glob("all-00001*")).unlink()
    with pytest.raises(SchemaError, match="missing"):
        read_store(tmp_path)
    with pytest.raises(SchemaError, match="no split"):
        read_store(tmp_path, "valid")
    (tmp_path / "spec.json").write_text("{")
    with pytest.raises(SchemaError, match="not valid JSON"):
        load_spec(tmp_path)
