"""Speed of the Beam extract runner (DirectRunner, multi-processing) with 1 and 2 workers.

    EMOZOO_DATA_DIR=../shared/data python benchmarks/bench_beam.py [--clips 200] [--feature is10] \
        [--workers 1,2] [--repeats 1]

Extracts ``--feature`` of the first ``--clips`` clips (by clip id) of ``--corpus``
into a fresh temporary store with ``emozoo.extract.extract_corpus(..., runner=
"DirectRunner", workers=N)`` (Beam's FnApiRunner, ``direct_running_mode=
multi_processing``, ``direct_num_workers=N``), for each N of ``--workers``, and
once with the in-process runner as reference. Clips per second = clips / wall
seconds of the whole extraction (worker start-up, decoding, extraction, writing
the shards and spec; validation off), median over ``--repeats`` (interleaved). Each run's
store is checked byte-identical to the in-process one. With ``--small K`` each
configuration is also timed on the first K clips: that time is the fixed cost
(worker start-up, building the extractors), and ``(clips - K) / (t - t_K)`` the
steady rate once the workers run. The in-process runner builds its extractor
once per process, so only its first run pays that set-up. Prints a Markdown table
and writes ``benchmarks/results/bench_beam.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


from _machine import cpu_name as _cpu_name  # noqa: E402  (benchmarks/ is on sys.path when run as a script)


def _shards(store: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(store.glob("*.tfrecord"))}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", default="emodb")
    p.add_argument("--clips", type=int, default=200)
    p.add_argument("--feature", default="is10")
    p.add_argument("--workers", default="1,2", help="comma-separated Beam worker counts")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--small", type=int, default=8,
                   help="also time a run on this many clips (0: skip): its time is the fixed cost (worker "
                        "start-up, extractor set-up), and (clips - small) / (t - t_small) the steady rate")
    p.add_argument("--examples-per-shard", type=int, default=256)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "bench_beam.json"))
    args = p.parse_args(argv)
    workers = [int(w) for w in args.workers.split(",") if w.strip()]

    import apache_beam

    from emozoo.data.corpora import load_manifest
    from emozoo.data.manifest import Manifest
    from emozoo.extract import extract_corpus

    full = load_manifest(args.corpus)
    manifest = Manifest(sorted(full, key=lambda r: r.clip_id)[:args.clips], name=full.name)
    small = Manifest(list(manifest)[:args.small], name=full.name) if args.small else None
    n = len(manifest)
    load_before = os.getloadavg()

    def run(runner, w, folder, clips=manifest):
        t0 = time.perf_counter()
        (res,) = extract_corpus(clips, [args.feature], corpus=args.corpus, out_root=folder,
                                examples_per_shard=args.examples_per_shard, validate=False, progress=False,
                                raise_on_failures=False, runner=runner, workers=w)
        return time.perf_counter() - t0, res

    results = {}
    with tempfile.TemporaryDirectory(prefix="bench_beam_") as tmp:
        configs = [("in-process", None, 1)] + [(f"beam-{w}", "DirectRunner", w) for w in workers]
        reference = None
        runs = {name: [] for name, _, _ in configs}
        for r in range(args.repeats):            # repeats interleaved: the shared machine's load drifts
            for name, runner, w in configs:
                load = os.getloadavg()[0]
                sec, res = run(runner, w, Path(tmp) / f"{name}-{r}")
                shards = _shards(res.store)
                if reference is None:
                    reference = shards
                elif shards != reference:
                    raise SystemExit(f"{name}: store differs from the in-process one")
                entry = {"seconds": sec, "loadavg_1min_before": load, "examples": res.total,
                         "failures": len(res.failures)}
                if small is not None:
                    entry["small_seconds"], _ = run(runner, w, Path(tmp) / f"{name}-{r}-small", small)
                runs[name].append(entry)
                print(f"{name} repeat {r}: {res.total} examples in {sec:.1f} s ({n / sec:.2f} clips/s), "
                      f"{len(small or [])} clips in {entry.get('small_seconds', float('nan')):.1f} s, "
                      f"load {load:.1f}", flush=True)
        for name, runner, w in configs:
            times = [x["seconds"] for x in runs[name]]
            sec = statistics.median(times)
            results[name] = {"runner": runner or "in-process", "workers": w, "seconds": sec,
                             "clips_per_s": n / sec, "runs": runs[name]}
            if small is not None:
                fixed = statistics.median(x["small_seconds"] for x in runs[name])
                steady = [(n - len(small)) / (x["seconds"] - x["small_seconds"]) for x in runs[name]
                          if x["seconds"] > x["small_seconds"]]
                results[name].update({"small_clips": len(small), "small_seconds": fixed,
                                      "steady_clips_per_s": statistics.median(steady) if steady else None})
    base = results["beam-1"]["clips_per_s"] if "beam-1" in results else None
    report = {
        "benchmark": "bench_beam", "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": "python benchmarks/bench_beam.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "corpus": args.corpus, "clips": n, "feature": args.feature,
        "audio_seconds": None, "examples_per_shard": args.examples_per_shard,
        "apache_beam": apache_beam.__version__, "cpu": _cpu_name(), "cpus_allowed": len(os.sched_getaffinity(0)),
        "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
        "results": results,
        "speedup_2_vs_1": (results["beam-2"]["clips_per_s"] / base) if base and "beam-2" in results else None,
    }
    import soundfile
    report["audio_seconds"] = round(sum(soundfile.info(r.path).duration for r in manifest), 2)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))

    print(f"\n{n} {args.corpus} clips ({report['audio_seconds']} s of audio), feature {args.feature}, "
          f"apache-beam {apache_beam.__version__}, load average {load_before[0]:.1f} -> "
          f"{report['loadavg_after'][0]:.1f} on {report['cpus_allowed']} cores\n")
    print(f"| runner | workers | wall s ({n} clips) | clips/s | wall s ({args.small} clips) | "
          f"steady clips/s |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        steady = r.get("steady_clips_per_s")
        print(f"| {r['runner']} | {r['workers']} | {r['seconds']:.1f} | {r['clips_per_s']:.2f} | "
              f"{r.get('small_seconds', float('nan')):.1f} | {steady if steady is None else round(steady, 2)} |")
    if report["speedup_2_vs_1"]:
        print(f"\nspeed-up 2 vs 1 Beam worker: {report['speedup_2_vs_1']:.2f}x")
    print(f"-> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
