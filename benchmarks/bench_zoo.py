"""Deployment figures of every zoo model: load time, prediction latency and peak memory, from a
real input of the model's kind, end to end (decoding, feature extraction or face detection,
the SavedModel) on one CPU core.

    EMOZOO_DATA_DIR=../shared/data python benchmarks/bench_zoo.py [--models a,b] [--repeats 5] [--batch 8]

Each model runs in a fresh Python process (so one model's memory does not count for another),
pinned to one core with one TensorFlow thread (``benchmarks/_machine.py``). Measured per model:

* ``import_s`` / ``rss_import_mb``: importing emozoo + TensorFlow, and the peak resident memory
  after it (the floor every model shares);
* ``load_s``: ``emozoo.load(name)`` (checksums verified, SavedModel restored);
* ``first_s``: the first prediction on one input (tracing and lazy initialisation, e.g. openSMILE,
  MTCNN, the MiniLM encoder);
* ``one_ms``: median over ``--repeats`` of a prediction on one input after the first;
* ``batch_ms_per_item``: median over ``--repeats`` of a prediction on ``--batch`` inputs, divided
  by ``--batch``;
* ``peak_rss_mb``: the process's peak resident memory (``ru_maxrss``) at the end, and
  ``model_peak_mb`` = peak minus ``rss_import_mb``: what loading and running the model added;
* ``size_mb``: the model's folder on disk.

Inputs (real, from ``EMOZOO_DATA_DIR``): an EmoDB sentence (``03a01Wa.flac``, 2.0 s) for the
speech models; a JAFFE portrait (``KA.HA1.29.tiff``, 256x256, MTCNN inside ``predict``) for the
face models; the first RAVDESS AV feature row(s) for ``emodal_ravdess_av``; the first IEMOCAP
session-5 dialogue's turns (texts, MiniLM inside ``predict``; the "batch" is the whole dialogue,
one call) for the conversation models. Prints a table and writes ``benchmarks/results/bench_zoo.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

AUDIO = "emodb/wav/03a01Wa.flac"
FACE = "jaffe/KA.HA1.29.tiff"


def _rss_mb() -> float:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0     # KiB on Linux


def _inputs(model, data: Path, batch: int):
    """(one input, a batch of ``batch`` inputs, the batch's item count) of the model's input kind
    (``assets/preprocessing.json`` "input", the key the zoo picks its predictor by)."""
    kind = model.preprocessing["input"]
    if kind in ("conversation", "emotion_text"):
        for line in (data / "iemocap_text" / "dialogues.jsonl").read_text().splitlines():
            d = json.loads(line)
            if d["session"] == 5:
                turns = [{"speaker": u["speaker"], "text": u["text"]} for u in d["utterances"]]
                return turns[:1], turns, len(turns)
        raise SystemExit("no session-5 dialogue in iemocap_text")
    if kind == "emodal_av":
        from emozoo.data.corpora.ravdess_av import load_features
        z = load_features(next((data / "ravdess_av_features").glob("*.npz")))
        audio, visual = z["X_audio_mfcc"].astype("float32"), z["X_visual_au"].astype("float32")
        return ({"audio": audio[:1], "visual": visual[:1]}, {"audio": audio[:batch], "visual": visual[:batch]},
                batch)
    if kind in ("face", "features", "ssgan_waveform", "emotion_speech_waveform", "emotion_face_image"):
        path = str(data / (FACE if kind in ("face", "emotion_face_image") else AUDIO))
        return [path], [path] * batch, batch
    raise SystemExit(f"{model.card['name']}: no benchmark input for the input kind {kind!r}")


def run_one(name: str, repeats: int, batch: int) -> dict:
    """Measure one model in this process (called in a child process by :func:`main`)."""
    t0 = time.perf_counter()
    from benchmarks._machine import pin_one_core
    pin_one_core()
    import emozoo
    from emozoo.config import data_dir
    import_s, rss_import = time.perf_counter() - t0, _rss_mb()
    t0 = time.perf_counter()
    model = emozoo.load(name)
    load_s = time.perf_counter() - t0
    one, many, items = _inputs(model, Path(data_dir()), batch)
    t0 = time.perf_counter()
    p = model.predict(one)
    first_s = time.perf_counter() - t0
    ones, batches = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model.predict(one)
        ones.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        pb = model.predict(many)
        batches.append(time.perf_counter() - t0)
    if len(pb) != items:
        raise SystemExit(f"{name}: {len(pb)} predictions for {items} inputs")
    folder = REPO / "saved_models" / model.card["path"]
    peak = _rss_mb()
    return {"model": name, "classes": len(model.labels), "output_shape": list(p.shape),
            "import_s": round(import_s, 2), "rss_import_mb": round(rss_import, 1), "load_s": round(load_s, 3),
            "first_s": round(first_s, 3), "one_ms": round(1000 * statistics.median(ones), 2),
            "batch": items, "batch_ms_per_item": round(1000 * statistics.median(batches) / items, 2),
            "peak_rss_mb": round(peak, 1), "model_peak_mb": round(peak - rss_import, 1),
            "size_mb": round(sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2 ** 20, 2)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", help="comma-separated zoo names (default: every registered model)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--one", help=argparse.SUPPRESS)        # child process: measure this model, print JSON
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "bench_zoo.json"),
                    help="results file, written only with --save")
    ap.add_argument("--save", action="store_true", help="write the results to --out (default: print only)")
    a = ap.parse_args(argv)
    if a.one:
        print("RESULT " + json.dumps(run_one(a.one, a.repeats, a.batch)), flush=True)
        return 0
    if not os.environ.get("EMOZOO_DATA_DIR"):
        raise SystemExit("set EMOZOO_DATA_DIR to the corpora (the inputs are real files)")
    from benchmarks._machine import cpu_name
    registry = json.loads((REPO / "saved_models" / "registry.json").read_text())["models"]
    names = a.models.split(",") if a.models else list(registry)
    load0 = os.getloadavg()[0]
    rows = []
    for i, name in enumerate(names, 1):
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--one", name, "--repeats",
                               str(a.repeats), "--batch", str(a.batch)], capture_output=True, text=True, cwd=REPO)
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode or not line:
            raise SystemExit(f"{name} failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
        rows.append(json.loads(line[0][len("RESULT "):]))
        r = rows[-1]
        print(f"[{i}/{len(names)}] {name}: load {r['load_s']} s, first {r['first_s']} s, one {r['one_ms']} ms, "
              f"{r['batch_ms_per_item']} ms/item, peak {r['peak_rss_mb']} MB", flush=True)
    out = {"machine": {"cpu": cpu_name(), "python": platform.python_version(), "cores_used": 1,
                       "load_average_start": round(load0, 2), "load_average_end": round(os.getloadavg()[0], 2)},
           "repeats": a.repeats, "batch": a.batch, "audio": AUDIO, "face": FACE,
           "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "models": rows}
    if a.save:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(out, indent=1))
    print("\n| model | size MB | load s | first call s | one input ms | ms / item (batch) | peak RSS MB | model's share MB |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| `{r['model']}` | {r['size_mb']} | {r['load_s']} | {r['first_s']} | {r['one_ms']} | "
              f"{r['batch_ms_per_item']} ({r['batch']}) | {r['peak_rss_mb']} | {r['model_peak_mb']} |")
    print(f"\nimport emozoo + TensorFlow: {statistics.median(r['import_s'] for r in rows)} s, "
          f"{statistics.median(r['rss_import_mb'] for r in rows)} MB (median over the processes); "
          f"load average {out['machine']['load_average_start']} -> {out['machine']['load_average_end']}")
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
