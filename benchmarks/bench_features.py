"""Real-time factor of every acoustic extractor on one CPU core.

    EMOZOO_DATA_DIR=../shared/data python benchmarks/bench_features.py [--clips 40] [--repeats 3]

Decodes ``--clips`` EmoDB clips (the first by clip id, resampled to 16 kHz)
once, then times each extractor of :mod:`emozoo.features.registry` over all of
them, ``--repeats`` times after one warm-up clip, with TensorFlow limited to
one intra-op and one inter-op thread and the process pinned to one core.
Real-time factor = seconds of compute / seconds of audio (lower is faster;
0.01 means 100x faster than real time). The median repeat is reported.
Prints a Markdown table and writes ``benchmarks/results/bench_features.json``.
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
os.environ.setdefault("OMP_NUM_THREADS", "1")


from _machine import cpu_name as _cpu_name  # noqa: E402  (benchmarks/ is on sys.path when run as a script)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", default="emodb")
    p.add_argument("--clips", type=int, default=40)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--features", default="is10,egemaps,compare,fbank,spectrogram,short68")
    p.add_argument("--core", type=int, default=None, help="pin to this core (default: the first allowed)")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "bench_features.json"))
    args = p.parse_args(argv)

    from _machine import pin_one_core
    tf = pin_one_core(args.core)

    from emozoo.data.audio import load_audio
    from emozoo.data.corpora import load_manifest
    from emozoo.features.opensmile_features import import_opensmile
    from emozoo.features.registry import get_extractor

    rows = sorted(load_manifest(args.corpus), key=lambda r: r.clip_id)[:args.clips]
    t0 = time.perf_counter()
    clips = [load_audio(r.path, 16000)[0] for r in rows]
    decode_s = time.perf_counter() - t0
    audio_s = sum(len(x) for x in clips) / 16000.0
    results = {}
    for name in [f.strip() for f in args.features.split(",") if f.strip()]:
        ext = get_extractor(name)
        ext(clips[0], 16000)                                    # warm-up: build graphs / openSMILE
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            for x in clips:
                ext(x, 16000)
            times.append(time.perf_counter() - t0)
        sec = statistics.median(times)
        results[name] = {"rtf": sec / audio_s, "ms_per_clip": 1000 * sec / len(clips),
                         "x_realtime": audio_s / sec, "repeats_s": times}
    report = {
        "benchmark": "bench_features", "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": "python benchmarks/bench_features.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "corpus": args.corpus, "clips": len(clips), "audio_seconds": audio_s,
        "decode_resample_rtf": decode_s / audio_s, "cpu": _cpu_name(), "cores_used": 1,
        "tensorflow": tf.__version__, "opensmile": import_opensmile().__version__,
        "python": platform.python_version(), "load_average_1min": os.getloadavg()[0], "results": results,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(f"{len(clips)} {args.corpus} clips, {audio_s:.1f} s of audio, 1 core ({report['cpu']}), "
          f"TF {tf.__version__}, opensmile {report['opensmile']}\n")
    print("| extractor | real-time factor | x real time | ms per clip |")
    print("|---|---|---|---|")
    print(f"| decode + resample to 16 kHz | {report['decode_resample_rtf']:.4f} | "
          f"{1 / report['decode_resample_rtf']:.0f} | {1000 * decode_s / len(clips):.1f} |")
    for name, r in results.items():
        print(f"| {name} | {r['rtf']:.4f} | {r['x_realtime']:.0f} | {r['ms_per_clip']:.1f} |")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
