"""Planted defects are flagged, by the library and by ``python -m emozoo.validate``."""
import json

import pytest
from tensorflow_metadata.proto.v0 import anomalies_pb2

from emozoo.validate import validate_store
from emozoo.validate.__main__ import main
from emozoo.validate.anomalies import findings, has_anomalies, validate_statistics
from emozoo.validate.schema import infer_schema
from emozoo.validate.statistics import compute_statistics
from tests.validate import stores

EXPECTED = {
    "nan": ("feat", "FLOAT_TYPE_HAS_NAN"),
    "inf": ("feat", "FLOAT_TYPE_HAS_INF"),
    "shape": ("feat", "FEATURE_TYPE_LOW_NUMBER_VALUES"),
    "missing": ("feat", "FEATURE_TYPE_LOW_FRACTION_PRESENT"),
    "unknown_label": ("emotion", "ENUM_TYPE_UNEXPECTED_STRING_VALUES"),
    "label_range": ("label", "INT_TYPE_BIG_INT"),
    "new_feature": ("extra", "SCHEMA_NEW_COLUMN"),
    "type": ("label", "UNEXPECTED_DATA_TYPE"),
}


def test_clean_store_has_no_anomalies(tmp_path, capsys):
    store = stores.write(tmp_path / "clean")
    assert main([str(store), "--fail-on-anomalies"]) == 0
    assert "no anomalies" in capsys.readouterr().out
    out = store / "validation"
    for name in ("statistics.pb", "schema_inferred.pbtxt", "anomalies.pbtxt", "findings.txt", "report.md",
                 "report.png"):
        assert (out / name).stat().st_size > 0, name


@pytest.mark.parametrize("defect", sorted(EXPECTED))
def test_planted_defect_is_flagged(tmp_path, defect, capsys):
    store = tmp_path / defect
    clip = stores.plant(defect, store)
    assert main([str(store), "--fail-on-anomalies"]) == 1
    printed = capsys.readouterr().out
    feature, kind = EXPECTED[defect]
    assert kind in printed and clip in printed, printed
    # the Anomalies proto carries it too
    from google.protobuf import text_format
    proto = text_format.Parse((store / "validation" / "anomalies.pbtxt").read_text(), anomalies_pb2.Anomalies())
    assert feature in proto.anomaly_info
    assert kind in [anomalies_pb2.AnomalyInfo.Type.Name(r.type) for r in proto.anomaly_info[feature].reason]
    assert kind in (store / "validation" / "report.md").read_text()
    # without --fail-on-anomalies the command still succeeds but reports
    assert main([str(store), "--no-plot"]) == 0


def test_findings_name_the_clip_and_count(tmp_path):
    store = tmp_path / "nan"
    clip = stores.plant("nan", store)
    result = validate_store(store)
    assert not result.ok
    [f] = [f for f in result.findings if f.type == "FLOAT_TYPE_HAS_NAN"]
    assert f.examples == (clip,) and "1 NaN" in f.description


def test_corrupt_shard_is_reported_not_crashing(tmp_path):
    store = stores.write(tmp_path / "corrupt")
    from emozoo.data.tfrecord import shard_paths
    [path] = shard_paths(store)
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 2])   # truncated mid-record
    result = validate_store(store)
    assert not result.ok
    assert any("declares 40 examples" in f.description and "truncated" in f.description for f in result.findings)


def test_flipped_bytes_are_reported(tmp_path):
    store = stores.write(tmp_path / "flipped")
    from emozoo.data.tfrecord import shard_paths
    [path] = shard_paths(store)
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF     # corrupts one record's payload: its CRC no longer matches
    open(path, "wb").write(bytes(data))
    result = validate_store(store)
    assert not result.ok
    assert any("unreadable" in f.description or "not a tf.train.Example" in f.description
               for f in result.findings), [str(f) for f in result.findings]


def test_missing_spec_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "half").mkdir()
    assert main([str(tmp_path / "half")]) == 2
    assert "error:" in capsys.readouterr().err


def test_schema_from_training_data_checks_new_data(tmp_path):
    """Infer on one store, check another: values outside the training domain are anomalies."""
    train = stores.write(tmp_path / "train")
    assert main([str(train), "--no-plot"]) == 0
    schema = train / "validation" / "schema_inferred.pbtxt"
    other = stores.examples(culture="mandarin")
    new = stores.write(tmp_path / "new", other)
    assert main([str(new), "--schema", str(schema), "--fail-on-anomalies", "--no-plot"]) == 1
    res = json.loads(json.dumps([str(f) for f in validate_store(new, schema=schema).findings]))
    assert any("culture" in f and "mandarin" in f for f in res)


def test_validate_statistics_on_python_examples():
    exs = stores.examples()
    stats = compute_statistics(exs, stores.spec())
    schema = infer_schema(stats, spec=stores.spec())
    assert not has_anomalies(validate_statistics(stats, schema))
    exs[3]["emotion"] = "bored"
    bad = validate_statistics(compute_statistics(exs, stores.spec()), schema)
    [f] = findings(bad)
    assert f.feature == "emotion" and "'bored' (1)" in f.description


def test_empty_dataset_is_an_anomaly(tmp_path):
    store = stores.write(tmp_path / "empty", [])
    result = validate_store(store)
    assert [f.type for f in result.findings] == ["DATASET_LOW_NUM_EXAMPLES"]


def test_manifest_validation_flags_missing_files_and_labels_outside_the_set(tmp_path, capsys):
    from emozoo.data.manifest import Manifest, ManifestRow
    real = tmp_path / "a.wav"
    real.write_bytes(b"RIFF")
    rows = [ManifestRow(clip_id="a", path=str(real), label="angry", emotion="angry", speaker="1", corpus="c"),
            ManifestRow(clip_id="b", path=str(tmp_path / "lost.wav"), label="sad", emotion="sad", speaker="1",
                        corpus="c"),
            ManifestRow(clip_id="c", path=str(real), label="disgust", emotion="disgust", speaker="2", corpus="c")]
    path = tmp_path / "m.jsonl"
    Manifest(rows, name="c").to_jsonl(path)
    assert main([str(path), "--label-set", "4class", "--fail-on-anomalies"]) == 1
    out = capsys.readouterr().out
    assert "1 of 3 rows point at files that do not exist" in out and "e.g. b" in out
    assert "'disgust' (1)" in out and "e.g. c" in out
    assert (tmp_path / "m_validation" / "report.md").exists()
    assert main([str(path), "--fail-on-anomalies", "--no-plot"]) == 1     # the lost file alone
