"""Whisper-base encoder: the int8 default path vs CTranslate2 int8 / fp32, and the options that lost (issue 21).

    python benchmarks/bench_whisper_int8.py --repeats 5 --save            # speed + cosine table
    python benchmarks/bench_whisper_int8.py --profile --save              # where the time of a window goes
    python benchmarks/bench_whisper_int8.py --repeats 7 --sides default,litert-int8,keras-fp32,ct2-int8,ct2-fp32 \
        --save --out benchmarks/results/bench_whisper_int8_default.json       # the default path only

Speed. Seconds per clip (batch 1) on ``--windows`` (2, 8, 30 s) x ``--threads`` (1, 2), one
fresh process per thread count (pinned to that many cores; TF intra-op = threads, inter-op 1;
LiteRT/XNNPACK and CTranslate2 ``intra_threads`` = threads). Sides:

* ``default``: what ``get_extractor("whisper_base")`` runs now, **from the waveform** (log-Mel
  ``tf.function`` + the LiteRT dynamic-range int8 encoder on XNNPACK, its float islands
  included, + the mean over positions);
* ``litert-int8`` / ``litert-mixed`` / ``litert-fp32``: the LiteRT encoder alone (precision
  ``int8``: int8 weights but the stem and block 1's q/k/v in float32; ``mixed``: the stem and
  blocks 1-2 in float32; float32 weights);
* ``litert-int8-full``: every matmul and convolution int8 (no float islands: format revision 1,
  the default before the islands);
* ``keras-fp32``: the Keras port as a ``tf.function`` (the old default path, ``precision="float32"``);
* ``keras-xla-fp32``: the same with ``jit_compile=True``;
* ``keras-xla-bf16``: option (c), the port built under ``keras`` policy ``mixed_bfloat16``
  (oneDNN/XLA bf16 matmuls on AVX512_BF16), XLA;
* ``keras-int8``: option (b), the port after ``keras.Model.quantize("int8")`` (int8 weights and
  per-row dynamic int8 activations in the Dense/EinsumDense layers, TF int8 matmul), ``tf.function``;
  it is over 10x slower than fp32, so it is timed only up to ``--slow-max-window`` (8 s);
* ``ct2-int8`` / ``ct2-fp32``: CTranslate2 ``Whisper.encode`` (bench-only import).

Every side but ``default`` gets the same precomputed log-Mel, i.e. the encoder alone. One untimed
warm-up round (tracing, XLA compiles, interpreter resize) and ``--repeats`` rounds that
interleave every side on every window. Rows: min and median seconds, the median's ratio to
CTranslate2 int8 and fp32 on the same window, and for the Keras/LiteRT sides the pooled
features' cosine to ``keras-fp32`` per layer (min over layers) on the same clip. The load
average is printed before and after.

Profile (``--profile``, 1 thread, ``--profile-window`` 8 s): the time of the parts of a window,
each part run alone on its real input (log-Mel front end; conv stem + positions; one block's
attention half ``x + MHA(LN(x))``; one block's MLP half ``x + MLP(LN(x))``; final norm), as
the Keras ``tf.function`` (fp32) and as LiteRT sub-models converted the same way as the encoder
(int8), interleaved; block parts are multiplied by the number of layers in the shares.
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
REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "bench_whisper_int8.json"
PROFILE_RESULTS = REPO / "benchmarks" / "results" / "bench_whisper_int8_profile.json"
sys.path.insert(0, str(REPO / "benchmarks"))
from bench_backbones import _clips  # noqa: E402  (the same deterministic speech-like clips)


def _parser():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--windows", default="2,8,30")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--preset", default="whisper_base")
    p.add_argument("--sides", default="default,litert-int8,litert-fp32,keras-fp32,keras-xla-fp32,keras-xla-bf16,"
                                      "keras-int8,ct2-int8,ct2-fp32")
    p.add_argument("--slow-max-window", type=float, default=8.0, help="longest window for keras-int8")
    p.add_argument("--profile", action="store_true", help="time the parts of a window instead")
    p.add_argument("--profile-window", type=float, default=8.0)
    p.add_argument("--save", action="store_true")
    p.add_argument("--out", help="JSON to write (default benchmarks/results/bench_whisper_int8[_profile].json)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    return p


def _setup(threads: int):
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:threads]))
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    return tf


def _cos_rows(a, b):
    import numpy as np
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def _build_sides(cfg, tf):
    """name -> (kind, callable): kind "wave" takes the waveform [1, n], "mel" the log-Mel [1, F, 80]
    and "ct2" the transposed log-Mel; every callable returns pooled [L + 1, d] (ct2: None)."""
    import keras
    import numpy as np

    from emozoo.backbones.whisper.backbone import WhisperBackbone
    from emozoo.backbones.whisper.extractor import WhisperPooler
    from emozoo.backbones.whisper.lite import LiteEncoder, cached_model, convert_encoder
    threads, want = int(cfg["threads"]), cfg["sides"]
    bb = WhisperBackbone.from_preset(cfg["preset"])
    sides, notes = {}, {}
    sig = [tf.TensorSpec([1, None, bb.encoder.n_mels], tf.float32)]

    def pooled_fn(enc, jit):
        @tf.function(input_signature=sig, jit_compile=jit)
        def f(mel):
            return tf.reduce_mean(tf.cast(enc(mel)[0], tf.float32), axis=1)
        return lambda mel: f(tf.constant(mel)).numpy()

    if "default" in want:
        pooler = WhisperPooler(bb, precision="int8", threads=threads)
        sides["default"] = ("wave", lambda w: pooler(w[0]))
    for prec in ("int8", "mixed", "fp32", "int8-full"):
        if f"litert-{prec}" in want:
            blob = (convert_encoder(bb.encoder) if prec == "int8-full"
                    else cached_model(bb, "float32" if prec == "fp32" else prec))
            lite = LiteEncoder(blob, threads=threads)
            sides[f"litert-{prec}"] = ("mel", lambda mel, lite=lite: lite(mel)[0].mean(1))
    if "keras-fp32" in want:
        sides["keras-fp32"] = ("mel", pooled_fn(bb.encoder, False))
    if "keras-xla-fp32" in want:
        sides["keras-xla-fp32"] = ("mel", pooled_fn(bb.encoder, True))
    if "keras-xla-bf16" in want:
        try:
            keras.mixed_precision.set_global_policy("mixed_bfloat16")
            bf = WhisperBackbone.from_preset(cfg["preset"])
        finally:
            keras.mixed_precision.set_global_policy("float32")
        sides["keras-xla-bf16"] = ("mel", pooled_fn(bf.encoder, True))
    if "keras-int8" in want:
        q = WhisperBackbone.from_preset(cfg["preset"])
        q(tf.zeros([1, 4000]))                    # quantize() needs a built model
        try:
            q.quantize("int8")
            sides["keras-int8"] = ("mel", pooled_fn(q.encoder, False))
        except Exception as exc:  # noqa: BLE001 -- reported as a note, the side is left out
            notes["keras-int8"] = f"{type(exc).__name__}: {exc}"[:300]
    try:
        import ctranslate2
        from emozoo import weights
        folder = str(weights.path(cfg["preset"]))
        for ctype, name in (("int8", "ct2-int8"), ("float32", "ct2-fp32")):
            if name in want:
                m = ctranslate2.models.Whisper(folder, device="cpu", compute_type=ctype, intra_threads=threads,
                                               inter_threads=1)

                def encode(melT, m=m):
                    np.asarray(m.encode(ctranslate2.StorageView.from_array(melT), to_cpu=True))
                sides[name] = ("ct2", encode)
        notes["ctranslate2"] = ctranslate2.__version__
    except ImportError:
        notes["ctranslate2"] = "not installed: ct2 sides left out"
    return bb, sides, notes


def _speed_worker(cfg) -> dict:
    threads = int(cfg["threads"])
    tf = _setup(threads)
    import numpy as np

    from emozoo.backbones.whisper.frontend import log_mel_spectrogram
    bb, sides, notes = _build_sides(cfg, tf)
    clips = {}
    for window in cfg["windows"]:
        wave = _clips(window, 1)
        mel = log_mel_spectrogram(wave).numpy()
        clips[window] = {"wave": wave, "mel": mel, "melT": np.ascontiguousarray(mel.transpose(0, 2, 1))}
    # keras-int8 is >10x slower than fp32 (TF's int8 matmul path): timed up to --slow-max-window only
    times = {(w, s): [] for w in clips for s in sides if s != "keras-int8" or w <= cfg["slow_max_window"]}
    pooled = {}
    for rnd in range(int(cfg["repeats"]) + 1):
        for window, c in clips.items():
            for name, (kind, fn) in sides.items():
                if (window, name) not in times:
                    continue
                arg = c["wave"] if kind == "wave" else c["mel"] if kind == "mel" else c["melT"]
                t0 = time.perf_counter()
                out = fn(arg)
                dt = time.perf_counter() - t0
                if rnd:
                    times[(window, name)].append(dt)
                elif out is not None:
                    pooled[(window, name)] = np.asarray(out)
    rows = []
    for (window, name), ts in times.items():
        med = statistics.median(ts)
        row = {"side": name, "window_s": window, "threads": threads, "s_min": round(min(ts), 4),
               "s_median": round(med, 4), "repeats": len(ts)}
        for ref in ("ct2-int8", "ct2-fp32"):
            if (window, ref) in times:
                r = times[(window, ref)]
                row[f"vs_{ref}_median"] = round(med / statistics.median(r), 2)
                row[f"vs_{ref}_min"] = round(min(ts) / min(r), 2)
        if (window, name) in pooled and (window, "keras-fp32") in pooled:
            cos = _cos_rows(pooled[(window, name)], pooled[(window, "keras-fp32")])
            row["cos_to_fp32_min_layer"] = round(float(cos.min()), 5)
        rows.append(row)
    return {"rows": rows, "notes": notes, "tf": tf.__version__}


def _profile_worker(cfg) -> dict:
    tf = _setup(1)
    import numpy as np

    from emozoo.backbones.whisper.backbone import WhisperBackbone
    from emozoo.backbones.whisper.frontend import log_mel_spectrogram
    from emozoo.backbones.whisper.lite import LiteEncoder, cached_model
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2
    bb = WhisperBackbone.from_preset(cfg["preset"])
    enc = bb.encoder
    d = enc.hidden_dim
    wave = _clips(cfg["window"], 1)
    mel = log_mel_spectrogram(wave).numpy()
    blk = enc.blocks[0]

    def stem(mel):
        x = tf.nn.gelu(enc.conv1(tf.pad(mel, [[0, 0], [1, 1], [0, 0]])), approximate=False)
        x = tf.nn.gelu(enc.conv2(tf.pad(x, [[0, 0], [1, 1], [0, 0]])), approximate=False)
        return x + enc.positions[:tf.shape(x)[1]][None]

    def attention(x):
        h = blk.attention_norm(x)
        return x + blk.attention(h, h)

    def mlp(x):
        return x + blk.mlp_out(tf.nn.gelu(blk.mlp_in(blk.mlp_norm(x)), approximate=False))

    def final_norm(x):
        return enc.final_norm(x)

    x_in = stem(tf.constant(mel)).numpy()
    parts = {"stem": (stem, [1, None, enc.n_mels], mel, 1), "attention": (attention, [1, None, d], x_in, enc.num_layers),
             "mlp": (mlp, [1, None, d], x_in, enc.num_layers), "final_norm": (final_norm, [1, None, d], x_in, 1)}
    front = tf.function(bb.audio_converter, input_signature=[tf.TensorSpec([None, None], tf.float32)])
    runners = {("log_mel", "tf.function"): (lambda: front(tf.constant(wave)).numpy(), 1)}
    for name, (fn, shape, arg, mult) in parts.items():
        f = tf.function(fn, input_signature=[tf.TensorSpec(shape, tf.float32)])
        runners[(name, "keras-fp32")] = (lambda f=f, arg=arg: f(tf.constant(arg)).numpy(), mult)
        conv = tf.lite.TFLiteConverter.from_concrete_functions(
            [convert_variables_to_constants_v2(f.get_concrete_function())])
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        lite = LiteEncoder(conv.convert(), threads=1)
        runners[(name, "litert-int8")] = (lambda lite=lite, arg=arg: lite(arg), mult)
    whole_lite = LiteEncoder(cached_model(bb, "int8"), threads=1)
    whole_keras = tf.function(enc, input_signature=[tf.TensorSpec([1, None, enc.n_mels], tf.float32)])
    runners[("encoder", "keras-fp32")] = (lambda: whole_keras(tf.constant(mel)).numpy(), 1)
    runners[("encoder", "litert-int8")] = (lambda: whole_lite(mel), 1)
    times = {k: [] for k in runners}
    for rnd in range(int(cfg["repeats"]) + 1):
        for k, (fn, _) in runners.items():
            t0 = time.perf_counter()
            fn()
            if rnd:
                times[k].append(time.perf_counter() - t0)
    rows = []
    for runtime in ("keras-fp32", "litert-int8"):
        total = sum(statistics.median(times[(p, runtime)]) * runners[(p, runtime)][1] for p in parts)
        front_s = statistics.median(times[("log_mel", "tf.function")])
        whole = statistics.median(times[("encoder", runtime)])
        for p in ("log_mel",) + tuple(parts) + ("encoder",):
            key = (p, "tf.function") if p == "log_mel" else (p, runtime)
            med = statistics.median(times[key])
            mult = runners[key][1]
            rows.append({"runtime": runtime, "part": p, "calls_per_window": mult, "s_median_one": round(med, 5),
                         "s_min_one": round(min(times[key]), 5), "s_per_window": round(med * mult, 4),
                         "share_of_parts_plus_log_mel": round(med * mult / (total + front_s), 3)
                         if p != "encoder" else None})
        rows.append({"runtime": runtime, "part": "sum of parts (no log_mel) / whole encoder",
                     "s_per_window": round(total, 4), "ratio": round(total / whole, 2)})
    return {"rows": rows, "window_s": cfg["window"], "tf": tf.__version__}


def _run_worker(cfg) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(cfg)], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise SystemExit(f"worker {cfg} failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][7:])


def _table(rows):
    keys = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in rows:
        print("| " + " | ".join("" if r.get(k) is None else str(r.get(k)) for k in keys) + " |")


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.worker:
        cfg = json.loads(args.worker)
        out = _profile_worker(cfg) if cfg.get("profile") else _speed_worker(cfg)
        print("RESULT " + json.dumps(out), flush=True)
        return
    load_before, t0 = os.getloadavg(), time.time()
    if args.profile:
        res = _run_worker({"profile": True, "preset": args.preset, "window": args.profile_window,
                           "repeats": args.repeats})
        rows, extra, target = res["rows"], {"window_s": res["window_s"]}, PROFILE_RESULTS
    else:
        rows, extra, target = [], {"notes": {}}, RESULTS
        for threads in [int(t) for t in args.threads.split(",") if t]:
            res = _run_worker({"threads": threads, "preset": args.preset, "repeats": args.repeats,
                               "windows": [float(w) for w in args.windows.split(",") if w],
                               "sides": [s for s in args.sides.split(",") if s],
                               "slow_max_window": args.slow_max_window})
            rows += res["rows"]
            extra["notes"].update(res["notes"])
        rows.sort(key=lambda r: (r["threads"], r["window_s"]))
    load_after = os.getloadavg()
    _table(rows)
    print(f"\nload average before {load_before[0]:.2f}, after {load_after[0]:.2f}; {time.time() - t0:.0f} s; "
          f"{extra}")
    if args.save:
        from _machine import save_results
        save_results(Path(args.out) if args.out else target, "benchmarks/bench_whisper_int8.py", argv, load_before,
                     t0, rows, **extra)


if __name__ == "__main__":
    main()
