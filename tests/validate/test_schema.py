"""Schema inference, save/load, declared store schemas."""
import pytest
from tensorflow_metadata.proto.v0 import schema_pb2

from emozoo.errors import SchemaError
from emozoo.validate.schema import describe, expected_num_values, infer_schema, load_schema, save_schema
from emozoo.validate.statistics import compute_statistics
from tests.validate import stores


def _feat(schema, name):
    return next(f for f in schema.feature if f.name == name)


def test_inferred_schema_has_types_shapes_domains():
    schema = infer_schema(compute_statistics(stores.examples(dims=6)))
    feat = _feat(schema, "feat")
    assert feat.type == schema_pb2.FLOAT and expected_num_values(feat) == (6, 6)
    assert feat.presence.min_fraction == 1.0
    emo = _feat(schema, "emotion")
    assert sorted(emo.string_domain.value) == ["angry", "happy", "neutral", "sad"]
    assert not _feat(schema, "speaker").HasField("string_domain")    # speakers change between datasets
    assert _feat(schema, "label").int_domain.max == 3


def test_spec_fixes_domain_and_shape():
    schema = infer_schema(compute_statistics(stores.examples(n=4)), spec=stores.spec())
    assert "" in _feat(schema, "emotion").string_domain.value          # unlabelled allowed
    assert (_feat(schema, "label").int_domain.min, _feat(schema, "label").int_domain.max) == (-1, 3)


def test_partial_presence_and_variable_length():
    exs = [{"x": [1.0] * (i + 1), "y": "a"} if i % 2 else {"x": [2.0] * (i + 1)} for i in range(10)]
    schema = infer_schema(compute_statistics(exs, slice_keys=()))
    assert expected_num_values(_feat(schema, "x")) == (1, 10)
    assert _feat(schema, "y").presence.min_fraction == pytest.approx(0.5)


def test_round_trip_and_errors(tmp_path):
    schema = infer_schema(compute_statistics(stores.examples()))
    path = save_schema(schema, tmp_path / "s" / "schema.pbtxt")
    assert load_schema(path) == schema and load_schema(path.parent) == schema
    assert describe(schema)[0]["name"] == "clip_id"
    with pytest.raises(SchemaError, match="no schema"):
        load_schema(tmp_path / "nope.pbtxt")
    (tmp_path / "bad.pbtxt").write_text("feature { nme: 1 }")
    with pytest.raises(SchemaError, match="not a valid Schema"):
        load_schema(tmp_path / "bad.pbtxt")
    with pytest.raises(SchemaError, match="empty"):
        infer_schema(compute_statistics([]))


def test_store_declared_schema_round_trips(tmp_path):
    store = stores.write(tmp_path / "s")
    declared = load_schema(store)
    assert expected_num_values(_feat(declared, "feat")) == (8, 8)
