"""Streaming input vs an in-memory dataset: step time, the input pipeline's share, and memory (issue 19).

    python benchmarks/bench_input.py [--work /tmp/emozoo_bench_input] [--repeats 3] [--steps 300] [--save]
    python benchmarks/bench_input.py --profile        # where the streaming pipeline's time goes

Writes two synthetic stores with emozoo's writer (:func:`emozoo.data.tfrecord.write_store`) under
``--work`` (outside the repository; creation resumes: every part of 100k / 10k examples is one
store split written atomically, and a complete part is skipped):

* ``utt``: ``--examples`` (1M) utterance-level examples of 88 float32 values (eGeMAPS-sized),
  100 speakers, 4 classes, 200 shards (~560 MB);
* ``frames``: ``--frame-examples`` (50k) examples of ``[100 frames, 40 mel]`` float32 (a fixed crop),
  50 speakers, 50 shards (~810 MB).

The fold trained is "all speakers but the first tenth" (the membership filter drops the rest in
the graph: compact ``corpus/speaker`` keys, :class:`emozoo.train.streaming.Membership`). Two sides,
each in its own subprocess (so one side's arrays never count in the other's RSS), interleaved
over ``--repeats`` (the order alternates per repeat):

* ``cached``: the fold's rows as numpy arrays (cached once as ``.npy`` under ``--work``) through the
  trainer's in-memory dataset (:func:`emozoo.train.trainer._dataset`: a permutation per epoch, gathers);
* ``stream``: :func:`emozoo.train.streaming.stream_fold_dataset` over the shards (its defaults).

Models: ``utt`` trains the trainer's MLP (``BaselineClassifier``, 88-256-128-4, batch 256); ``frames``
a small Conv1D(64, 5, stride 2) + GRU(64) + Dense(4) (batch 64). Each run is one ``fit`` (Keras's
default compile, one call per step) of ``--chunk`` warm-up steps, then ``--steps`` steps timed in
chunks of ``--chunk``. Every worker is pinned to one core with one TensorFlow thread
(``benchmarks/_machine.py``), so the pipeline's work is not hidden on a spare core: the share
``(t_stream - t_cached) / t_stream`` is its CPU cost per step. Reported per side: step time (min and
median over the chunks of all repeats), process CPU time per step, RSS when training starts, at
the middle and at the end of the timed steps, peak RSS (``VmHWM``), and the load average.
``--save`` writes ``benchmarks/results/bench_input.json``.

``--profile`` drains the pipeline alone (no model; one core), in ms per batch of 256 rows, for
variants: the default; its stages (reading only; reading + parsing; + the membership filter);
the per-clip key table instead of speaker keys; a per-row ``Dataset.shuffle`` buffer; the
per-record recipe (interleave records, ``parse_single_example``, ``filter``, row shuffle,
``batch``); ``cycle_length=1``; one parse call at a time; a window of 2048 records.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

CLASSES = ("neutral", "happy", "angry", "sad")
KINDS = {
    # name: feature, shape, speakers, examples per part, shards per part, batch size
    "utt": dict(feature="egemaps", shape=(88,), speakers=100, part=100_000, shards=20, batch=256),
    "frames": dict(feature="mel", shape=(100, 40), speakers=50, part=10_000, shards=10, batch=64),
}


# -- the synthetic stores ----------------------------------------------------------------------------

def _examples(kind: str, part: int, n: int):
    import numpy as np

    k = KINDS[kind]
    rng = np.random.default_rng(1000 + part)
    dim = int(np.prod(k["shape"]))
    centres = np.random.default_rng(7).normal(0, 1.0, (len(CLASSES), dim)).astype(np.float32)
    for start in range(0, n, 1000):
        m = min(1000, n - start)
        labels = rng.integers(0, len(CLASSES), m)
        spk = rng.integers(0, k["speakers"], m)
        x = centres[labels] + rng.normal(0, 1.0, (m, dim)).astype(np.float32)
        for i in range(m):
            idx = part * k["part"] + start + i
            yield {"clip_id": f"c{idx:07d}", "corpus": "synth", "speaker": f"spk{spk[i]:03d}",
                   "culture": "synthetic", "split": "", "emotion": CLASSES[labels[i]], "label": int(labels[i]),
                   "dialogue_id": "", "turn_index": -1, k["feature"]: x[i].reshape(k["shape"])}


def build_store(kind: str, total: int, work: Path, log=print) -> Path:
    """Write (or complete) the ``kind`` store of ``total`` examples; returns its folder."""
    from emozoo.data.tfrecord import FeatureSpec, StoreSpec, load_spec, write_store

    k = KINDS[kind]
    store = work / f"{kind}_{total}"
    parts = -(-total // k["part"])
    for p in range(parts):
        split = f"part{p:03d}"
        n = min(k["part"], total - p * k["part"])
        try:
            done = load_spec(store).counts.get(split) == n
        except Exception:  # noqa: BLE001 - no spec yet
            done = False
        if done:
            continue
        t0 = time.time()
        spec = StoreSpec.with_meta([FeatureSpec(k["feature"], "float32", k["shape"])], classes=CLASSES,
                                   label_set="4class", description=f"bench_input synthetic {kind}")
        write_store(_examples(kind, p, n), store, spec, split=split, num_shards=k["shards"], num_examples=n)
        log(f"[bench_input] {store.name}: {split} ({n} examples) written in {time.time() - t0:.0f} s")
    return store


def fold_members(store: Path, feature: str):
    """The benchmark fold (all speakers but the first tenth) as a Membership, and its rows' count."""
    import numpy as np

    from emozoo.train.streaming import Membership, load_meta

    table = load_meta(store, feature)
    speakers = np.unique(table.meta["speaker"])
    held = set(speakers[: max(1, len(speakers) // 10)].tolist())
    train = table.take(np.flatnonzero(~np.isin(table.meta["speaker"], list(held))))
    return Membership.of(train, table), train


def cache_arrays(kind: str, store: Path, work: Path) -> tuple[Path, Path]:
    """The fold's rows as .npy (x, y), read once with the streaming reader in store order."""
    import numpy as np

    from emozoo.train.streaming import READ_BATCH, stream_fold_dataset

    xp, yp = work / f"{store.name}_x.npy", work / f"{store.name}_y.npy"
    if xp.exists() and yp.exists():
        return xp, yp
    members, _ = fold_members(store, KINDS[kind]["feature"])
    xs, ys = [], []
    for x, y in stream_fold_dataset(store, KINDS[kind]["feature"], members=members, batch_size=READ_BATCH,
                                    shuffle=False, shuffle_buffer=READ_BATCH, prefetch=0).as_numpy_iterator():
        xs.append(x)
        ys.append(y)
    np.save(str(xp) + ".tmp.npy", np.concatenate(xs))
    np.save(str(yp) + ".tmp.npy", np.concatenate(ys))
    os.replace(str(xp) + ".tmp.npy", xp)
    os.replace(str(yp) + ".tmp.npy", yp)
    return xp, yp


# -- one side, in its own process --------------------------------------------------------------------

def _status(key: str) -> float:
    """``VmRSS`` / ``VmHWM`` of this process in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker(args) -> dict:
    import resource

    from _machine import pin_one_core

    if args.cores == 1:
        tf = pin_one_core()
    else:
        import tensorflow as tf
    import keras
    import numpy as np

    k = KINDS[args.kind]
    store = Path(args.store)
    bs = k["batch"]
    rss = {"before_data": _status("VmRSS")}
    chunks = args.steps // args.chunk
    epochs_needed = lambda n: -(-(1 + chunks) * args.chunk * bs // n) + 1  # noqa: E731 - data epochs to cover
    if args.variant == "cached":
        from emozoo.train.trainer import _dataset
        x, y = np.load(args.x_npy), np.load(args.y_npy)
        n = len(y)
        ds = _dataset(x, y, None, bs, shuffle=True, seed=0, epochs=epochs_needed(n))
    else:
        from emozoo.train.streaming import stream_fold_dataset
        members, train = fold_members(store, k["feature"])
        n = len(train)
        del train
        ds = stream_fold_dataset(store, k["feature"], members=members, batch_size=bs, seed=0, epochs=epochs_needed(n))
    rss["data_ready"] = _status("VmRSS")
    keras.utils.set_random_seed(0)
    if args.kind == "utt":
        from emozoo.models.baseline.baseline_classifier import BaselineClassifier
        model = BaselineClassifier(num_classes=4, input_dim=k["shape"][0], generator_units=(256, 128),
                                   classifier_units=(), dropout=0.0)
    else:
        model = keras.Sequential([keras.Input(k["shape"]), keras.layers.Conv1D(64, 5, strides=2, activation="relu"),
                                  keras.layers.GRU(64), keras.layers.Dense(4)])
        model.compile(optimizer=keras.optimizers.Adam(1e-3),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    if args.kind == "utt":
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
    marks = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            ru = resource.getrusage(resource.RUSAGE_SELF)
            marks.append((time.perf_counter(), ru.ru_utime + ru.ru_stime, _status("VmRSS")))

    # one fit, one iterator (``steps_per_epoch`` keeps it across epochs, as the trainer's fit does):
    # epoch 0 is the warm-up (tracing, the first reads and windows), then ``chunks`` timed epochs
    model.fit(ds, epochs=1 + chunks, steps_per_epoch=args.chunk, verbose=0, callbacks=[Clock()])
    step = [(b[0] - a[0]) / args.chunk for a, b in zip(marks, marks[1:])]
    cpu = [(b[1] - a[1]) / args.chunk for a, b in zip(marks, marks[1:])]
    rss.update(train_start=marks[0][2], train_middle=marks[len(marks) // 2][2], train_end=marks[-1][2],
               peak=_status("VmHWM"))
    return {"kind": args.kind, "variant": args.variant, "rows": int(n), "batch": bs, "step_s": step,
            "cpu_s": cpu, "rss_mib": {k2: round(v, 1) for k2, v in rss.items()},
            "load": [round(v, 2) for v in os.getloadavg()]}


# -- the pipeline alone ---------------------------------------------------------------------------------

def profile(args) -> dict:
    from _machine import pin_one_core

    tf = pin_one_core()
    import numpy as np

    from emozoo.data.tfrecord import load_spec, parse_fn, shard_paths
    from emozoo.train.data import finalize
    from emozoo.train.streaming import Membership, stream_fold_dataset

    kind = "utt"
    k = KINDS[kind]
    store = Path(args.store)
    members, train = fold_members(store, k["feature"])
    clip = Membership.of(train)
    del train
    bs = k["batch"]

    def per_record():
        """The textbook pipeline: interleave, parse one record at a time, filter, row shuffle, batch."""
        spec = load_spec(store)
        parse = parse_fn(spec)
        table = members.table()
        files = tf.random.experimental.stateless_shuffle(tf.constant(shard_paths(store)), seed=[0, 0])
        ds = tf.data.Dataset.from_tensor_slices(files).interleave(
            tf.data.TFRecordDataset, cycle_length=4, num_parallel_calls=4, deterministic=True)
        ds = ds.map(parse, num_parallel_calls=2, deterministic=True)
        ds = ds.filter(lambda e: (table.lookup(tf.strings.join([e["corpus"], e["speaker"]], "/")) >= 0)
                       & (e["label"] >= 0))
        ds = ds.map(lambda e: (e[k["feature"]], e["label"])).shuffle(8192, seed=0).batch(bs)
        return finalize(ds)

    block = 8192 // 4
    desc = {k["feature"]: tf.io.FixedLenFeature(k["shape"], tf.float32), "label": tf.io.FixedLenFeature((), tf.int64),
            "corpus": tf.io.FixedLenFeature((), tf.string), "speaker": tf.io.FixedLenFeature((), tf.string)}
    table = members.table()

    def stage(upto: str):
        """The default pipeline's reading up to ``upto`` (read, parse, filter), block by block, cut into
        batches of ``bs`` rows by ``rebatch`` so every variant's unit is one batch (no window join)."""
        files = tf.random.experimental.stateless_shuffle(tf.constant(shard_paths(store)), seed=[0, 0])
        ds = tf.data.Dataset.from_tensor_slices(files).interleave(
            lambda f: tf.data.TFRecordDataset(f).batch(block), cycle_length=4)     # blocks, as the default
        if upto in ("parse", "filter"):
            def work(s):
                ex = tf.io.parse_example(s, desc)
                if upto == "filter":
                    keep = (table.lookup(tf.strings.join([ex["corpus"], ex["speaker"]], "/")) >= 0) & (ex["label"] >= 0)
                    return tf.boolean_mask(ex[k["feature"]], keep), tf.boolean_mask(ex["label"], keep)
                return ex[k["feature"]], ex["label"]
            ds = ds.map(work, num_parallel_calls=2, deterministic=True)
        return finalize(ds.rebatch(bs))

    variants = {
        "default (window of 8192 records from 4 shards, speaker keys, 2 parse calls)":
            lambda: stream_fold_dataset(store, k["feature"], members=members, batch_size=bs, seed=0),
        "  stage: read the records (interleave of blocks, rebatch)": lambda: stage("read"),
        "  stage: read + parse_example": lambda: stage("parse"),
        "  stage: read + parse + membership filter (no permutation)": lambda: stage("filter"),
        "clip keys (one table entry per training clip)":
            lambda: stream_fold_dataset(store, k["feature"], members=clip, batch_size=bs, seed=0),
        "row shuffle (Dataset.shuffle(8192) per row)":
            lambda: stream_fold_dataset(store, k["feature"], members=members, batch_size=bs, seed=0, shuffle="rows"),
        "per record: interleave records, parse_single_example, filter, row shuffle, batch": per_record,
        "cycle_length 1": lambda: stream_fold_dataset(store, k["feature"], members=members, batch_size=bs, seed=0,
                                                      cycle_length=1),
        "1 parse call at a time": lambda: stream_fold_dataset(store, k["feature"], members=members, batch_size=bs,
                                                              seed=0, parse_calls=1),
        "window of 2048 records": lambda: stream_fold_dataset(store, k["feature"], members=members, batch_size=bs,
                                                              seed=0, shuffle_buffer=2048),
    }
    out = {}
    for name, make in variants.items():
        times = []
        for _ in range(args.repeats):
            it = iter(make())
            for _ in range(20):
                next(it)
            t0 = time.perf_counter()
            for _ in range(args.steps):
                next(it)
            times.append((time.perf_counter() - t0) / args.steps)
            del it
        out[name] = {"batch_ms_min": round(1e3 * min(times), 3), "batch_ms_median": round(1e3 * statistics.median(times), 3)}
        print(f"  {name}: {out[name]['batch_ms_min']:.3f} ms / batch of {bs} (median {out[name]['batch_ms_median']:.3f})",
              flush=True)
    return {"batch": bs, "variants": out, "load": [round(v, 2) for v in os.getloadavg()]}


# -- driver ----------------------------------------------------------------------------------------------

def _run_child(argv: list[str]) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "-1", "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, __file__, *argv], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"bench_input worker {argv} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _summary(runs: list[dict]) -> dict:
    step = [s for r in runs for s in r["step_s"]]
    cpu = [s for r in runs for s in r["cpu_s"]]
    rss = {key: [r["rss_mib"][key] for r in runs] for key in runs[0]["rss_mib"]}
    return {"rows": runs[0]["rows"], "batch": runs[0]["batch"],
            "step_ms_min": round(1e3 * min(step), 3), "step_ms_median": round(1e3 * statistics.median(step), 3),
            "cpu_ms_per_step_median": round(1e3 * statistics.median(cpu), 3),
            "rss_mib_median": {key: round(statistics.median(v), 1) for key, v in rss.items()},
            "load": [r["load"] for r in runs]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="/tmp/emozoo_bench_input", help="where the stores go (never the repo)")
    ap.add_argument("--examples", type=int, default=1_000_000)
    ap.add_argument("--frame-examples", type=int, default=50_000)
    ap.add_argument("--kinds", default="utt,frames")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--chunk", type=int, default=50)
    ap.add_argument("--cores", type=int, default=1, choices=(1, 2), help="1: pinned to one core, one TF thread")
    ap.add_argument("--profile", action="store_true", help="the pipeline alone, variants (utt store)")
    ap.add_argument("--build-only", action="store_true", help="write the stores and stop")
    ap.add_argument("--save", action="store_true")
    ap.add_argument("--out", default=str(REPO / "benchmarks/results/bench_input.json"))
    # worker mode (internal)
    ap.add_argument("--worker", choices=("cached", "stream", "profile"))
    ap.add_argument("--kind", default="utt")
    ap.add_argument("--store")
    ap.add_argument("--x-npy")
    ap.add_argument("--y-npy")
    args = ap.parse_args(argv)

    if args.worker:
        args.variant = args.worker
        res = profile(args) if args.worker == "profile" else worker(args)
        print(json.dumps(res))
        return 0

    from _machine import cpu_name

    work = Path(args.work).resolve()
    if REPO in work.parents or work == REPO:
        raise SystemExit(f"--work {work} is inside the repository; use a folder outside it")
    work.mkdir(parents=True, exist_ok=True)
    kinds = [k for k in args.kinds.split(",") if k]
    totals = {"utt": args.examples, "frames": args.frame_examples}
    stores = {k: build_store(k, totals[k], work) for k in set(kinds) | ({"utt"} if args.profile else set())}
    if args.build_only:
        return 0
    common = ["--steps", str(args.steps), "--chunk", str(args.chunk),
              "--cores", str(args.cores), "--repeats", str(args.repeats)]
    if args.profile:
        print(f"[bench_input] pipeline alone, {stores['utt'].name}, one core; load {os.getloadavg()}", flush=True)
        res = _run_child(["--worker", "profile", "--store", str(stores["utt"]), *common])
        for name, v in res["variants"].items():
            print(f"  {name}: {v['batch_ms_min']:.3f} ms / batch (median {v['batch_ms_median']:.3f})")
        result = {"profile": res}
    else:
        result = {}
        for kind in kinds:
            xp, yp = cache_arrays(kind, stores[kind], work)
            runs = {"cached": [], "stream": []}
            for r in range(args.repeats):
                for variant in (("cached", "stream") if r % 2 == 0 else ("stream", "cached")):
                    res = _run_child(["--worker", variant, "--kind", kind, "--store", str(stores[kind]),
                                      "--x-npy", str(xp), "--y-npy", str(yp), *common])
                    runs[variant].append(res)
                    print(f"[bench_input] {kind} {variant} repeat {r}: step median "
                          f"{1e3 * statistics.median(res['step_s']):.3f} ms, RSS {res['rss_mib']}, load {res['load']}",
                          flush=True)
            summ = {v: _summary(rs) for v, rs in runs.items()}
            c, s = summ["cached"], summ["stream"]
            summ["input_share_median"] = round((s["step_ms_median"] - c["step_ms_median"]) / s["step_ms_median"], 4)
            summ["input_share_min"] = round((s["step_ms_min"] - c["step_ms_min"]) / s["step_ms_min"], 4)
            summ["input_share_cpu"] = round((s["cpu_ms_per_step_median"] - c["cpu_ms_per_step_median"])
                                            / s["cpu_ms_per_step_median"], 4)
            summ["store"] = {"examples": totals[kind], "feature": KINDS[kind]["feature"],
                             "shape": list(KINDS[kind]["shape"]),
                             "bytes_on_disk": sum(p.stat().st_size for p in stores[kind].glob("*.tfrecord"))}
            summ["runs"] = runs
            result[kind] = summ
            print(f"[bench_input] {kind}: step cached {c['step_ms_median']:.3f} ms (min {c['step_ms_min']:.3f}), "
                  f"stream {s['step_ms_median']:.3f} ms (min {s['step_ms_min']:.3f}); input share "
                  f"{100 * summ['input_share_median']:.1f} % (min-based {100 * summ['input_share_min']:.1f} %, "
                  f"CPU {100 * summ['input_share_cpu']:.1f} %); RSS stream start/middle/end/peak "
                  f"{s['rss_mib_median']['train_start']}/{s['rss_mib_median']['train_middle']}/"
                  f"{s['rss_mib_median']['train_end']}/{s['rss_mib_median']['peak']} MiB, cached peak "
                  f"{c['rss_mib_median']['peak']} MiB", flush=True)
    result.update(cpu=cpu_name(), cores=args.cores, steps=args.steps, chunk=args.chunk,
                  repeats=args.repeats, load_end=[round(v, 2) for v in os.getloadavg()],
                  command="python benchmarks/bench_input.py " + " ".join(argv if argv is not None else sys.argv[1:]))
    if args.save:
        out = Path(args.out)
        if args.profile:
            out = out.with_name(out.stem + "_profile.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"[bench_input] wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
