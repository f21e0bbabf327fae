"""Training speed of emozoo's DANN against ADAPT's ``DANN`` (the TensorFlow/Keras peer) on identical work.

    python benchmarks/bench_dann.py [--batch-size 64] [--steps 50] [--epochs 3] [--repeats 9] [--breakdown]

Both sides train the same network on the same utterance-level feature vectors: IS10 functionals
(1582) of ``tfrecords/emodb_is10`` (labelled source, 4 classes) and ``tfrecords/casia_is10``
(unlabelled target; random IS10-shaped vectors with ``--synthetic`` or when the stores are missing):

* encoder Dense(256, relu) -> Dense(100, relu); task Dense(4); discriminator Dense(100, relu) ->
  domain output (ADAPT: 1 sigmoid unit, source vs target; emozoo: 2 softmax logits, the same two
  domains, :class:`~emozoo.models.dann.DANNUtteranceModel` with ``num_domains=2``);
* lambda 1, Adam 1e-3, no L2, no dropout;
* per step 2 x ``--batch-size`` rows through the encoder: ADAPT draws a source batch and a target
  batch of ``--batch-size`` each (shuffled every epoch inside its ``fit``, as its API does);
  emozoo's trainer batch holds ``2 * batch-size`` rows of the shuffled source + target table
  (target rows with label -1), as ``python -m emozoo.train`` batches a DANN fold;
* ``--steps`` steps per epoch (``steps * batch_size`` source examples), ``--epochs`` epochs per
  timed ``fit``. No callbacks on either side (the trainer adds its model-selection and backup
  callbacks, once per epoch).

Timed, interleaved (emozoo, ..., ADAPT, emozoo, ...), on one pinned core with one TF thread:

* ``emozoo``: the default configuration of ``python -m emozoo.train`` for a DANN experiment
  (:func:`emozoo.train.trainer.compile_defaults` and the model's ``compile``: one epoch per graph
  call, Keras's "auto" XLA = none on CPU; the trainer's dataset, :func:`emozoo.train.trainer._dataset`);
* ``emozoo_xla``: the same with ``compile(jit_compile=True)`` (opt-in on CPU: it wins in the
  steady state timed here, not in a leave-one-speaker-out fold that compiles a new model);
* ``emozoo_old``: the defaults before issue 21 (a Python call per step, autotuned ``prefetch``
  with tf.data autotuning on: the fit-end stall included);
* ``adapt``: ADAPT's ``DANN`` with its default compile, as users get it.

Each side is warmed up by one ``fit`` (tracing, XLA compilation; its time is in the JSON), then
timed ``--repeats`` times. Reported: seconds per fit (min, median), training (source) examples
per second, the ratio emozoo / ADAPT per repeat (the two fits of one repeat ran side by side:
min, median, max over the repeats) and the 1-minute load average at every repeat. Writes
``benchmarks/results/dann_bench.json``; ``--breakdown`` adds the parts of one step
(:func:`step_breakdown`). ADAPT is an optional ``bench`` extra
(``pip install -e .[bench]``); without it the ADAPT side is skipped with a message.
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


def load_vectors(n: int, synthetic: bool, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    if not synthetic:
        try:
            from emozoo.train.data import load_table
            a = load_table(str(REPO / "tfrecords/emodb_is10"), "is10")
            b = load_table(str(REPO / "tfrecords/casia_is10"), "is10")
            ia, ib = rng.integers(0, len(a), n), rng.integers(0, len(b), n)
            mu, sd = a.x.mean(0), a.x.std(0) + 1e-6
            return ((a.x[ia] - mu) / sd).astype("float32"), a.y[ia].astype("int32"), \
                ((b.x[ib] - mu) / sd).astype("float32"), \
                "IS10 of tfrecords/emodb_is10 (source, labelled) and tfrecords/casia_is10 (target), z-normalised"
        except Exception as exc:  # noqa: BLE001 - fall back, say so
            print(f"stores unavailable ({exc}); using synthetic IS10-shaped vectors", file=sys.stderr)
    return (rng.normal(size=(n, 1582)).astype("float32"), rng.integers(0, 4, n).astype("int32"),
            rng.normal(size=(n, 1582)).astype("float32"), "synthetic N(0,1) IS10-shaped vectors")


def emozoo_runner(xs, ys, xt, batch_size, epochs, mode="default", seed=0):
    """``fit`` of emozoo's utterance DANN as ``python -m emozoo.train`` runs it (``mode="default"``):
    the trainer's dataset (:func:`emozoo.train.trainer._dataset`: a shuffled stream of ``epochs``
    epochs of ``2 * batch_size`` rows, source and target mixed, fixed prefetch, no autotuning),
    ``compile`` with the trainer's and the model's defaults (:func:`emozoo.train.trainer.compile_defaults`:
    XLA, one epoch per graph call) and ``fit(epochs, steps_per_epoch)``.

    ``mode="xla"``: the same with ``jit_compile=True`` (opt-in); ``mode="old"``: the defaults
    before issue 21 (``steps_per_execution`` 1, the trainer's dataset with ``prefetch(AUTOTUNE)``
    and tf.data autotuning on)."""
    import keras
    import numpy as np
    import tensorflow as tf

    from emozoo.experiments import TrainerConfig
    from emozoo.models.dann import DANNUtteranceModel
    from emozoo.train.trainer import _dataset, compile_defaults

    keras.utils.set_random_seed(seed)
    m = DANNUtteranceModel(4, xs.shape[1], num_domains=2, encoder_units=(256, 100), domain_units=(100,),
                           grl_lambda=1.0, l2=0.0, dropout=0.0, learning_rate=1e-3)
    n = len(xs)
    steps = n // batch_size
    x = {"features": np.concatenate([xs, xt]), "domain": np.concatenate([np.zeros(n, "int32"), np.ones(n, "int32")])}
    y = np.concatenate([ys, np.full(n, -1, "int32")])
    kw = compile_defaults(m, TrainerConfig(batch_size=2 * batch_size), steps)
    if mode == "xla":
        kw["jit_compile"] = True
    if mode == "old":
        kw = {}
    m.compile(optimizer=keras.optimizers.Adam(1e-3), **kw)

    def dataset():
        ds = _dataset(x, y, None, 2 * batch_size, shuffle=True, seed=seed, epochs=epochs)
        if mode == "old":       # what _dataset returned before: autotuned prefetch, autotuning on
            opts = tf.data.Options()
            opts.autotune.enabled = True
            ds = ds.with_options(opts).prefetch(tf.data.AUTOTUNE)
        return ds

    def run():
        m.fit(dataset(), epochs=epochs, steps_per_epoch=steps, verbose=0, shuffle=False)
    run.compile_args = {"jit_compile": bool(m.jit_compile), "steps_per_execution": int(m.steps_per_execution)}
    return run


def adapt_runner(xs, ys, xt, batch_size, epochs, seed=0):
    import keras
    import tensorflow as tf
    from adapt.feature_based import DANN

    keras.utils.set_random_seed(seed)
    enc = keras.Sequential([keras.Input((xs.shape[1],)), keras.layers.Dense(256, activation="relu"),
                            keras.layers.Dense(100, activation="relu")])
    task = keras.Sequential([keras.Input((100,)), keras.layers.Dense(4)])
    disc = keras.Sequential([keras.Input((100,)), keras.layers.Dense(100, activation="relu"),
                             keras.layers.Dense(1, activation="sigmoid")])
    m = DANN(enc, task, disc, lambda_=1.0, optimizer=keras.optimizers.Adam(1e-3),
             loss=keras.losses.CategoricalCrossentropy(from_logits=True), random_state=seed, verbose=0)
    # ADAPT reshapes the task output to ys: one-hot labels; it zips and batches the datasets itself
    src = tf.data.Dataset.from_tensor_slices((xs, keras.utils.to_categorical(ys, 4).astype("float32"))).cache()
    tgt = tf.data.Dataset.from_tensor_slices(xt).cache()

    def run():
        m.fit(src, Xt=tgt, epochs=epochs, batch_size=batch_size, verbose=0)
    return run


def step_breakdown(batch_size: int, steps: int, repeats: int) -> dict:
    """Where the time of one emozoo DANN step goes: ``steps`` calls of growing parts of the train
    step on one fixed batch (2 x ``batch_size`` rows), each as a ``tf.function`` with and without
    XLA, interleaved ``repeats`` times; ms per step (wall and process CPU), min and median.

    Parts: ``matmul_floor`` (the two 1582 x 256 products of the first layer: forward ``x W`` and
    the kernel gradient ``x^T dZ``), ``forward`` (losses), ``fwd_bwd`` (+ gradients),
    ``fwd_bwd_adam`` (+ Adam on the 10 weight tensors), ``train_step`` (+ the 5 metrics: the
    whole step), then ``fit`` paths over ``steps`` batches: a Python call per step (Keras's
    default compile, with and without XLA) and one call per epoch (the trainer's default)."""
    import keras
    import numpy as np
    import tensorflow as tf

    from emozoo.models.dann import DANNUtteranceModel

    rng = np.random.default_rng(0)
    b = batch_size
    x = rng.normal(size=(2 * b, 1582)).astype("float32")
    y = np.concatenate([rng.integers(0, 4, b), np.full(b, -1)]).astype("int32")
    d = np.concatenate([np.zeros(b), np.ones(b)]).astype("int32")
    data = ({"features": tf.constant(x), "domain": tf.constant(d)}, tf.constant(y))

    def model(**compile_kw):
        keras.utils.set_random_seed(0)
        m = DANNUtteranceModel(4, 1582, num_domains=2, encoder_units=(256, 100), domain_units=(100,), l2=0.0,
                               dropout=0.0)
        m.compile(optimizer=keras.optimizers.Adam(1e-3), **compile_kw)
        m.optimizer.build(m.trainable_variables)
        return m

    m = model()

    def grads(data):
        inputs, yy = m._unpack(data)
        with tf.GradientTape() as tape:
            l_y, l_d, _ = m._dann_losses(inputs, yy, True)
            total = l_y + l_d
        return tape.gradient(total, m.trainable_variables)

    parts = {
        "matmul_floor": lambda data: tf.matmul(data[0]["features"], tf.matmul(
            data[0]["features"], m.encoder.layers[0].kernel), transpose_a=True),
        "forward": lambda data: tf.add_n(m._dann_losses(*m._unpack(data), True)[:2]),
        "fwd_bwd": grads,
        "fwd_bwd_adam": lambda data: m.optimizer.apply_gradients(zip(grads(data), m.trainable_variables)),
        "train_step": m.train_step,
    }
    fns = {f"{k} xla={jit}": tf.function(f, jit_compile=jit) for k, f in parts.items() for jit in (False, True)}
    ds = tf.data.Dataset.from_tensors(data).repeat(steps).cache()
    from emozoo.train.data import finalize
    ds = finalize(ds)
    fits = {"fit, a call per step, no XLA (old default)": model(jit_compile=False),
            "fit, a call per step, XLA": model(jit_compile=True),
            "fit, one call per epoch, no XLA (trainer default on CPU)": model(jit_compile=False,
                                                                              steps_per_execution=steps),
            "fit, one call per epoch, XLA": model(jit_compile=True, steps_per_execution=steps)}
    for f in fns.values():
        f(data)
    for f in fits.values():
        f.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)
    wall = {k: [] for k in [*fns, *fits]}
    cpu = {k: [] for k in wall}
    for _ in range(repeats):
        for k, f in fns.items():
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(steps):
                out = f(data)
            tf.nest.map_structure(lambda t: getattr(t, "numpy", lambda: t)(), out)
            wall[k].append((time.perf_counter() - t0) / steps)
            cpu[k].append((time.process_time() - c0) / steps)
        for k, f in fits.items():
            t0, c0 = time.perf_counter(), time.process_time()
            f.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)
            wall[k].append((time.perf_counter() - t0) / steps)
            cpu[k].append((time.process_time() - c0) / steps)
    out = {k: {"wall_ms_min": 1e3 * min(wall[k]), "wall_ms_median": 1e3 * statistics.median(wall[k]),
               "cpu_ms_min": 1e3 * min(cpu[k]), "cpu_ms_median": 1e3 * statistics.median(cpu[k])} for k in wall}
    print(f"step breakdown, ms per step of {2 * b} rows ({repeats} interleaved repeats of {steps} steps):")
    print(f"{'':48s} {'wall min':>8s} {'median':>7s} {'cpu min':>8s} {'median':>7s}")
    for k, v in out.items():
        print(f"{k:48s} {v['wall_ms_min']:8.2f} {v['wall_ms_median']:7.2f} {v['cpu_ms_min']:8.2f} "
              f"{v['cpu_ms_median']:7.2f}")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--epochs", type=int, default=3, help="epochs per timed fit (amortises fit's set-up)")
    ap.add_argument("--synthetic", action="store_true")
    ap.add_argument("--no-pin", action="store_true", help="do not pin to one core")
    ap.add_argument("--breakdown", action="store_true",
                    help="also time the parts of one step (matmuls, forward, backward, Adam, metrics, fit paths)")
    ap.add_argument("--out", default=str(REPO / "benchmarks/results/dann_bench.json"))
    args = ap.parse_args(argv)
    from _machine import cpu_name, pin_one_core
    if not args.no_pin:
        pin_one_core()
    breakdown = None
    if args.breakdown:
        load0 = os.getloadavg()[0]
        breakdown = {"parts": step_breakdown(args.batch_size, args.steps, args.repeats),
                     "load_average_1min": [load0, os.getloadavg()[0]]}
    n = args.steps * args.batch_size
    xs, ys, xt, source = load_vectors(n, args.synthetic)
    E = args.epochs
    runners = {"emozoo": emozoo_runner(xs, ys, xt, args.batch_size, E),
               "emozoo_xla": emozoo_runner(xs, ys, xt, args.batch_size, E, mode="xla"),
               "emozoo_old": emozoo_runner(xs, ys, xt, args.batch_size, E, mode="old")}
    try:
        import adapt  # noqa: F401
        runners["adapt"] = adapt_runner(xs, ys, xt, args.batch_size, E)
        adapt_version = __import__("importlib.metadata").metadata.version("adapt")
    except ImportError:
        adapt_version = None
        print("ADAPT is not installed (pip install adapt, or pip install -e .[bench]): timing emozoo only",
              file=sys.stderr)
    warm = {}
    for k, run in runners.items():          # warm-up: tracing, XLA compilation, dataset adapters
        t0 = time.perf_counter()
        run()
        warm[k] = time.perf_counter() - t0
    times = {k: [] for k in runners}
    cpu = {k: [] for k in runners}
    loads = []
    for _ in range(args.repeats):            # interleaved: emozoo, ..., ADAPT, emozoo, ...
        loads.append(os.getloadavg()[0])
        for k, run in runners.items():
            t0, c0 = time.perf_counter(), time.process_time()
            run()
            times[k].append(time.perf_counter() - t0)
            cpu[k].append(time.process_time() - c0)
    loads.append(os.getloadavg()[0])
    res = {"command": "python benchmarks/bench_dann.py" + "".join(
        f" --{k.replace('_', '-')} {v}" for k, v in (("batch_size", args.batch_size), ("steps", args.steps),
                                                      ("repeats", args.repeats), ("epochs", args.epochs))
        if v != ap.get_default(k)) + (" --synthetic" if args.synthetic else "") + (" --breakdown" if args.breakdown else ""),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpu": cpu_name(), "pinned_one_core": not args.no_pin, "data": source, "batch_size": args.batch_size,
        "steps": args.steps, "epochs_per_fit": E, "repeats": args.repeats, "adapt_version": adapt_version,
        "examples_per_fit": n * E, "load_average_1min": {"min": min(loads), "max": max(loads), "each": loads},
        "compile_args": {k: getattr(r, "compile_args", None) for k, r in runners.items()},
        "first_fit_seconds": warm, "seconds": times, "cpu_seconds": cpu, "step_breakdown": breakdown}
    print(f"load average (1 min) {min(loads):.2f}-{max(loads):.2f} over the run")
    print(f"{'':14s} {'min s/fit':>10s} {'median':>8s} {'ms/step med':>11s} {'examples/s med':>14s}")
    for k, ts in times.items():
        med = statistics.median(ts)
        res[f"{k}_examples_per_s_median"] = n * E / med
        print(f"{k:14s} {min(ts):10.3f} {med:8.3f} {1e3 * med / (args.steps * E):11.2f} {n * E / med:14.1f}")
    print("process CPU seconds per fit (the work, whatever the other jobs of the machine do):")
    for k, ts in cpu.items():
        print(f"{k:14s} {min(ts):10.3f} {statistics.median(ts):8.3f}")
    if "adapt" in times:
        for what, tt in (("wall", times), ("cpu", cpu)):
            for k in [k for k in tt if k != "adapt"]:
                paired = [a / b for a, b in zip(tt["adapt"], tt[k])]     # the same repeat, side by side
                res[f"ratio_{k}_over_adapt" + ("_cpu" if what == "cpu" else "")] = {
                    "min": min(paired), "median": statistics.median(paired), "max": max(paired), "each": paired,
                    "of_medians": statistics.median(tt["adapt"]) / statistics.median(tt[k])}
                print(f"{what:4s} {k} / ADAPT examples per second, per repeat: min {min(paired):.2f}x, median "
                      f"{statistics.median(paired):.2f}x, max {max(paired):.2f}x (goal >= 2x in every repeat)")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
