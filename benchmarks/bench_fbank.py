"""Filterbanks on one thread: emozoo's in-graph ``fbank`` and Whisper log-Mel vs librosa (issue 21, part 3).

    EMOZOO_DATA_DIR=../shared/data python benchmarks/bench_fbank.py [--clips 40] [--repeats 7]

Decodes ``--clips`` EmoDB clips (the first by clip id, 16 kHz) once, then times, interleaved in
every repeat (the order rotates from one repeat to the next), on one core with one TensorFlow
thread and single-threaded numpy/BLAS:

* ``fbank`` (128 log-Mel bands, 25 ms Hann, 10 ms hop, 512-point FFT, 20 Hz-8 kHz):
  ``emozoo.features.fbank.log_mel`` clip by clip (eager call: the cached graph), the registered
  ``fbank`` extractor clip by clip, and ``log_mel`` on the batch ``[clips, samples]``; against
  librosa's ``stft`` -> ``|.|^2`` -> Mel -> ``log(. + 1e-6)`` clip by clip and on the batch, with
  the Mel matrix built once (``librosa.filters.mel(htk=True, norm=None)``) and each clip padded by
  56 samples on both sides so that librosa's frames are emozoo's (``center=False``);
* the Whisper front end (``emozoo.backbones.whisper.frontend.log_mel_spectrogram``) clip by clip
  and batched, against openai/whisper's recipe in librosa/numpy (``tools/reference/whisper_reference.py
  ::reference_log_mel`` with the Slaney filters built once, batched over clips);
* a breakdown of one batched ``fbank`` call: cumulative prefixes of the graph (framing, window,
  FFT, power, Mel, log) each timed as its own cached ``tf.function``, the dense Mel product beside
  the banded one, the same ops run eagerly op by op (what per-clip calls cost before), and librosa's
  batched call interleaved with them (so the stage costs compare with librosa's total).

With ``--before REV`` (e.g. ``345773b``, the commit before issue 21's filterbank work), the same
clips also go through ``emozoo/features/fbank.py`` and ``emozoo/backbones/whisper/frontend.py`` as
they were at ``REV`` (read with ``git show``), interleaved with the rest: eager ``log_mel`` clip by
clip and batched, the old extractor's own ``tf.function`` clip by clip, a ``tf.function`` on the
batch, and the old Whisper front end called eagerly.

Reports min and median seconds over ``--repeats`` repeats (each repeat = all clips), the ratios
librosa / emozoo of both, the max abs difference of the outputs, and the 1-minute load average
before and after. Writes ``benchmarks/results/bench_fbank.json``.
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

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from _machine import cpu_name, pin_one_core  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

RATE, WIN, HOP, NFFT, EPS = 16000, 400, 160, 512, 1e-6


def _librosa_fbank(librosa, np):
    melb = librosa.filters.mel(sr=RATE, n_fft=NFFT, n_mels=128, fmin=20.0, fmax=RATE / 2, htk=True, norm=None)
    pad = (NFFT - WIN) // 2

    def run(x):                                   # x [samples] or [clips, samples] -> [..., frames, 128]
        widths = [(0, 0)] * (x.ndim - 1) + [(pad, pad)]
        s = librosa.stft(np.pad(x, widths), n_fft=NFFT, hop_length=HOP, win_length=WIN, window="hann",
                         center=False)
        return np.swapaxes(np.log(melb @ (s.real ** 2 + s.imag ** 2) + EPS), -1, -2)
    return run


def _librosa_whisper(librosa, np):
    filters = librosa.filters.mel(sr=RATE, n_fft=400, n_mels=80)

    def run(x):                                   # x [clips, samples] -> [clips, frames, 80]
        s = librosa.stft(x, n_fft=400, hop_length=160, window="hann", center=True, pad_mode="reflect")
        log_spec = np.log10(np.maximum(filters @ (np.abs(s[..., :-1]) ** 2), 1e-10))
        peak = log_spec.max(axis=(-2, -1), keepdims=True)
        return np.swapaxes((np.maximum(log_spec, peak - 8.0) + 4.0) / 4.0, -1, -2)
    return run


def _stage_functions(tf, np):
    """Cumulative prefixes of the fbank graph on a batch [clips, samples] (each its own tf.function)."""
    from emozoo.features import fbank as fb
    plan = fb._Plan("mel", RATE, WIN, HOP, NFFT, 128, 20.0, RATE / 2.0, EPS)
    window = tf.constant(fb._window(WIN))
    matrix = fb._mel_matrix(128, NFFT // 2 + 1, RATE, 20.0, RATE / 2.0)
    groups = fb.band_groups(matrix)

    def frame(x):
        return tf.reshape(tf.signal.frame(x, WIN, HOP), [-1, WIN])

    def windowed(x):
        return frame(x) * window

    def fft(x):
        return tf.signal.rfft(windowed(x), [NFFT])

    def power(x):
        s = fft(x)
        return tf.math.square(tf.math.real(s)) + tf.math.square(tf.math.imag(s))

    def mel_banded(x):
        return fb.banded_matmul(power(x), matrix, groups)

    def mel_dense(x):
        return tf.linalg.matmul(power(x), tf.constant(matrix))

    def full(x):
        return fb._features(plan, x)

    sig = [tf.TensorSpec([None, None], tf.float32)]
    stages = {"1 frame": frame, "2 + window": windowed, "3 + rfft": fft, "4 + power": power,
              "5 + mel (banded)": mel_banded, "5' + mel (dense, before)": mel_dense,
              "6 + log, reshape (= log_mel)": full}
    out = {k: tf.function(f, input_signature=sig) for k, f in stages.items()}
    return out, (lambda x: fb._features(plan, tf.constant(x)))


def _modules_at(rev: str):
    """``fbank`` and the Whisper ``frontend`` as they were at git revision ``rev`` (imported from a temp dir)."""
    import importlib.util
    import subprocess
    import tempfile
    repo = Path(__file__).resolve().parents[1]
    folder = Path(tempfile.mkdtemp(prefix="bench_fbank_before_"))
    mods = []
    for name, path in (("fbank_before", "emozoo/features/fbank.py"),
                       ("frontend_before", "emozoo/backbones/whisper/frontend.py")):
        src = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=repo, capture_output=True, text=True,
                             check=True).stdout
        (folder / f"{name}.py").write_text(src)
        spec = importlib.util.spec_from_file_location(name, folder / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        mods.append(mod)
    return mods


def _timed(sides, repeats):
    times = {k: [] for k in sides}
    names = list(sides)
    for r in range(repeats):
        for k in names[r % len(names):] + names[:r % len(names)]:      # rotate the order every repeat
            t0 = time.perf_counter()
            sides[k]()
            times[k].append(time.perf_counter() - t0)
    return {k: {"min_s": min(v), "median_s": statistics.median(v), "repeats_s": v} for k, v in times.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", default="emodb")
    p.add_argument("--clips", type=int, default=40)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--core", type=int, default=None, help="pin to this core (default: the first allowed)")
    p.add_argument("--before", default=None, help="also time fbank.py / frontend.py as they were at this git rev")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "bench_fbank.json"))
    args = p.parse_args(argv)

    tf = pin_one_core(args.core)
    import librosa
    import numpy as np

    from emozoo.backbones.whisper.frontend import log_mel_spectrogram
    from emozoo.data.audio import load_audio
    from emozoo.data.corpora import load_manifest
    from emozoo.features.fbank import log_mel
    from emozoo.features.registry import get_extractor

    rows = sorted(load_manifest(args.corpus), key=lambda r: r.clip_id)[:args.clips]
    clips = [load_audio(r.path, RATE)[0] for r in rows]
    n = max(len(x) for x in clips)
    batch = np.stack([np.pad(x, (0, n - len(x))) for x in clips])   # EmoDB's copy: every clip is 2.0 s
    audio_s = sum(len(x) for x in clips) / RATE
    lib_fbank, lib_whisper = _librosa_fbank(librosa, np), _librosa_whisper(librosa, np)
    ext = get_extractor("fbank")
    load_before = os.getloadavg()

    # agreement (and warm-up: every graph is traced here, before any timing)
    ours = [log_mel(x).numpy() for x in clips]
    ref = [lib_fbank(x) for x in clips]
    fbank_diff = max(float(np.abs(a - b).max()) for a, b in zip(ours, ref))
    batch_vs_clips = float(np.abs(log_mel(batch).numpy() - np.stack(ours)).max())
    ext_vs_log_mel = max(float(np.abs(ext(x, RATE) - o).max()) for x, o in zip(clips, ours))
    lib_batch_vs_clips = float(np.abs(lib_fbank(batch) - np.stack(ref)).max())
    w_ours = log_mel_spectrogram(batch).numpy()
    w_ref = lib_whisper(batch)
    whisper_diff = float(np.abs(w_ours - w_ref).max())
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools" / "reference"))
    from whisper_reference import reference_log_mel
    whisper_ref_check = float(np.abs(reference_log_mel(clips[0]) - w_ref[0]).max())
    whisper_clip_diff = max(float(np.abs(log_mel_spectrogram(x[None]).numpy()[0] - w).max())
                            for x, w in zip(clips, w_ref))

    sides = {
        "fbank emozoo log_mel per clip": lambda: [log_mel(x).numpy() for x in clips],
        "fbank emozoo extractor per clip": lambda: [ext(x, RATE) for x in clips],
        "fbank librosa per clip": lambda: [lib_fbank(x) for x in clips],
        "fbank emozoo log_mel batched": lambda: log_mel(batch).numpy(),
        "fbank librosa batched": lambda: lib_fbank(batch),
        "whisper emozoo per clip": lambda: [log_mel_spectrogram(x[None]).numpy() for x in clips],
        "whisper librosa per clip": lambda: [lib_whisper(x[None]) for x in clips],
        "whisper emozoo batched": lambda: log_mel_spectrogram(batch).numpy(),
        "whisper librosa batched": lambda: lib_whisper(batch),
    }
    before_diff = {}
    if args.before:
        fb_old, fe_old = _modules_at(args.before)
        old_ext = tf.function(lambda x: fb_old.log_mel(x, RATE), input_signature=[tf.TensorSpec([None], tf.float32)])
        old_batch = tf.function(lambda x: fb_old.log_mel(x, RATE),
                                input_signature=[tf.TensorSpec([None, None], tf.float32)])
        sides.update({
            "fbank before: log_mel eager per clip": lambda: [fb_old.log_mel(x).numpy() for x in clips],
            "fbank before: extractor per clip": lambda: [old_ext(tf.constant(x)).numpy() for x in clips],
            "fbank before: log_mel eager batched": lambda: fb_old.log_mel(batch).numpy(),
            "fbank before: tf.function batched": lambda: old_batch(tf.constant(batch)).numpy(),
            "whisper before: eager per clip": lambda: [fe_old.log_mel_spectrogram(x[None]).numpy() for x in clips],
            "whisper before: eager batched": lambda: fe_old.log_mel_spectrogram(batch).numpy(),
        })
        before_diff = {"fbank before vs now": float(np.abs(fb_old.log_mel(batch).numpy()
                                                           - log_mel(batch).numpy()).max()),
                       "whisper before vs now": float(np.abs(fe_old.log_mel_spectrogram(batch).numpy() - w_ours).max())}
        old_ext(tf.constant(clips[0]))
        old_batch(tf.constant(batch))
    timing = _timed(sides, args.repeats)

    stages, eager_ops = _stage_functions(tf, np)
    tb = tf.constant(batch)
    stage_sides = {k: (lambda f=f: f(tb).numpy()) for k, f in stages.items()}
    stage_sides["eager op by op (no graph)"] = lambda: eager_ops(batch).numpy()
    stage_sides["log_mel(batch) (public call)"] = lambda: log_mel(batch).numpy()
    stage_sides["librosa batched (same run)"] = lambda: lib_fbank(batch)
    for f in stage_sides.values():
        f()
    stage_timing = _timed(stage_sides, args.repeats)
    load_after = os.getloadavg()

    def ratio(lib, ours_):
        return {stat: timing[lib][stat] / timing[ours_][stat] for stat in ("min_s", "median_s")}
    ratios = {
        "fbank per clip (log_mel)": ratio("fbank librosa per clip", "fbank emozoo log_mel per clip"),
        "fbank per clip (extractor)": ratio("fbank librosa per clip", "fbank emozoo extractor per clip"),
        "fbank batched": ratio("fbank librosa batched", "fbank emozoo log_mel batched"),
        "whisper per clip": ratio("whisper librosa per clip", "whisper emozoo per clip"),
        "whisper batched": ratio("whisper librosa batched", "whisper emozoo batched"),
    }
    if args.before:
        ratios.update({"speed-up: fbank log_mel per clip (eager before)": ratio("fbank before: log_mel eager per clip",
                                                                                "fbank emozoo log_mel per clip"),
                       "speed-up: fbank extractor per clip": ratio("fbank before: extractor per clip",
                                                                  "fbank emozoo extractor per clip"),
                       "speed-up: fbank batched (eager before)": ratio("fbank before: log_mel eager batched",
                                                                      "fbank emozoo log_mel batched"),
                       "speed-up: fbank batched (tf.function before)": ratio("fbank before: tf.function batched",
                                                                            "fbank emozoo log_mel batched"),
                       "speed-up: whisper per clip (eager before)": ratio("whisper before: eager per clip",
                                                                         "whisper emozoo per clip"),
                       "speed-up: whisper batched (eager before)": ratio("whisper before: eager batched",
                                                                        "whisper emozoo batched")})
    report = {
        "benchmark": "bench_fbank", "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": "python benchmarks/bench_fbank.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "corpus": args.corpus, "clips": len(clips), "audio_seconds": audio_s, "cpu": cpu_name(),
        "threads": {"tensorflow_intra_inter": 1, "OMP_NUM_THREADS": os.environ["OMP_NUM_THREADS"],
                    "pinned_cores": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None},
        "tensorflow": tf.__version__, "librosa": librosa.__version__, "numpy": np.__version__,
        "python": platform.python_version(), "repeats": args.repeats, "before_rev": args.before,
        "load_average_before": load_before, "load_average_after": load_after,
        "max_abs_diff": {"fbank emozoo vs librosa (per clip)": fbank_diff,
                         "fbank batched vs per clip": batch_vs_clips,
                         "fbank extractor vs log_mel": ext_vs_log_mel,
                         "fbank librosa batched vs per clip": lib_batch_vs_clips,
                         "whisper emozoo vs reference (batched)": whisper_diff,
                         "whisper emozoo per clip vs reference": whisper_clip_diff,
                         "whisper bench reference vs tools/reference reference_log_mel": whisper_ref_check,
                         **before_diff},
        "timing": timing, "ratios_librosa_over_emozoo": ratios, "breakdown_batched_fbank": stage_timing,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))

    print(f"{len(clips)} {args.corpus} clips, {audio_s:.1f} s of audio, 1 core ({report['cpu']}), TF {tf.__version__}, "
          f"librosa {librosa.__version__}; {args.repeats} interleaved repeats; load average (1 min) "
          f"{load_before[0]:.2f} -> {load_after[0]:.2f}\n")
    print("| side | min ms | median ms |\n|---|---|---|")
    for k, v in timing.items():
        print(f"| {k} | {1000 * v['min_s']:.1f} | {1000 * v['median_s']:.1f} |")
    print("\n| librosa (or before) / emozoo now | by min | by median |\n|---|---|---|")
    for k, v in ratios.items():
        print(f"| {k} | {v['min_s']:.2f}x | {v['median_s']:.2f}x |")
    print("\nbreakdown of one batched fbank call (cumulative prefixes)\n| prefix | min ms | median ms |\n|---|---|---|")
    for k, v in stage_timing.items():
        print(f"| {k} | {1000 * v['min_s']:.2f} | {1000 * v['median_s']:.2f} |")
    print("\nmax abs difference: " + ", ".join(f"{k} {v:.2g}" for k, v in report["max_abs_diff"].items()))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
