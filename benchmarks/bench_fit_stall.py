"""The time ``fit`` spends after its last batch: emozoo's datasets vs the same with tf.data autotuning on.

    python benchmarks/bench_fit_stall.py [--steps 40] [--repeats 9] [--batch-size 64]

Issue 21: with tf.data autotuning on (TensorFlow's default), destroying an iterator waits for the
autotune thread's current sleep, a period that doubles after every optimisation pass (20, 40, 80,
... ms). ``fit`` destroys its iterator when it returns, so a ``fit`` call ended up to a whole
period after its last batch (30-350 ms after 0.5-1 s fits, seconds after long ones), and per-step
times measured through ``fit`` bunched at 32/64/128 ms. emozoo ends every dataset with
:func:`emozoo.train.data.finalize` (autotuning off, fixed prefetch).

Both sides train the utterance DANN of ``python -m emozoo.train`` (1582-256-100, 4 emotions, 2
domains) on the same IS10-shaped rows through the trainer's dataset
(:func:`emozoo.train.trainer._dataset`, ``--batch-size`` rows per step), compiled with Keras's
default (``--compile step``: a call per step, no XLA, as most models of the zoo train) or with the
DANN defaults of the trainer (``--compile trainer``: one epoch per graph call):

* ``emozoo``: the dataset as emozoo builds it;
* ``autotune``: the same dataset with autotuning switched back on and an autotuned ``prefetch``
  (what the trainer built before).

Every repeat runs one ``fit`` of ``--steps`` steps per side, interleaved. Measured per fit: the
seconds of the steps (``on_train_batch_begin`` to ``on_train_batch_end``), the **tail** (the last
batch's end to ``fit`` returning) and the rest of the overhead (``fit`` minus the steps). Also
the input pipeline alone (emozoo's dataset drained inside a graph without a model, per batch) as
a share of a step. Prints min and median over the repeats and the load average; writes
``benchmarks/results/bench_fit_stall.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=40, help="steps per timed fit")
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--compile", choices=("step", "trainer"), default="step",
                    help="step: Keras's default compile (a call per step, no XLA), what most models of the "
                         "zoo train with; trainer: the DANN defaults of python -m emozoo.train (one call "
                         "per epoch)")
    ap.add_argument("--out", default=str(REPO / "benchmarks/results/bench_fit_stall.json"))
    args = ap.parse_args(argv)

    import keras
    import numpy as np
    import tensorflow as tf

    from _machine import cpu_name
    from emozoo.experiments import TrainerConfig
    from emozoo.models.dann import DANNUtteranceModel
    from emozoo.train.trainer import _dataset, compile_defaults

    rng = np.random.default_rng(0)
    n = args.steps * args.batch_size
    x = {"features": rng.normal(size=(n, 1582)).astype("float32"), "domain": rng.integers(0, 2, n).astype("int32")}
    y = np.where(rng.random(n) < 0.5, -1, rng.integers(0, 4, n)).astype("int32")

    def dataset(side):
        ds = _dataset(x, y, None, args.batch_size, shuffle=True, seed=0, epochs=1)
        if side == "autotune":
            opts = tf.data.Options()
            opts.autotune.enabled = True
            ds = ds.with_options(opts).prefetch(tf.data.AUTOTUNE)
        return ds

    class Clock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.steps, self.t_begin = 0.0, None

        def on_train_batch_begin(self, batch, logs=None):
            self.t_begin = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.last = time.perf_counter()
            self.steps += self.last - self.t_begin

    models, clock = {}, Clock()
    for side in ("emozoo", "autotune"):
        keras.utils.set_random_seed(0)
        m = DANNUtteranceModel(4, 1582, num_domains=2, encoder_units=(256, 100), domain_units=(100,),
                               learning_rate=1e-3)
        m.fit_normalization(x["features"])
        m.compile(**(compile_defaults(m, TrainerConfig(batch_size=args.batch_size), args.steps)
                     if args.compile == "trainer" else {"jit_compile": False}))
        m.fit(dataset(side), epochs=1, steps_per_epoch=args.steps, verbose=0, shuffle=False)   # trace, compile
        models[side] = m
    rec = {s: {"fit": [], "steps": [], "tail": [], "overhead": []} for s in models}
    loads = []
    for _ in range(args.repeats):
        loads.append(os.getloadavg()[0])
        for side, m in models.items():
            ds = dataset(side)
            t0 = time.perf_counter()
            m.fit(ds, epochs=1, steps_per_epoch=args.steps, verbose=0, shuffle=False, callbacks=[clock])
            t1 = time.perf_counter()
            r = rec[side]
            r["fit"].append(t1 - t0)
            r["steps"].append(clock.steps)
            r["tail"].append(t1 - clock.last)
            r["overhead"].append(t1 - t0 - clock.steps)
    loads.append(os.getloadavg()[0])

    # the input pipeline alone: emozoo's dataset drained inside a graph, as fit's train function
    # pulls its batches (no model)
    @tf.function
    def drain(it, k):
        total = tf.constant(0.0)
        for _ in tf.range(k):
            total += tf.reduce_sum(next(it)[0]["features"][:1, :1])
        return total

    pipe = []
    for _ in range(args.repeats):
        it = iter(dataset("emozoo"))
        drain(it, tf.constant(1))
        t0 = time.perf_counter()
        drain(it, tf.constant(args.steps - 1)).numpy()
        pipe.append((time.perf_counter() - t0) / (args.steps - 1))
        del it
    step_ms = 1e3 * statistics.median(rec["emozoo"]["steps"]) / args.steps

    stats = {s: {k: {"min_ms": 1e3 * min(v), "median_ms": 1e3 * statistics.median(v), "max_ms": 1e3 * max(v),
                     "each_ms": [round(1e3 * t, 2) for t in v]} for k, v in r.items()} for s, r in rec.items()}
    res = {"benchmark": "time fit spends after its last batch: emozoo's datasets (autotuning off) vs autotuning on",
           "command": "python benchmarks/bench_fit_stall.py" + (" " + " ".join(argv or sys.argv[1:])).rstrip(),
           "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpu": cpu_name(), "cpu_count": os.cpu_count(),
           "tensorflow": tf.__version__, "keras": keras.__version__, "steps": args.steps, "repeats": args.repeats,
           "batch_size": args.batch_size, "compile_mode": args.compile, "compile": {"jit_compile": bool(models["emozoo"].jit_compile),
                                                      "steps_per_execution": int(models["emozoo"].steps_per_execution)},
           "load_average_1min": {"min": min(loads), "max": max(loads), "each": loads}, "sides": stats,
           "input_pipeline": {"ms_per_batch_median": 1e3 * statistics.median(pipe), "step_ms_median": step_ms,
                              "share_of_step": 1e3 * statistics.median(pipe) / step_ms}}
    print(f"load average (1 min) {min(loads):.2f}-{max(loads):.2f}; {args.repeats} interleaved fits of "
          f"{args.steps} steps per side")
    print(f"{'':10s} {'tail min':>9s} {'median':>8s} {'max':>8s}   {'fit-steps min':>13s} {'median':>8s}   "
          f"{'ms/step med':>11s}")
    for s, st in stats.items():
        print(f"{s:10s} {st['tail']['min_ms']:9.1f} {st['tail']['median_ms']:8.1f} {st['tail']['max_ms']:8.1f}   "
              f"{st['overhead']['min_ms']:13.1f} {st['overhead']['median_ms']:8.1f}   "
              f"{st['fit']['median_ms'] / args.steps:11.2f}")
    ip = res["input_pipeline"]
    print(f"input pipeline alone: {ip['ms_per_batch_median']:.3f} ms per batch = {100 * ip['share_of_step']:.1f} % "
          f"of a step ({step_ms:.2f} ms)")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
