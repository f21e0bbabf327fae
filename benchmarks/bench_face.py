"""Face pipeline speed on one core: MTCNN detection + crop, and Dface embedding (images/second).

    EMOZOO_DATA_DIR=../shared/data python benchmarks/bench_face.py [--images 40] [--repeats 3]

TensorFlow is limited to one intra-op and one inter-op thread before anything runs, so the
figures are per core. Measured, each as the median of ``--repeats`` passes (the machine is
shared: the load average at start and end is recorded too):

* ``detect_crop``: :meth:`emozoo.features.face.FaceCropper.crop_image` (MTCNN three stages,
  largest face, square crop, grey, 48 px) on ``--images`` JAFFE portraits (256x256), CK+48
  faces (48x48) and FER2013 PrivateTest faces (48x48), images already decoded;
* ``dface_embed``: the zoo SavedModel's ``embed`` signature on 48x48 crops, batch 1 and 64;
* detection facts on those images (not speed): the share of images where MTCNN finds a face,
  and on FER2013 the ratio image side / the box's longer side (why the crop margin is 0).

Prints a table and writes ``benchmarks/results/bench_face.json``.
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
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _images(data_dir: Path, n: int):
    from emozoo.data.image import load_image

    def pick(paths):
        paths = sorted(paths)
        step = max(1, len(paths) // n)
        return [load_image(p, grey=False) for p in paths[::step][:n]]
    return {
        "jaffe_256": pick((data_dir / "jaffe").glob("*.tiff")),
        "ckplus48_48": pick((data_dir / "ckplus48").glob("*/*.png")),
        "fer2013_test_48": pick((data_dir / "fer2013" / "test").glob("*/*.jpg")),
    }


def _time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("EMOZOO_DATA_DIR", ""))
    p.add_argument("--images", type=int, default=40, help="images per corpus")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "bench_face.json"))
    args = p.parse_args(argv)
    if not args.data_dir:
        sys.exit("give --data-dir or set EMOZOO_DATA_DIR")

    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from emozoo.features.face import FaceCropper, detect_faces
    from emozoo.models.dface.dface_export import load_dface

    load_start = os.getloadavg()
    sets = _images(Path(args.data_dir), args.images)
    cropper = FaceCropper(size=48, policy="full")
    cropper.crop_image(sets["jaffe_256"][0])                       # build MTCNN, trace its graphs
    results = {"detect_crop": {}, "detection": {}, "dface_embed": {}}
    for name, imgs in sets.items():
        for img in imgs[:2]:
            cropper.crop_image(img)                                # warm-up at this image size
        sec = _time(lambda: [cropper.crop_image(im) for im in imgs], args.repeats)
        results["detect_crop"][name] = {"images": len(imgs), "images_per_s": round(len(imgs) / sec, 2),
                                        "ms_per_image": round(1000 * sec / len(imgs), 1)}
        boxes = [detect_faces(im) for im in imgs]
        found = [b[0] for b in boxes if b]
        det = {"images": len(imgs), "with_face": len(found), "share": round(len(found) / len(imgs), 3)}
        if found:
            side = imgs[0].shape[0]
            ratios = [side / max(b.width, b.height) for b in found]
            det["image_side_over_box_side_median"] = round(float(np.median(ratios)), 3)
        results["detection"][name] = det

    model, entry = load_dface()
    crops = np.stack([cropper.crop_image(im).image for im in sets["fer2013_test_48"]]).astype("float32")
    for batch in (1, 64):
        x = tf.constant(np.resize(crops, (batch, 48, 48, 1)))
        model.embed(x)                                             # warm-up
        n_calls = max(1, 64 // batch)
        sec = _time(lambda: [model.embed(x) for _ in range(n_calls)], args.repeats)
        results["dface_embed"][f"batch_{batch}"] = {"images_per_s": round(n_calls * batch / sec, 1),
                                                    "ms_per_image": round(1000 * sec / (n_calls * batch), 2)}
    results["model"] = {"zoo": entry["path"], "embedding_dim": entry["embedding_dim"]}
    results["machine"] = {"platform": platform.platform(), "processor": platform.processor(),
                          "cpu_count": os.cpu_count(), "threads": 1, "tensorflow": tf.__version__,
                          "load_avg_start": [round(v, 2) for v in load_start],
                          "load_avg_end": [round(v, 2) for v in os.getloadavg()]}
    results["command"] = "EMOZOO_DATA_DIR=../shared/data python benchmarks/bench_face.py " + " ".join(
        argv if argv is not None else sys.argv[1:])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1))
    print(f"{'set':<18} {'detect+crop img/s':>18} {'face found':>11}")
    for name in sets:
        print(f"{name:<18} {results['detect_crop'][name]['images_per_s']:>18} "
              f"{results['detection'][name]['share']:>11}")
    for k, v in results["dface_embed"].items():
        print(f"dface embed {k:<8} {v['images_per_s']:>10} img/s")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
