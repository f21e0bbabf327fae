"""Face backbone speed and memory: images/s of the face MobileNet and the emotion CNN.

    python benchmarks/backbones_face.py [--repeats 3] [--threads 1,2] [--batches 1,32]

Measures the graph-compiled forward pass (``FaceBackboneEmbedder.embed_crops``: preprocessing
+ Keras model in one ``tf.function``) on uint8 crops already in memory (224x224 RGB for
``face_mobilenet``, 64x64 grey for ``face_emotion``); MTCNN detection is not included
(``benchmarks/bench_face.py`` measures it). TensorFlow's thread pools are fixed when it starts,
so every (backbone, threads) measurement runs in its own process: the process pins itself to
``threads`` cores, sets TF's intra-op threads to ``threads`` (inter-op 1), loads the weights,
warms up, then times each batch size for about ``--images`` images. The processes of the
different (backbone, threads) pairs are interleaved over ``--repeats`` rounds, so machine load
spreads over all of them; each row reports the min and median over the rounds and the
process's peak resident memory (``ru_maxrss``).

``run(args) -> list[dict]`` (one row per backbone x threads x batch) is what
``benchmarks/bench_backbones.py`` imports; run alone, it prints a table and writes
``benchmarks/results/backbones_face.json``.
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
BACKBONES = ("face_mobilenet", "face_emotion")


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--face-backbones", default=",".join(BACKBONES), help="comma-separated: face_mobilenet,face_emotion")
    p.add_argument("--repeats", type=int, default=3, help="interleaved rounds")
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    p.add_argument("--batches", default="1,32", help="comma-separated batch sizes")
    p.add_argument("--images", type=int, default=64, help="images timed per batch size and round")
    return p


def _worker(backbone: str, threads: int, batches: list, images: int) -> dict:
    """In a fresh process: {batch: seconds per image}, peak RSS and load time."""
    import resource

    if hasattr(os, "sched_setaffinity"):
        allowed = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, set(allowed[:threads]))
    import numpy as np
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    sys.path.insert(0, str(REPO))
    from emozoo.backbones.face.extractor import FaceBackboneEmbedder

    t0 = time.perf_counter()
    emb = FaceBackboneEmbedder(backbone, batch_size=max(batches))
    load_s = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    out = {"load_s": load_s, "sec_per_image": {}}
    for batch in batches:
        crops = rng.integers(0, 256, (batch, emb.size, emb.size, emb.channels), dtype=np.uint8)
        emb.embed_crops(crops)                                     # trace + warm-up at this shape
        calls = max(1, images // batch)
        t = time.perf_counter()
        for _ in range(calls):
            emb.embed_crops(crops)
        out["sec_per_image"][str(batch)] = (time.perf_counter() - t) / (calls * batch)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return out


def run(args=None) -> list:
    """Rows ``{backbone, threads, batch, images_per_s_median, ms_per_image_min/median, peak_rss_mb, ...}``."""
    defaults = add_arguments(argparse.ArgumentParser()).parse_args([])
    if args is None or isinstance(args, list):
        args = add_arguments(argparse.ArgumentParser()).parse_args(args or [])
    get = lambda k: getattr(args, k, getattr(defaults, k))            # noqa: E731  (a shared Namespace)
    backbones = [b for b in str(get("face_backbones")).split(",") if b]
    threads = [int(t) for t in str(get("threads")).split(",")]
    batches = [int(b) for b in str(get("batches")).split(",")]
    samples: dict = {}
    for _ in range(int(get("repeats"))):
        for backbone in backbones:
            for n in threads:
                cmd = [sys.executable, __file__, "--worker", backbone, "--threads", str(n),
                       "--batches", ",".join(map(str, batches)), "--images", str(get("images"))]
                res = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
                if res.returncode != 0:
                    raise RuntimeError(f"{backbone} x{n} threads failed:\n{res.stderr[-2000:]}")
                samples.setdefault((backbone, n), []).append(json.loads(res.stdout.strip().splitlines()[-1]))
    rows = []
    for (backbone, n), runs in samples.items():
        for batch in batches:
            secs = [r["sec_per_image"][str(batch)] for r in runs]
            rows.append({"bench": "backbones_face", "backbone": backbone, "threads": n, "batch": batch,
                         "repeats": len(runs), "images_per_s_median": round(1.0 / statistics.median(secs), 1),
                         "ms_per_image_min": round(1000 * min(secs), 2),
                         "ms_per_image_median": round(1000 * statistics.median(secs), 2),
                         "peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs), 1),
                         "load_s_median": round(statistics.median(r["load_s"] for r in runs), 2)})
    return rows


def main(argv=None):
    p = add_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    p.add_argument("--worker", default="", help=argparse.SUPPRESS)
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "backbones_face.json"))
    args = p.parse_args(argv)
    if args.worker:
        res = _worker(args.worker, int(args.threads), [int(b) for b in args.batches.split(",")], args.images)
        print(json.dumps(res))
        return
    sys.path.insert(0, str(REPO))
    from benchmarks._machine import cpu_name

    load_start = os.getloadavg()
    rows = run(args)
    meta = {"cpu": cpu_name(), "cpu_count": os.cpu_count(), "load_avg_start": [round(v, 2) for v in load_start],
            "load_avg_end": [round(v, 2) for v in os.getloadavg()],
            "command": "python benchmarks/backbones_face.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"rows": rows, "machine": meta}, indent=1))
    print(f"{'backbone':<16}{'threads':>8}{'batch':>7}{'img/s (median)':>16}{'ms/img min':>12}"
          f"{'ms/img median':>15}{'peak RSS MB':>13}")
    for r in rows:
        print(f"{r['backbone']:<16}{r['threads']:>8}{r['batch']:>7}{r['images_per_s_median']:>16}"
              f"{r['ms_per_image_min']:>12}{r['ms_per_image_median']:>15}{r['peak_rss_mb']:>13}")
    print(f"wrote {args.out}  (load average {meta['load_avg_start']} -> {meta['load_avg_end']})")


if __name__ == "__main__":
    main()
