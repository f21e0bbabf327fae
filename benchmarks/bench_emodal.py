"""EMODal speed: training step of both branches, the common loss's share, and the raw video path.

    EMOZOO_DATA_DIR=../shared/data python benchmarks/bench_emodal.py [--batch-size 32] [--steps 50] [--repeats 5]

Timed on one CPU core with one TF thread (``benchmarks/_machine.py``), each path measured
``--repeats`` times interleaved and the fastest repeat kept (medians in the JSON too), so that on
a busy shared machine the figure is of the code, not of the other jobs:

* ``step_dense``: ``tf.function(train_step)`` of the RAVDESS AV model (audio 259 -> 128-64-10,
  visual 35 -> 128-64-10, all four losses), batches of real store rows
  (``tfrecords/ravdess_av_emodal_4class``; synthetic when missing);
* ``step_dense_nocommon``: the same without the common loss (what the soft-HGR term costs);
* ``step_cnn``: the paper's model (68 short-term features + 128x128 grey face CNN 16-32-64,
  fc 128), random inputs of the right shapes;
* ``video_preprocess``: one clip -> inputs (middle frame decode + MTCNN largest face + 128x128
  grey + audio track decode + 68 short-term features), on an mp4 built from a JAFFE face and an
  EmoDB sentence (skipped without ``EMOZOO_DATA_DIR``); MTCNN dominates it.

Prints a table and writes ``benchmarks/results/emodal_bench.json``.
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
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

OUT = REPO / "benchmarks" / "results" / "emodal_bench.json"


def _batches(n, bs, rng):
    try:
        from emozoo.train.data import load_table
        t = load_table(str(REPO / "tfrecords/ravdess_av_emodal_4class"), "mfcc_au")
        x, y, src = t.x, t.y, "rows of tfrecords/ravdess_av_emodal_4class"
    except Exception as exc:  # noqa: BLE001 - synthetic fallback, said in the JSON
        print(f"store unavailable ({exc}); synthetic rows", file=sys.stderr)
        x, y, src = rng.normal(size=(672, 294)).astype("float32"), rng.integers(0, 4, 672), "synthetic"
    out = []
    for _ in range(n):
        idx = rng.choice(len(y), bs, replace=False)
        out.append((x[idx], y[idx].astype("int32")))
    return out, src, x


def _time_steps(step, batches):
    t0 = time.perf_counter()
    for b in batches:
        step(b)
    return (time.perf_counter() - t0) / len(batches)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)

    from _machine import cpu_name, pin_one_core
    tf = pin_one_core()
    import keras
    import numpy as np

    from emozoo.models.emodal import EMODalModel
    from emozoo.models.emodal.emodal_experiments import PAPER_MODEL

    rng = np.random.default_rng(0)
    batches, source, x_all = _batches(args.steps, args.batch_size, rng)
    steps = {}
    for name, extra in (("step_dense", {}), ("step_dense_nocommon", {"use_common": False})):
        keras.utils.set_random_seed(0)
        m = EMODalModel(num_classes=4, input_dim=294, modalities="both", **{**PAPER_MODEL, **extra})
        m.fit_normalization(x_all)
        m.compile()
        fn = tf.function(m.train_step)
        fn(batches[0])
        steps[name] = (fn, [tuple(map(tf.constant, b)) for b in batches])
    keras.utils.set_random_seed(0)
    cnn = EMODalModel(num_classes=4, audio_dim=68, visual_branch="cnn", image_size=128)
    cnn.compile()
    cnn_batches = [({"audio": tf.constant(rng.normal(size=(args.batch_size, 68)).astype("float32")),
                     "image": tf.constant(rng.integers(0, 256, (args.batch_size, 128, 128, 1)).astype("float32"))},
                    tf.constant(rng.integers(0, 4, args.batch_size).astype("int32"))) for _ in range(max(5, args.steps // 5))]
    fn = tf.function(cnn.train_step)
    fn(cnn_batches[0])
    steps["step_cnn"] = (fn, cnn_batches)
    times = {k: [] for k in steps}
    for _ in range(args.repeats):
        for k, (fn, bs) in steps.items():
            times[k].append(_time_steps(fn, bs))

    result = {"cpu": cpu_name(), "threads": 1, "batch_size": args.batch_size, "steps": args.steps,
              "repeats": args.repeats, "source": source, "command": "python benchmarks/bench_emodal.py",
              "tensorflow": tf.__version__}
    for k, v in times.items():
        result[k] = {"best_ms": round(1000 * min(v), 3), "median_ms": round(1000 * statistics.median(v), 3),
                     "examples_per_s": round(args.batch_size / min(v), 1)}
    result["common_loss_overhead"] = round(min(times["step_dense"]) /
                                           min(times["step_dense_nocommon"]), 3)
    data = os.environ.get("EMOZOO_DATA_DIR")
    if data and Path(data, "jaffe").is_dir():
        from emozoo.data.audio import load_audio
        from emozoo.data.image import load_image
        from emozoo.data.video import write_video
        from emozoo.features.face import FaceCropper
        from emozoo.models.emodal.emodal_video import clip_inputs

        face = load_image(Path(data, "jaffe", "KA.HA1.29.tiff"), grey=False)
        wav, rate = load_audio(Path(data, "emodb", "wav", "03a01Wa.flac"), 16000)
        with tempfile.TemporaryDirectory() as tmp:
            clip = write_video(Path(tmp, "clip.mp4"), np.stack([face] * 25), fps=25, audio=wav, sample_rate=rate)
            cropper = FaceCropper(size=128, policy="error")
            clip_inputs(clip, cropper=cropper)                       # warm-up (MTCNN graph)
            v = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                clip_inputs(clip, cropper=cropper)
                v.append(time.perf_counter() - t0)
        result["video_preprocess"] = {"best_ms": round(1000 * min(v), 1), "median_ms": round(1000 * statistics.median(v), 1),
                                      "clip": f"256x256 frames, 1 s at 25 fps, {len(wav) / rate:.2f} s audio (JAFFE face + EmoDB)"}
    print(f"{'path':<24}{'best ms':>10}{'median ms':>11}{'ex/s':>10}")
    for k in list(times) + (["video_preprocess"] if "video_preprocess" in result else []):
        r = result[k]
        print(f"{k:<24}{r['best_ms']:>10}{r['median_ms']:>11}{r.get('examples_per_s', ''):>10}")
    print(f"common loss overhead: x{result['common_loss_overhead']}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
