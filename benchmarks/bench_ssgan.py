"""Speed of the SSGAN training step (Algorithm 1) and of inference, on one CPU core.

    python benchmarks/bench_ssgan.py            # ~2 min; writes benchmarks/results/ssgan_bench.json

Times (median of ``--repeats`` timed blocks of ``--steps`` steps, after a warm-up that traces the
graph) on synthetic batches of the real shapes, with one TF thread pinned to one core:

* ``ssgan_cpu_conv``: the CPU preset the tables use: 64x64 pooled Fbank crops, D 16-32-64,
  G 64-32-16, batch 32 labelled + 32 unlabelled + 64 fake;
* ``fsbase_cpu_conv``: the same D as a plain classifier (32 labelled);
* ``ssgan_paper_conv``: the paper-sized network (128x128, D 128-256-512-1024, G 512-256-128-64,
  batch 64 + 64 + 128): the reason the tables use the CPU preset;
* ``mssgan_dense``: the multimodal dense variant (MFCC 259 + AU 35);
* ``inference_cpu_conv``: D forward on 256 crops (clips/s).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from _machine import cpu_name, pin_one_core  # noqa: E402


def _time(fn, steps, repeats):
    fn()                                              # warm-up: tracing
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(steps):
            fn()
        times.append((time.perf_counter() - t) / steps)
    times.sort()
    return times[len(times) // 2]


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-paper", action="store_true", help="skip the paper-sized network (slow on CPU)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "ssgan_bench.json"))
    a = ap.parse_args(argv)
    tf = pin_one_core()
    import numpy as np

    from emozoo.models.ssgan import SemiSupervisedGAN
    from emozoo.models.ssgan.ssgan_model import CPU_CONV, PAPER_CONV
    rng = np.random.default_rng(0)
    cases = {
        "ssgan_cpu_conv": ("ssgan", [{"name": "fbank", "shape": (64, 64), **CPU_CONV}], 32),
        "fsbase_cpu_conv": ("fsbase", [{"name": "fbank", "shape": (64, 64), **CPU_CONV}], 32),
        "mssgan_dense": ("ssgan", [{"name": "mfcc", "shape": (259,)}, {"name": "au", "shape": (35,)}], 32),
    }
    if not a.skip_paper:
        cases["ssgan_paper_conv"] = ("ssgan", [{"name": "fbank", "shape": (128, 128), **PAPER_CONV}], 64)
    res = {"cpu": cpu_name(), "threads": 1, "tensorflow": tf.__version__, "steps": a.steps, "repeats": a.repeats,
           "command": "python benchmarks/bench_ssgan.py", "cases": {}}
    for name, (mode, mods, b) in cases.items():
        m = SemiSupervisedGAN(4, mods, mode=mode)
        m.compile()
        xs = [rng.normal(size=(b, *md["shape"])).astype(np.float32) for md in mods]
        x = xs[0] if len(xs) == 1 else tuple(xs)
        batch = {"x": x, "y": np.arange(b) % 4, **({"u": x} if mode == "ssgan" else {})}
        step = tf.function(m.train_step)
        sec = _time(lambda: step(batch), a.steps, a.repeats)
        res["cases"][name] = {"seconds_per_step": round(sec, 4), "batch_labelled": b,
                              "batch_unlabelled": b if mode == "ssgan" else 0,
                              "parameters_D": int(sum(np.prod(v.shape) for v in m.discriminator_variables)),
                              "parameters_G": int(sum(np.prod(v.shape) for v in m.generator_variables))}
        print(f"{name}: {1000 * sec:.1f} ms/step", flush=True)
        if name == "fsbase_cpu_conv":
            big = rng.normal(size=(256, 64, 64)).astype(np.float32)
            fwd = tf.function(lambda v: m(v, training=False))
            s = _time(lambda: fwd(big), 2, a.repeats)
            res["cases"]["inference_cpu_conv"] = {"clips_per_second": round(256 / s, 1), "batch": 256}
            print(f"inference_cpu_conv: {256 / s:.0f} clips/s", flush=True)
    import os
    res["load_average_1_5_15"] = [round(v, 2) for v in os.getloadavg()]   # the machine is shared: context
    res["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
