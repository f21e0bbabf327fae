"""Speed and memory of the pretrained backbones (issue 18, section 4).

    python benchmarks/bench_backbones.py [--only whisper,text,face] [--repeats 2] [--save]
    python benchmarks/bench_backbones.py --only whisper --whisper-full --repeats 3   # adds batch 16 x 30 s

Sections: ``whisper`` (here), ``text`` (``benchmarks/backbones_text.py``) and ``face``
(``benchmarks/backbones_face.py``); each of the two others exposes ``run(args) -> list[dict]``
and, optionally, ``add_arguments(parser)``; they run when present. The rows are printed as one
table per section; ``--save`` writes them, with the machine and the load average, to
``benchmarks/results/bench_backbones.json``.

Whisper section. The Whisper-base encoder (:class:`emozoo.backbones.whisper.WhisperBackbone`,
weights from ``emozoo.weights``) in seconds per clip, for ``--whisper-windows`` (2, 8, 30 s)
x ``--whisper-batches`` (1, 16; batch 16 x 30 s only with ``--whisper-full``) x
``--whisper-threads`` (1, 2) x runtime:

* ``keras-eager``: the Keras model called eagerly (batch 1 only: it is the slow reference);
* ``keras-function``: ``tf.function`` (one trace for any batch/length);
* ``keras-xla``: ``tf.function(jit_compile=True)`` (one XLA compile per shape, in the warm-up);
* ``ct2-fp32`` / ``ct2-int8``: CTranslate2 ``Whisper.encode`` on the same clips (its log-Mel
  input computed beforehand, so CT2 is timed on the encoder alone while the Keras rows include
  the front end), ``intra_threads`` = threads. CTranslate2 is a bench-only optional import.

TensorFlow's thread pools are fixed when it starts, so each thread count runs in a fresh
process (pinned to that many cores; TF intra-op = threads, inter-op 1). Inside it, one
untimed warm-up round (tracing / XLA compile, reported as ``first_s``) is followed by
``--repeats`` rounds that interleave every (window, batch, runtime) config, so machine load
spreads over all of them; rows report the min and median seconds per clip (call time / batch),
the ratio of the median to CT2 fp32's on the same config, and the peak resident memory during
the config's calls (``VmHWM`` reset before each call via ``/proc/self/clear_refs``; the process
peak, i.e. TF + both models + the batch, not the model alone).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "bench_backbones.json"
SECTIONS = ("whisper", "text", "face")
SR = 16000


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], add_help=True)
    p.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections: whisper,text,face")
    p.add_argument("--repeats", type=int, default=2, help="timed, interleaved rounds (after one warm-up)")
    p.add_argument("--save", action="store_true", help=f"write {RESULTS.relative_to(REPO)}")
    p.add_argument("--whisper-windows", default="2,8,30", help="clip lengths in seconds")
    p.add_argument("--whisper-batches", default="1,16")
    p.add_argument("--whisper-threads", default="1,2")
    p.add_argument("--whisper-full", action="store_true", help="also batch 16 at 30 s (~1 min a call on 2 cores)")
    p.add_argument("--whisper-preset", default="whisper_base")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    return p


# -- Whisper worker (one process per thread count) ---------------------------------------------

def _vm(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _clips(seconds: float, batch: int):
    """Deterministic speech-like clips (a gliding harmonic tone, 4 Hz envelope, a little noise)."""
    import numpy as np
    rng = np.random.default_rng(int(seconds * 100) + batch)
    t = np.arange(int(seconds * SR)) / SR
    out = []
    for i in range(batch):
        f0 = 100.0 + 10 * i + 30.0 * np.sin(2 * np.pi * 0.3 * t)
        phase = 2 * np.pi * np.cumsum(f0) / SR
        voiced = sum(np.sin(k * phase) / k for k in range(1, 8))
        env = 0.5 * (1 - np.cos(2 * np.pi * 4.0 * t + i))
        out.append(0.1 * env * voiced + 0.003 * rng.standard_normal(t.size))
    return np.stack(out).astype(np.float32)


def _whisper_worker(cfg: dict) -> list:
    threads = int(cfg["threads"])
    if hasattr(os, "sched_setaffinity"):
        allowed = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, set(allowed[:threads]))
    import numpy as np
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from emozoo import weights
    from emozoo.backbones.whisper.backbone import WhisperBackbone
    from emozoo.backbones.whisper.frontend import log_mel_spectrogram

    backbone = WhisperBackbone.from_preset(cfg["preset"])
    sig = [tf.TensorSpec([None, None], tf.float32)]
    keras_runtimes = {"keras-eager": backbone,
                      "keras-function": tf.function(backbone, input_signature=sig),
                      "keras-xla": tf.function(backbone, input_signature=sig, jit_compile=True)}
    ct2_runtimes = {}
    try:
        import ctranslate2
        folder = str(weights.path(cfg["preset"]))
        for ctype in ("float32", "int8"):
            ct2_runtimes[f"ct2-{'fp32' if ctype == 'float32' else ctype}"] = ctranslate2.models.Whisper(
                folder, device="cpu", compute_type=ctype, intra_threads=threads, inter_threads=1)
        ct2_version = ctranslate2.__version__
    except ImportError:
        ct2_version = None
    configs = []
    for window in cfg["windows"]:
        for batch in cfg["batches"]:
            if batch > 1 and window >= 30 and not cfg["full"]:
                continue
            wave = _clips(window, batch)
            mel = np.ascontiguousarray(log_mel_spectrogram(wave).numpy().transpose(0, 2, 1))
            for name in list(keras_runtimes) + list(ct2_runtimes):
                if name == "keras-eager" and batch > 1:
                    continue
                configs.append({"runtime": name, "window_s": window, "batch": batch, "wave": wave, "mel": mel,
                                "times": [], "peak_mb": 0.0, "first_s": None})

    def call(c):
        if c["runtime"].startswith("keras"):
            out = keras_runtimes[c["runtime"]](tf.constant(c["wave"]))
            return np.asarray(out[0, -1, 0, 0])
        sv = ctranslate2.StorageView.from_array(c["mel"])
        return np.asarray(ct2_runtimes[c["runtime"]].encode(sv, to_cpu=True))[0, 0, 0]

    can_reset = _reset_peak()
    for rnd in range(int(cfg["repeats"]) + 1):
        for c in configs:
            _reset_peak()
            t0 = time.perf_counter()
            call(c)
            dt = time.perf_counter() - t0
            c["peak_mb"] = max(c["peak_mb"], _vm("VmHWM"))
            if rnd == 0:
                c["first_s"] = dt
            else:
                c["times"].append(dt / c["batch"])
    rows = []
    ref = {(c["window_s"], c["batch"]): statistics.median(c["times"]) for c in configs if c["runtime"] == "ct2-fp32"}
    for c in configs:
        med = statistics.median(c["times"])
        base = ref.get((c["window_s"], c["batch"]))
        rows.append({"section": "whisper", "model": cfg["preset"], "runtime": c["runtime"], "window_s": c["window_s"],
                     "batch": c["batch"], "threads": threads, "s_per_clip_min": round(min(c["times"]), 4),
                     "s_per_clip_median": round(med, 4), "first_s": round(c["first_s"], 3),
                     "vs_ct2_fp32": round(med / base, 2) if base else None,
                     "peak_rss_mb": round(c["peak_mb"], 1) if can_reset else None,
                     "repeats": len(c["times"]), "tf": tf.__version__, "ctranslate2": ct2_version})
    return rows


def run_whisper(args) -> list:
    rows = []
    for threads in [int(t) for t in args.whisper_threads.split(",") if t]:
        cfg = {"threads": threads, "preset": args.whisper_preset, "repeats": args.repeats, "full": args.whisper_full,
               "windows": [float(w) for w in args.whisper_windows.split(",") if w],
               "batches": [int(b) for b in args.whisper_batches.split(",") if b]}
        proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(cfg)], capture_output=True,
                              text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("ROWS ")]
        if proc.returncode or not lines:
            raise SystemExit(f"whisper worker (threads={threads}) failed:\n{proc.stderr[-3000:]}")
        rows += json.loads(lines[-1][5:])
    return rows


# -- the other sections --------------------------------------------------------------------------

def _load_section(name: str):
    path = REPO / "benchmarks" / f"backbones_{name}.py"
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location(f"backbones_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    spec.loader.exec_module(mod)
    return mod


def run_section(name: str, args, rest: list) -> list:
    mod = _load_section(name)
    if mod is None:
        print(f"[{name}] benchmarks/backbones_{name}.py not present: section skipped")
        return []
    if hasattr(mod, "add_arguments"):
        sub = mod.add_arguments(argparse.ArgumentParser(add_help=False))
        extra = ["--repeats", str(args.repeats)] if any(a.dest == "repeats" for a in sub._actions) else []
        sargs, _ = sub.parse_known_args(extra + rest)
    else:
        sargs = argparse.Namespace(repeats=args.repeats)
    rows = mod.run(sargs)
    for r in rows:
        r.setdefault("section", name)
    return rows


def print_table(rows: list) -> None:
    by_section: dict = {}
    for r in rows:
        by_section.setdefault(r.get("section", "?"), []).append(r)
    for section, rs in by_section.items():
        keys = [k for k in rs[0] if k not in ("section", "tf", "ctranslate2")]
        for r in rs[1:]:
            keys += [k for k in r if k not in keys and k not in ("section", "tf", "ctranslate2")]
        print(f"\n## {section}")
        print("| " + " | ".join(keys) + " |")
        print("|" + "---|" * len(keys))
        for r in rs:
            print("| " + " | ".join("" if r.get(k) is None else str(r.get(k)) for k in keys) + " |")


def main(argv=None):
    args, rest = _parser().parse_known_args(argv)
    if args.worker:
        print("ROWS " + json.dumps(_whisper_worker(json.loads(args.worker))), flush=True)
        return
    only = [s for s in args.only.split(",") if s]
    unknown = sorted(set(only) - set(SECTIONS))
    if unknown:
        raise SystemExit(f"--only: unknown section(s) {unknown}; known: {', '.join(SECTIONS)}")
    load_before = os.getloadavg()
    t0 = time.time()
    rows = []
    for section in only:
        rows += run_whisper(args) if section == "whisper" else run_section(section, args, rest)
    load_after = os.getloadavg()
    print_table(rows)
    print(f"\nload average before {load_before[0]:.2f}, after {load_after[0]:.2f}; {time.time() - t0:.0f} s")
    if args.save:
        sys.path.insert(0, str(REPO / "benchmarks"))
        from _machine import save_results
        save_results(RESULTS, "benchmarks/bench_backbones.py", argv, load_before, t0, rows)


if __name__ == "__main__":
    main()
