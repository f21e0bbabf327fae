"""Peak memory and time of zoo prediction on long recordings and large images (issue 16, sec. 4).

Recordings of 1, 10 and 60 minutes are made by concatenating real EmoDB clips (each followed by
0.5 s of silence, looped until the length is reached), written block by block as 16 kHz FLAC into
a temporary folder; images of 1000, 4000 and 8000 px squares are a JAFFE portrait upscaled and
saved as JPEG (quality 90). Each measurement runs in a fresh Python subprocess, which reports its
peak RSS (``ru_maxrss``), its RSS after loading the model, and the seconds spent predicting
(model loading excluded). Recordings are predicted with
:func:`emozoo.zoo.windows.predict_windows` (``--window 3 --hop 1.5``: decoded block by block),
images with the face model's ``predict`` (shrunk to 1 MP while decoding, then MTCNN).

Goal: peak memory flat in the recording's length and the image's size; time linear in length.

Usage::

    EMOZOO_DATA_DIR=/work/shared/data python benchmarks/bench_long_inputs.py            # table only
    EMOZOO_DATA_DIR=... python benchmarks/bench_long_inputs.py --minutes 1 10 --save     # + JSON

``--save`` writes ``benchmarks/results/bench_long_inputs.json``; nothing is written otherwise
(the recordings live in a temporary folder that is removed).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]


def _data_dir() -> Path:
    raw = os.environ.get("EMOZOO_DATA_DIR")
    if not raw or not Path(raw).is_dir():
        sys.exit("set EMOZOO_DATA_DIR to the corpora folder (EmoDB and JAFFE are read)")
    return Path(raw)


def make_recording(path: Path, minutes: float, data_dir: Path, rate: int = 16000) -> dict:
    """Concatenate EmoDB clips (+ 0.5 s pauses) into ``minutes`` of FLAC, written clip by clip."""
    import numpy as np
    import soundfile as sf

    from emozoo.data.audio import load_audio

    clips = sorted((data_dir / "emodb" / "wav").glob("*.flac"))
    want, written, i = int(minutes * 60 * rate), 0, 0
    pause = np.zeros(rate // 2, np.float32)
    with sf.SoundFile(str(path), "w", rate, 1, format="FLAC", subtype="PCM_16") as f:
        while written < want:
            x = np.concatenate([load_audio(clips[i % len(clips)], rate)[0], pause])[:want - written]
            f.write(x)
            written += x.size
            i += 1
    return {"seconds": written / rate, "clips": i, "bytes": path.stat().st_size}


def make_image(path: Path, side: int, data_dir: Path) -> dict:
    from PIL import Image

    src = sorted((data_dir / "jaffe").glob("*.HA*.tiff"))[0]
    with Image.open(src) as img:
        img.convert("RGB").resize((side, side), Image.Resampling.BICUBIC).save(path, quality=90)
    return {"side": side, "bytes": path.stat().st_size, "source": src.name}


def child(kind: str, model_name: str, path: str, window: float, hop: float) -> None:
    """Runs in the subprocess: load, predict, print one JSON line of measurements."""
    import emozoo

    model = emozoo.load(model_name)
    rss_loaded = _rss_mb()
    t = time.perf_counter()
    if kind == "audio":
        from emozoo.zoo.windows import predict_windows
        n = refused = 0
        for row in predict_windows(model, path, window, hop):
            n += 1
            refused += row["refused"] is not None
        out = {"windows": n, "refused_windows": refused}
    else:
        p = model.predict(path)
        out = {"prediction": model.labels[int(p.argmax())]}
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({**out, "seconds": round(seconds, 2), "rss_after_load_mb": round(rss_loaded, 1),
                      "peak_rss_mb": round(peak, 1)}))


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(kind: str, model: str, path: Path, window: float, hop: float) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, model, str(path), str(window), str(hop)]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{p.stderr[-2000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, nargs="*", default=[1, 10, 60])
    ap.add_argument("--images", type=int, nargs="*", default=[1000, 4000, 8000], help="square image sides (px)")
    ap.add_argument("--speech-models", nargs="*", default=["ssgan_speech", "baseline_emodb_is10"])
    ap.add_argument("--max-minutes-is10", type=float, default=10,
                    help="IS10 (openSMILE, ~0.4 s per 3 s window on one core) only up to this length")
    ap.add_argument("--face-model", default="face_cnn_fer2013")
    ap.add_argument("--window", type=float, default=3.0)
    ap.add_argument("--hop", type=float, default=1.5)
    ap.add_argument("--save", action="store_true", help="write benchmarks/results/bench_long_inputs.json")
    ap.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        kind, model, path, window, hop = args.child
        child(kind, model, path, float(window), float(hop))
        return 0
    data_dir = _data_dir()
    rows = []
    print(f"{'input':<22} {'model':<22} {'seconds':>8} {'s/min':>7} {'peak RSS MB':>12} {'after load MB':>14}  extra",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="bench_long_inputs_") as tmp:
        for minutes in args.minutes:
            rec = Path(tmp) / f"rec_{minutes:g}min.flac"
            info = make_recording(rec, minutes, data_dir)
            for model in args.speech_models:
                if "is10" in model and minutes > args.max_minutes_is10:
                    continue
                r = measure("audio", model, rec, args.window, args.hop)
                rows.append({"input": f"{minutes:g} min audio", "kind": "audio", "minutes": minutes, "model": model,
                             "window": args.window, "hop": args.hop, **info, **r})
                print(f"{rows[-1]['input']:<22} {model:<22} {r['seconds']:>8.1f} {r['seconds'] / minutes:>7.2f} "
                      f"{r['peak_rss_mb']:>12.0f} {r['rss_after_load_mb']:>14.0f}  {r['windows']} windows "
                      f"({r['refused_windows']} refused)", flush=True)
            rec.unlink()
        for side in args.images:
            img = Path(tmp) / f"img_{side}.jpg"
            info = make_image(img, side, data_dir)
            r = measure("image", args.face_model, img, args.window, args.hop)
            rows.append({"input": f"{side}x{side} JPEG", "kind": "image", "model": args.face_model, **info, **r})
            print(f"{rows[-1]['input']:<22} {args.face_model:<22} {r['seconds']:>8.1f} {'':>7} "
                  f"{r['peak_rss_mb']:>12.0f} {r['rss_after_load_mb']:>14.0f}  {r['prediction']}", flush=True)
    if args.save:
        out = REPO / "benchmarks" / "results" / "bench_long_inputs.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"command": "python benchmarks/bench_long_inputs.py " + " ".join(argv or sys.argv[1:]),
                                   "cpu_count": os.cpu_count(), "rows": rows}, indent=1))
        print(f"saved {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
