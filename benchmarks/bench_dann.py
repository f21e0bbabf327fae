"""Training speed of emozoo's DANN against ADAPT's ``DANN`` (the TensorFlow/Keras peer) on identical work.

    python benchmarks/bench_dann.py [--batch-size 64] [--steps 50] [--repeats 5]

Both sides train the same network on the same utterance-level feature vectors: IS10 functionals
(1582) of ``tfrecords/emodb_is10`` (labelled source, 4 classes) and ``tfrecords/casia_is10``
(unlabelled target; random IS10-shaped vectors with ``--synthetic`` or when the stores are missing):

* encoder Dense(256, relu) -> Dense(100, relu); task Dense(4); discriminator Dense(100, relu) ->
  domain output (ADAPT: 1 sigmoid unit, source vs target; emozoo: 2 softmax logits, the same two
  domains, :class:`~emozoo.models.dann.DANNUtteranceModel` with ``num_domains=2``);
* lambda 1, Adam 1e-3, no L2, no dropout;
* per step ``--batch-size`` labelled source examples and as many target examples (ADAPT draws a
  source batch and a target batch; emozoo's batch holds both halves, target rows with label -1);
* ``--steps`` steps per epoch (``steps * batch_size`` source examples), ``--epochs`` epochs per
  timed ``fit``; both sides get ``tf.data`` datasets built once (ADAPT zips and batches its
  source and target datasets inside ``fit``, as its API does; emozoo takes the batches).

Timed: ``emozoo`` (default compile), ``emozoo_xla`` (``compile(jit_compile=True)``),
``emozoo_xla_spe`` (XLA and ``steps_per_execution = steps``: one epoch per call into the graph, the
same steps and batches) and ``adapt`` (ADAPT's default compile).

Each side is warmed up by one ``fit`` (tracing), then timed ``--repeats`` times, interleaved
(emozoo, ADAPT, emozoo, ...), on one pinned core with one TF thread. Reported: training (source)
examples per second, median over repeats, and the ratio emozoo / ADAPT. Writes
``benchmarks/results/dann_bench.json``. ADAPT is an optional ``bench`` extra
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


def emozoo_runner(xs, ys, xt, batch_size, epochs, jit_compile=False, steps_per_execution=1, seed=0):
    import keras
    import numpy as np
    import tensorflow as tf

    from emozoo.models.dann import DANNUtteranceModel

    keras.utils.set_random_seed(seed)
    m = DANNUtteranceModel(4, xs.shape[1], num_domains=2, encoder_units=(256, 100), domain_units=(100,),
                           grl_lambda=1.0, l2=0.0, dropout=0.0, learning_rate=1e-3)
    m.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit_compile, steps_per_execution=steps_per_execution)
    n = len(xs)
    # batch i = source rows [i*B, (i+1)*B) then target rows [i*B, (i+1)*B): one batch of 2B rows
    order = np.stack([np.arange(n).reshape(-1, batch_size), n + np.arange(n).reshape(-1, batch_size)], 1).ravel()
    x = np.concatenate([xs, xt])[order]
    y = np.concatenate([ys, np.full(n, -1, "int32")])[order]
    d = np.concatenate([np.zeros(n, "int32"), np.ones(n, "int32")])[order]
    ds = tf.data.Dataset.from_tensor_slices(({"features": x, "domain": d}, y)).batch(2 * batch_size).cache()

    def run():
        m.fit(ds, epochs=epochs, verbose=0)
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=3, help="epochs per timed fit (amortises fit's set-up)")
    ap.add_argument("--synthetic", action="store_true")
    ap.add_argument("--no-pin", action="store_true", help="do not pin to one core")
    ap.add_argument("--out", default=str(REPO / "benchmarks/results/dann_bench.json"))
    args = ap.parse_args(argv)
    from _machine import cpu_name, pin_one_core
    if not args.no_pin:
        pin_one_core()
    n = args.steps * args.batch_size
    xs, ys, xt, source = load_vectors(n, args.synthetic)
    E = args.epochs
    runners = {"emozoo": emozoo_runner(xs, ys, xt, args.batch_size, E),
               "emozoo_xla": emozoo_runner(xs, ys, xt, args.batch_size, E, jit_compile=True),
               "emozoo_xla_spe": emozoo_runner(xs, ys, xt, args.batch_size, E, jit_compile=True,
                                               steps_per_execution=args.steps)}
    try:
        import adapt  # noqa: F401
        runners["adapt"] = adapt_runner(xs, ys, xt, args.batch_size, E)
        adapt_version = __import__("importlib.metadata").metadata.version("adapt")
    except ImportError:
        adapt_version = None
        print("ADAPT is not installed (pip install adapt, or pip install -e .[bench]): timing emozoo only",
              file=sys.stderr)
    for run in runners.values():          # warm-up: tracing, dataset adapters
        run()
    times = {k: [] for k in runners}
    for _ in range(args.repeats):
        for k, run in runners.items():
            t0 = time.perf_counter()
            run()
            times[k].append(time.perf_counter() - t0)
    res = {"command": "python benchmarks/bench_dann.py" + "".join(
        f" --{k.replace('_', '-')} {v}" for k, v in (("batch_size", args.batch_size), ("steps", args.steps),
                                                      ("repeats", args.repeats), ("epochs", args.epochs))
        if v != ap.get_default(k)) + (" --synthetic" if args.synthetic else ""),
        "cpu": cpu_name(), "pinned_one_core": not args.no_pin, "data": source, "batch_size": args.batch_size,
        "steps": args.steps, "repeats": args.repeats, "adapt_version": adapt_version,
        "examples_per_fit": n, "seconds": times}
    for k, ts in times.items():
        res[f"{k}_examples_per_s_median"] = n * args.epochs / statistics.median(ts)
    print(f"{'':10s} {'median s/fit':>12s} {'examples/s':>12s}")
    for k, ts in times.items():
        print(f"{k:10s} {statistics.median(ts):12.3f} {n * args.epochs / statistics.median(ts):12.1f}")
    if "adapt" in times:
        for k in ("emozoo", "emozoo_xla", "emozoo_xla_spe"):
            res[f"ratio_{k}_over_adapt"] = statistics.median(times["adapt"]) / statistics.median(times[k])
            print(f"{k} / ADAPT examples per second: {res[f'ratio_{k}_over_adapt']:.2f}x (goal >= 2x)")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
