"""Shared test helpers (keras-hub ``TestCase`` style).

* :func:`run_model_checks`: forward shape, one training step, ``get_config`` round trip and
  SavedModel round trip for any emozoo Keras model built from a tiny config.
* :func:`write_feature_store`: a small synthetic feature store with the IS10-store contract
  (meta columns + one float vector per clip, label set ``4class``), classes separable enough
  that a tiny model learns them in a few epochs.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

CLASSES_4 = ("neutral", "happy", "angry", "sad")


def write_feature_store(path, *, corpus: str = "synth", culture: str = "synthetic", speakers: int = 4,
                        per_class: int = 6, dim: int = 16, feature: str = "is10", seed: int = 0,
                        separation: float = 2.0, unlabelled: int = 2, uneven: bool = False) -> Path:
    """Write a store at ``path``: ``speakers`` x 4 classes x ``per_class`` clips plus a few
    unlabelled (label -1) clips per speaker, class means ``separation`` apart. With ``uneven``
    speaker ``s`` has ``per_class - (s % 2)`` clips of its last class, so that sums of speakers'
    clip counts can be odd (an odd batch splits unevenly over 2 replicas)."""
    from emozoo.data.tfrecord import FeatureSpec, StoreSpec, write_store

    rng = np.random.default_rng(seed)
    centres = rng.normal(0, separation, (len(CLASSES_4), dim)).astype(np.float32)
    examples = []
    for s in range(speakers):
        offset = rng.normal(0, 0.3, dim).astype(np.float32)
        for k, emo in enumerate(CLASSES_4):
            for i in range(per_class - (s % 2 if uneven and k == len(CLASSES_4) - 1 else 0)):
                examples.append(_ex(corpus, culture, f"spk{s}", f"{corpus}_{s}_{emo}_{i}", emo, k,
                                    centres[k] + offset + rng.normal(0, 1, dim).astype(np.float32) + 5.0,
                                    feature))
        for i in range(unlabelled):
            examples.append(_ex(corpus, culture, f"spk{s}", f"{corpus}_{s}_other_{i}", "", -1,
                                rng.normal(0, 1, dim).astype(np.float32), feature))
    spec = StoreSpec.with_meta([FeatureSpec(feature, "float32", (dim,))], classes=CLASSES_4, label_set="4class")
    write_store(examples, path, spec, split="all")
    return Path(path)


def _ex(corpus, culture, speaker, clip, emotion, label, x, feature):
    return {"clip_id": clip, "corpus": corpus, "speaker": speaker, "culture": culture, "split": "",
            "emotion": emotion, "label": label, "dialogue_id": "", "turn_index": -1, feature: x}


def run_model_checks(model_cls, init_kwargs: dict, x, y, tmp_path, *, expected_output_shape=None):
    """The keras-hub style checks every emozoo model passes with a tiny config."""
    import keras
    import tensorflow as tf

    model = model_cls(**init_kwargs)
    out = model(x, training=False)
    if expected_output_shape is not None:
        assert tuple(out.shape) == tuple(expected_output_shape), (out.shape, expected_output_shape)
    # one training step changes the weights and gives a finite loss
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    before = [w.numpy().copy() for w in model.trainable_weights]
    logs = model.train_on_batch(x, y, return_dict=True)
    assert np.isfinite(logs["loss"]), logs
    assert any(not np.allclose(a, b.numpy()) for a, b in zip(before, model.trainable_weights))
    # get_config round trip
    config = model.get_config()
    clone = model_cls.from_config(config)
    assert clone.get_config() == config
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone(x, training=False), model(x, training=False), rtol=1e-5, atol=1e-5)
    # SavedModel round trip
    export_dir = str(Path(tmp_path) / "saved_model")
    model.export(export_dir, format="tf_saved_model", verbose=False)
    restored = tf.saved_model.load(export_dir)
    np.testing.assert_allclose(restored.serve(tf.constant(x)), model(x, training=False), rtol=1e-5, atol=1e-5)
    return model


MIRRORED_CHILD = r'''
import json, sys, importlib
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
json.dump(getattr(importlib.import_module(sys.argv[1]), sys.argv[2])(True), sys.stdout)
'''


def mirrored_child(module: str, func: str = "_strategy_run", timeout: int = 180):
    """Run ``module.func(True)`` in a child Python with two logical CPU devices (they must be set up
    before TensorFlow starts, so not in the test process) and return its JSON result. The test
    runs ``func(False)`` itself: the one-device side executes in-process, so coverage-based tools
    (mutation testing) see the step code it exercises."""
    import json
    import os
    import subprocess
    import sys
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo), "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "-1"}
    proc = subprocess.run([sys.executable, "-c", MIRRORED_CHILD, module, func], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def assert_dict_batches_train_like_xy(make_model, inputs: dict, y):
    """One epoch of a fresh ``make_model()`` (compiled) on ``(inputs, y)`` elements and another on
    ``{**inputs, "label": y}`` elements must give the same logs and weights (custom ``train_step``s
    accept both batch forms); returns the second model."""
    import tensorflow as tf
    runs = []
    for element in ((inputs, y), {**inputs, "label": y}):
        m = make_model()
        h = m.fit(tf.data.Dataset.from_tensors(element), epochs=1, verbose=0).history
        runs.append(({k: v[0] for k, v in h.items()}, [v.numpy() for v in m.trainable_variables], m))
    (la, wa, _), (lb, wb, m) = runs
    assert la.keys() == lb.keys() and all(np.isclose(la[k], lb[k], rtol=1e-6) for k in la), (la, lb)
    for a, b in zip(wa, wb):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    return m
