"""Issue 16 section 3: training on a store whose shard is truncated or random bytes is a one-line
error naming the shard and the command that rewrites the store, not a DataLossError traceback."""
import json

import numpy as np
import pytest

from emozoo.data.store import CorruptShardError, rebuild_command
from emozoo.data.tfrecord import shard_paths
from emozoo.errors import SchemaError
from emozoo.train.data import load_table
from tests.helpers import write_feature_store
from tests.train.conftest import run_train, tiny_overrides


def _break(shard, how):
    data = open(shard, "rb").read()
    if how == "truncated":
        data = data[: len(data) // 2 + 40]
    elif how == "partial_header":               # TensorFlow reads this as a clean end of file
        data = data[: len(data) // 2 + 7]
    elif how == "boundary":                     # every remaining record decodes
        data = data[: len(data) // 2]
    elif how == "random":
        data = np.random.default_rng(0).integers(0, 256, len(data), dtype=np.uint8).tobytes()
    elif how == "flipped":                      # one byte of a record's payload: its CRC no longer matches
        data = bytearray(data)
        data[len(data) // 3] ^= 0xFF
        data = bytes(data)
    open(shard, "wb").write(data)


@pytest.mark.parametrize("how", ["truncated", "partial_header", "random", "flipped"])
def test_load_table_names_the_corrupt_shard(tmp_path, how):
    store = write_feature_store(tmp_path / f"{how}_is10", dim=8)
    [shard] = shard_paths(store)
    _break(shard, how)
    with pytest.raises(CorruptShardError) as exc:
        load_table(store, "is10")
    msg = str(exc.value)
    assert isinstance(exc.value, SchemaError) and "\n" not in msg and "{{function_node" not in msg
    assert f"shard {shard.rsplit('/', 1)[-1]} does not decode" in msg, msg
    assert f"python -m emozoo.validate {store}" in msg and "python -m emozoo.data write" in msg


def test_shard_shorter_than_extract_json_says(tmp_path):
    """A shard cut exactly at a record boundary still decodes: extract.json's count catches it."""
    store = write_feature_store(tmp_path / "short_is10", dim=8)
    [shard] = shard_paths(store)
    name = shard.rsplit("/", 1)[-1]
    spec = json.loads((store / "spec.json").read_text())
    total = sum(spec["counts"].values())
    (store / "extract.json").write_text(json.dumps({"corpus": "emodb", "features": {"is10": "x"},
                                                    "label_set": "4class",
                                                    "shards": {"all": [[name, total + 1, "0"]]}}))
    with pytest.raises(CorruptShardError, match=f"{total} records where extract.json lists {total + 1}") as exc:
        load_table(store, "is10")
    assert (f"python -m emozoo.extract --corpus emodb --features is10 --label-set 4class --out {store}"
            in str(exc.value))
    assert rebuild_command(store).startswith("python -m emozoo.extract --corpus emodb")


def test_shard_cut_at_a_record_boundary(tmp_path):
    store = write_feature_store(tmp_path / "boundary_is10", dim=8)
    [shard] = shard_paths(store)
    _break(shard, "boundary")
    with pytest.raises(CorruptShardError, match="a shard is short .* examples read where spec.json declares"):
        load_table(store, "is10")


def test_train_cli_on_a_truncated_shard(tmp_path):
    store = write_feature_store(tmp_path / "cli_is10", dim=8, speakers=3)
    [shard] = shard_paths(store)
    _break(shard, "truncated")
    out = run_train(["--experiment", "baseline/emodb/is10/loso", "--override", *tiny_overrides(store),
                     "trainer.epochs=1", "--model-dir", str(tmp_path / "run")])
    assert out.returncode == 2, out.stderr[-3000:]
    assert "Traceback" not in out.stderr and "DataLossError" not in out.stderr
    [line] = [ln for ln in out.stderr.splitlines() if ln.startswith("error:")]
    assert "does not decode" in line and shard.rsplit("/", 1)[-1] in line
