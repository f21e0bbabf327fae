"""Small synthetic stores for the validator tests, with defects planted on request."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from emozoo.data.tfrecord import FeatureSpec, StoreSpec, shard_paths, write_store

CLASSES = ("neutral", "happy", "angry", "sad")


def examples(n: int = 40, dims: int = 8, *, culture: str = "german", shift: float = 0.0, seed: int = 0,
             corpus: str = "toy"):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        k = i % len(CLASSES)
        out.append({
            "clip_id": f"{corpus}_{i:03d}", "corpus": corpus, "speaker": f"spk{i % 5}", "culture": culture,
            "split": "train" if i % 5 else "test", "emotion": CLASSES[k], "label": k,
            "dialogue_id": "", "turn_index": -1,
            "feat": (rng.normal(size=dims) + shift + 0.5 * k).astype(np.float32),
        })
    return out


def spec(dims: int = 8) -> StoreSpec:
    return StoreSpec.with_meta([FeatureSpec("feat", "float32", (dims,), "toy feature vector")], classes=CLASSES,
                               label_set="4class")


def write(path, exs=None, dims: int = 8, **kw):
    exs = examples(dims=dims, **kw) if exs is None else exs
    return write_store(exs, path, spec(dims), split="all", num_shards=1)


def _feature(value) -> tf.train.Feature:
    arr = np.asarray(value)
    if arr.dtype.kind in "US" or isinstance(value, (str, bytes)):
        vals = [v.encode() if isinstance(v, str) else v for v in np.atleast_1d(np.asarray(value, dtype=object))]
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=vals))
    if arr.dtype.kind in "iu":
        return tf.train.Feature(int64_list=tf.train.Int64List(value=np.atleast_1d(arr).reshape(-1)))
    return tf.train.Feature(float_list=tf.train.FloatList(value=np.atleast_1d(arr).astype(np.float32).reshape(-1)))


def overwrite_raw(store, exs) -> None:
    """Replace the store's single shard with ``exs`` written as they are (no spec checks)."""
    [path] = shard_paths(store)
    with tf.io.TFRecordWriter(path) as w:
        for ex in exs:
            feats = {k: _feature(v) for k, v in ex.items()}
            w.write(tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString())


def plant(defect: str, store, n: int = 40, dims: int = 8) -> str:
    """Write a clean store at ``store`` then plant one defect in clip 7; returns the clip id at fault."""
    exs = examples(n, dims)
    write(store, exs, dims)
    bad = exs[7]
    if defect == "nan":
        bad["feat"] = bad["feat"].copy()
        bad["feat"][3] = np.nan
    elif defect == "inf":
        bad["feat"] = bad["feat"].copy()
        bad["feat"][0] = np.inf
    elif defect == "shape":
        bad["feat"] = bad["feat"][: dims - 2]
    elif defect == "missing":
        del bad["feat"]
    elif defect == "unknown_label":
        bad["emotion"] = "contempt"
    elif defect == "label_range":
        bad["label"] = 9
    elif defect == "new_feature":
        bad["extra"] = np.ones(3, np.float32)
    elif defect == "type":
        bad["label"] = np.float32(1.0)
    else:
        raise ValueError(defect)
    overwrite_raw(store, exs)
    return bad["clip_id"]
