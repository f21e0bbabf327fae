"""Face CNN speed on one core: training step, inference, saliency (vanilla / guided) and modification step.

    python benchmarks/bench_face_cnn.py [--repeats 3]

TensorFlow is pinned to one core with one thread (``benchmarks/_machine.py``), so the figures are
per core. For both architecture presets (``cpu``: 16/32/64 channels, FC 128, what the committed
runs use; ``khorrami``: 64/128/256, FC 300, the paper's size), each figure is the median of
``--repeats`` timed passes after a warm-up (the machine is shared: the load average at start and
end is recorded too):

* ``train_images_per_s``: ``model.train_on_batch`` on 64 random 48x48 faces (SGD + momentum,
  flip + rotation augmentation);
* ``predict_images_per_s``: ``model(x, training=False)``, batch 64;
* ``saliency_ms_per_image``: :func:`emozoo.explain.saliency.class_gradient` on 16 faces, vanilla
  and guided copy;
* ``modify_ms_per_step``: one gradient-ascent step of :func:`emozoo.explain.saliency.modify_emotion`.

Prints the figures and writes ``benchmarks/results/face_cnn_bench.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))


def _median_time(fn, repeats: int) -> float:
    fn()                                            # warm-up (tracing)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None) -> int:
    from _machine import cpu_name, pin_one_core

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "face_cnn_bench.json"))
    a = p.parse_args(argv)
    pin_one_core()
    import numpy as np

    from emozoo.explain.saliency import class_gradient, modify_emotion
    from emozoo.models.face_cnn.face_cnn_model import ARCH_PRESETS, build_face_cnn, guided_copy, sgd_exponential

    load0 = os.getloadavg()
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (64, 48, 48, 1)).astype("float32")
    y = rng.integers(0, 6, 64)
    res = {"cpu": cpu_name(), "python": platform.python_version(), "threads": 1, "repeats": a.repeats, "archs": {}}
    for arch in ("cpu", "khorrami"):
        cfg = dict(ARCH_PRESETS[arch], num_classes=6)
        model = build_face_cnn(**cfg)
        model.compile(optimizer=sgd_exponential(0.01, 10), loss="sparse_categorical_crossentropy")
        guided = guided_copy(model, cfg)
        t_train = _median_time(lambda: model.train_on_batch(x, y), a.repeats)
        t_pred = _median_time(lambda: model(x, training=False).numpy(), a.repeats)
        t_van = _median_time(lambda: class_gradient(model, x[:16], 0), a.repeats)
        t_gui = _median_time(lambda: class_gradient(guided, x[:16], 0), a.repeats)
        t_mod = _median_time(lambda: modify_emotion(model, x[0], 1, steps=10, stop_probability=None), a.repeats) / 10
        res["archs"][arch] = {"parameters": int(model.count_params()),
                              "train_images_per_s": 64 / t_train, "predict_images_per_s": 64 / t_pred,
                              "saliency_ms_per_image": {"vanilla": 1000 * t_van / 16, "guided": 1000 * t_gui / 16},
                              "modify_ms_per_step": 1000 * t_mod}
        print(arch, json.dumps(res["archs"][arch]), flush=True)
    res["loadavg_start"], res["loadavg_end"] = list(load0), list(os.getloadavg())
    res["command"] = "python benchmarks/bench_face_cnn.py --repeats " + str(a.repeats)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
