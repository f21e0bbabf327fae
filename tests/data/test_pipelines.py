import collections

import numpy as np
import pytest
import tensorflow as tf

from emozoo.data import pipelines as P
from emozoo.data.tfrecord import FeatureSpec, StoreSpec, write_store
from emozoo.errors import SchemaError

CLASSES = ("neutral", "happy", "angry", "sad")


def _store(path, n=40, *, dialogues=False, labels=None):
    spec = StoreSpec.with_meta([FeatureSpec("is10", "float32", (3,))], classes=CLASSES)
    exs = []
    for i in range(n):
        lab = labels[i] if labels is not None else i % 4
        exs.append({"clip_id": f"c{i}", "corpus": "t", "speaker": f"s{i % 5}", "culture": "x", "split": "train",
                    "emotion": CLASSES[lab] if lab >= 0 else "", "label": lab,
                    "dialogue_id": f"d{i // 7}" if dialogues else "", "turn_index": i % 7 if dialogues else -1,
                    "is10": np.full(3, i, np.float32)})
    # write turns out of order to prove the pipeline sorts them
    write_store(exs[::-1] if dialogues else exs, path, spec, split="train", num_shards=2)
    return path


def test_from_store_batches_and_filters_unlabelled(tmp_path):
    labels = [i % 4 if i % 10 else -1 for i in range(40)]
    store = _store(tmp_path, labels=labels)
    batches = list(P.from_store(store, "train", batch_size=8).as_numpy_iterator())
    xs = np.concatenate([b[0] for b in batches])
    assert xs.shape == (36, 3) and all((b[1] >= 0).all() for b in batches)
    (x, y, meta), = P.from_store(store, features=["is10"], batch_size=None, keep_meta=["speaker"]).take(1)
    assert set(x) == {"is10"} and meta["speaker"].dtype == tf.string
    with pytest.raises(SchemaError, match="no feature"):
        P.from_store(store, features="fbank")


def test_deterministic_shuffle(tmp_path):
    store = _store(tmp_path)
    a = [b[1].tolist() for b in P.from_store(store, batch_size=8, shuffle=True, seed=7).as_numpy_iterator()]
    b = [b[1].tolist() for b in P.from_store(store, batch_size=8, shuffle=True, seed=7).as_numpy_iterator()]
    c = [b[1].tolist() for b in P.from_store(store, batch_size=8, shuffle=True, seed=8).as_numpy_iterator()]
    assert a == b and a != c


def test_class_balanced_sampling():
    labels = np.array([0] * 90 + [1] * 10)
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((100, 2), np.float32), labels))
    got = collections.Counter(int(y) for _, y in P.class_balanced(ds, 2, seed=0).take(2000).as_numpy_iterator())
    assert abs(got[0] - got[1]) < 200


def test_upsample_groups_equalises_corpora():
    big = tf.data.Dataset.from_tensor_slices(np.zeros(300, np.int64))
    small = tf.data.Dataset.from_tensor_slices(np.ones(30, np.int64))
    mixed = list(P.upsample_groups({"big": big, "small": small}, sizes={"big": 300, "small": 30}, seed=1)
                 .as_numpy_iterator())
    assert len(mixed) == 600
    share = np.mean(mixed)
    assert 0.4 < share < 0.6


def test_with_unlabelled_pairs_batches():
    lab = tf.data.Dataset.from_tensor_slices((np.zeros((20, 3), np.float32), np.arange(20) % 4))
    unl = tf.data.Dataset.from_tensor_slices((np.ones((50, 3), np.float32), np.full(50, -1)))
    ds = P.with_unlabelled(lab, unl, batch_size=4, unlabelled_batch_size=6, steps=5)
    out = list(ds.as_numpy_iterator())
    assert len(out) == 5
    (xl, yl), xu = out[0]
    assert xl.shape == (4, 3) and yl.shape == (4,) and xu.shape == (6, 3) and (xu == 1).all()


def test_dialogue_batches_sorted_padded_masked(tmp_path):
    labels = [(i % 4) if i % 3 else -1 for i in range(40)]
    store = _store(tmp_path, n=40, dialogues=True, labels=labels)
    batches = list(P.dialogue_batches(store, feature="is10", batch_size=4).as_numpy_iterator())
    x, y = batches[0]
    assert x["is10"].shape[:2] == y.shape == x["mask"].shape
    # dialogue d0 = clips 0..6 in turn order
    np.testing.assert_array_equal(x["is10"][0, :, 0], np.arange(7))
    np.testing.assert_array_equal(y[0], labels[:7])
    last_x, last_y = batches[-1]
    # 40 = 5*7 + 5: the last dialogue has 5 turns, padded with mask 0 / label -1
    assert last_x["mask"][-1].tolist() == [1, 1, 1, 1, 1, 0, 0] and last_y[-1, 5:].tolist() == [-1, -1]
    n_dialogues = sum(b[1].shape[0] for b in batches)
    assert n_dialogues == 6
