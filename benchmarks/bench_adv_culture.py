"""Training throughput of the adversarial train step (S_C=1, S_G=2) vs the BSL step, same IS10 batches.

    python benchmarks/bench_adv_culture.py [--batch-size 64] [--steps 60] [--repeats 5]

One ADV ``train_step`` does three parameter updates (one of C, two of E and G) where the BSL step
(``mode="bsl"``, ``generator_steps=1``: the paper's network trained on L_emo, one update per
batch) does one; the forward/backward floor of ADV is about 3x BSL's time. The goal is
ADV <= 3.5x BSL per step. Also timed, for reference: ``bsl_sg2``, BSL with two E/G updates per
batch (the BSL of ``pipelines/adv_culture_table.py``, which matches ADV's E/G updates).

Both models have the paper's sizes (G 512-256, E/C 500) and see the same batches: real IS10
vectors from the EmoDB and CASIA stores (half of every batch an unlabelled culture-1 example),
or random IS10-shaped vectors with ``--synthetic``/when the stores are missing. Two paths are
timed, each with and without XLA (``jit_compile``):

* ``step``: ``tf.function(model.train_step)`` called on pre-built batches (the step itself);
* ``fit``: ``model.fit`` over a repeated ``tf.data`` pipeline ended by
  :func:`emozoo.train.data.finalize` like emozoo's training datasets (what training pays, Keras
  callbacks and input pipeline included).

The paths are measured interleaved (ADV, BSL, BSL-S_G2, ADV, ...) ``--repeats`` times and the
fastest repeat of each is kept (the medians are in the JSON too), so that on a busy shared
machine the estimate is of the step, not of the other jobs. Prints a table and writes
``benchmarks/results/bench_adv_culture.json``.
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


def load_batches(n_batches: int, batch_size: int, synthetic: bool, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    source = "synthetic IS10-shaped N(0,1)"
    if not synthetic:
        try:
            from emozoo.train.data import load_table
            a = load_table(str(REPO / "tfrecords/emodb_is10"), "is10")
            b = load_table(str(REPO / "tfrecords/casia_is10"), "is10")
            xa, ya, xb = a.x, a.y, b.x
            source = "IS10 vectors of tfrecords/emodb_is10 (labelled, culture 0) and casia_is10 (unlabelled, culture 1)"
        except Exception as exc:  # noqa: BLE001 - fall back to synthetic, say so
            print(f"stores unavailable ({exc}); using synthetic IS10-shaped batches", file=sys.stderr)
            synthetic = True
    if synthetic:
        xa = rng.normal(size=(1000, 1582)).astype("float32")
        ya = rng.integers(0, 4, 1000)
        xb = rng.normal(size=(1000, 1582)).astype("float32")
    half = batch_size // 2
    batches = []
    for _ in range(n_batches):
        ia, ib = rng.choice(len(xa), half), rng.choice(len(xb), batch_size - half)
        x = np.concatenate([xa[ia], xb[ib]]).astype("float32")
        y = np.concatenate([ya[ia], np.full(batch_size - half, -1)]).astype("int32")
        c = np.concatenate([np.zeros(half), np.ones(batch_size - half)]).astype("int32")
        batches.append((x, y, c))
    norm = (np.concatenate([xa, xb]), np.concatenate([np.zeros(len(xa)), np.ones(len(xb))]).astype("int32"))
    return batches, norm, source


MODELS = {"adv": dict(mode="adv", generator_steps=2), "bsl": dict(mode="bsl", generator_steps=1),
          "bsl_sg2": dict(mode="bsl", generator_steps=2)}


def make_model(name: str, jit: bool, norm):
    import keras

    from emozoo.models.adv_culture import AdversarialCultureModel

    keras.utils.set_random_seed(0)
    kw = dict(num_classes=4, input_dim=1582, num_cultures=2, culture_steps=1, **MODELS[name])
    m = AdversarialCultureModel(**kw)
    m.fit_normalization(*norm)
    m.compile(optimizer=keras.optimizers.Adam(1e-4), jit_compile=jit)
    return m


def time_step_path(model, batches, steps: int, jit: bool) -> float:
    """Seconds per ``train_step`` call of a ``tf.function`` over pre-built batches."""
    import tensorflow as tf

    data = [({"features": tf.constant(x), "culture": tf.constant(c)}, tf.constant(y)) for x, y, c in batches]
    fn = tf.function(model.train_step, jit_compile=jit)
    for d in data[:3]:
        fn(d)   # trace + warm-up
    t = time.perf_counter()
    for i in range(steps):
        out = fn(data[i % len(data)])
    float(out["emotion_loss"])   # wait for the last step
    return (time.perf_counter() - t) / steps


def time_fit_path(model, batches, steps: int) -> float:
    """Seconds per step of ``model.fit`` (steps_per_execution 1) over a repeated tf.data pipeline."""
    import numpy as np
    import tensorflow as tf

    x = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches])
    c = np.concatenate([b[2] for b in batches])
    bs = len(batches[0][1])
    from emozoo.train.data import finalize

    # ended as emozoo ends its datasets (fixed prefetch, tf.data autotuning off): with autotuning on,
    # fit's end waited for the autotune thread and the time per step bunched at 32/64/128 ms (issue 21)
    ds = finalize(tf.data.Dataset.from_tensor_slices(({"features": x, "culture": c}, y)).batch(bs).repeat())
    model.fit(ds, steps_per_epoch=3, epochs=1, verbose=0)   # trace + warm-up
    t = time.perf_counter()
    model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)
    return (time.perf_counter() - t) / steps


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=40, help="timed steps per measurement")
    ap.add_argument("--repeats", type=int, default=9, help="interleaved measurements per configuration")
    ap.add_argument("--synthetic", action="store_true", help="random IS10-shaped batches instead of the stores")
    ap.add_argument("--out", default=str(REPO / "benchmarks/results/bench_adv_culture.json"))
    args = ap.parse_args(argv)

    import tensorflow as tf

    batches, norm, source = load_batches(16, args.batch_size, args.synthetic)
    rows = []
    for path in ("step", "fit"):
        for jit in (False, True):
            models = {m: make_model(m, jit, norm) for m in MODELS}
            times = {m: [] for m in MODELS}
            for _ in range(args.repeats):
                for mode in MODELS:
                    if path == "step":
                        times[mode].append(time_step_path(models[mode], batches, args.steps, jit))
                    else:
                        times[mode].append(time_fit_path(models[mode], batches, args.steps))
            # the fastest of the interleaved repeats (timeit's estimator): on a shared machine the
            # slower repeats measure the other jobs; the medians are kept in the JSON too
            med = {m: min(v) for m, v in times.items()}
            median = {m: statistics.median(v) for m, v in times.items()}
            row = {"path": path, "jit_compile": jit,
                   "adv_ms_per_step": 1e3 * med["adv"], "bsl_ms_per_step": 1e3 * med["bsl"],
                   "adv_examples_per_s": args.batch_size / med["adv"], "bsl_examples_per_s": args.batch_size / med["bsl"],
                   "adv_over_bsl_time_per_step": med["adv"] / med["bsl"],
                   "bsl_sg2_ms_per_step": 1e3 * med["bsl_sg2"],
                   "median_adv_over_bsl": median["adv"] / median["bsl"],
                   "runs_ms": {m: [round(1e3 * v, 3) for v in vals] for m, vals in times.items()}}
            rows.append(row)
            print(f"{path:>4} jit={str(jit):5}  ADV {row['adv_ms_per_step']:7.2f} ms/step "
                  f"({row['adv_examples_per_s']:8.0f} ex/s)  BSL {row['bsl_ms_per_step']:7.2f} ms/step "
                  f"({row['bsl_examples_per_s']:8.0f} ex/s)  ADV/BSL {row['adv_over_bsl_time_per_step']:.2f}x  "
                  f"[BSL with S_G=2 {row['bsl_sg2_ms_per_step']:.2f} ms]", flush=True)
    result = {
        "benchmark": "adv_culture train step throughput: ADV (S_C=1, S_G=2) vs BSL (1 update), same batches",
        "command": "python benchmarks/bench_adv_culture.py" + (" " + " ".join(argv or sys.argv[1:])).rstrip(),
        "batch_size": args.batch_size, "steps": args.steps, "repeats": args.repeats, "data": source,
        "device": "CPU" if not tf.config.list_physical_devices("GPU") else "GPU",
        "cpu_count": os.cpu_count(), "platform": platform.platform(), "tensorflow": tf.__version__,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "goal": "adv_over_bsl_time_per_step <= 3.5",
        "estimator": "min over repeats", "load_average": os.getloadavg(),
        "rows": rows,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"load average (1 min, 5 min, 15 min) at the end: {os.getloadavg()}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
