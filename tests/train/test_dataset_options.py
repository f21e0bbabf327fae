"""Every dataset emozoo builds for training, evaluation or store reading has tf.data autotuning
off and a fixed prefetch (issue 21: with autotuning on, destroying an iterator waits for the
autotune thread's sleep, up to seconds at the end of a ``fit``; see docs/performance.md)."""
from types import SimpleNamespace

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")


def _no_autotune(ds):
    opts = ds.options()
    assert opts.autotune.enabled is False, "tf.data autotuning must be off (the fit-end stall of issue 21)"
    assert opts.deterministic is True


def _prefetch_buffers(ds):
    """Buffer sizes of the prefetch nodes of ``ds``'s graph (-1 = AUTOTUNE)."""
    from tensorflow.core.framework import graph_pb2

    g = graph_pb2.GraphDef()
    g.ParseFromString(tf.raw_ops.DatasetToGraphV2(input_dataset=ds._variant_tensor).numpy())
    consts = {n.name: n for n in g.node if n.op == "Const"}
    sizes = []
    for n in g.node:
        if n.op == "PrefetchDataset":
            c = consts[n.input[1].split(":")[0]]
            sizes.append(int(tf.make_ndarray(c.attr["value"].tensor)))
    return sizes


def test_finalize_sets_options_and_a_fixed_prefetch():
    from emozoo.train.data import PREFETCH, finalize

    ds = finalize(tf.data.Dataset.range(10).batch(4))
    _no_autotune(ds)
    assert _prefetch_buffers(ds) == [PREFETCH] and PREFETCH > 0
    assert _prefetch_buffers(finalize(tf.data.Dataset.range(3), prefetch=0)) == []
    assert list(finalize(tf.data.Dataset.range(5)).as_numpy_iterator()) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("shuffle", [True, False])
def test_trainer_datasets_have_no_autotuning(shuffle):
    from emozoo.train.data import PREFETCH
    from emozoo.train.trainer import _dataset

    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    y = np.arange(20, dtype=np.int32) % 3
    ds = _dataset({"features": x, "domain": y}, y, None, 8, shuffle=shuffle, seed=0, epochs=2)
    _no_autotune(ds)
    assert ds.options().experimental_distribute.auto_shard_policy == tf.data.experimental.AutoShardPolicy.DATA
    assert _prefetch_buffers(ds) == [PREFETCH]


def test_method_dataset_builders_have_no_autotuning():
    from emozoo.models.dann.dann_task import LengthBucketBatches
    from emozoo.models.ssgan.ssgan_task import Pool, _dataset as ssgan_dataset

    rng = np.random.default_rng(0)
    n, L = 6, 5
    b = SimpleNamespace(x=rng.normal(size=(n, L, 3)).astype(np.float32), mask=np.ones((n, L), np.float32),
                        domain=np.zeros((n, L), np.int32), y=np.zeros((n, L), np.int32))
    _no_autotune(LengthBucketBatches(b, 2, 0, multiple=1).dataset())
    pool = Pool([rng.normal(size=(8, 3)).astype(np.float32)], np.arange(8) % 2, np.zeros(8))
    _no_autotune(ssgan_dataset(pool, pool, 4, 4, 0))


def test_store_pipelines_have_no_autotuning(tmp_path):
    from emozoo.data.pipelines import from_store
    from emozoo.data.tfrecord import read_store
    from tests.helpers import write_feature_store

    store = write_feature_store(tmp_path / "s", speakers=2, per_class=2, dim=4)
    for ds in (read_store(store), from_store(store, features="is10", batch_size=4)):
        _no_autotune(ds)
