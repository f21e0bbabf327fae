"""Saliency maps and emotion modification of a face_cnn zoo model on one image.

    python -m emozoo.explain --model face_cnn_jaffe IMAGE [--method vanilla|guided|both]
        [--target CLASS] [--modify TARGET [TARGET ...]] [--steps 100] [--step-size 2] --out DIR

The image's largest MTCNN face is cropped to 48x48 grey (the whole image when no face is found,
as the zoo predictor does). Writes to DIR:

* ``<stem>_saliency_<method>.png``: the face (eye / mouth regions outlined when MTCNN found the
  landmarks), the gradient image and ``|S|`` over the face, for the class ``--target`` (default:
  the predicted class);
* ``<stem>_modify_<target>.png`` per ``--modify`` class: gradient ascent toward it (Fig. 7;
  ``--modify predicted`` intensifies the predicted expression);
* ``<stem>_explain.json``: probabilities, target, eye / mouth saliency shares, modification paths.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _class_index(name: str, classes, what: str) -> int:
    from emozoo.errors import LabelError

    if name in classes:
        return list(classes).index(name)
    raise LabelError(f"{what} {name!r} is not a class of this model; choose one of {list(classes)}")


def crop_face(image_path):
    """``(face uint8 [48, 48, 1], landmarks [5, 2] or None, source)`` of an image file."""
    import numpy as np

    from emozoo.features.face import FaceCropper, landmarks_in_crop
    from emozoo.models.face_cnn.face_cnn_data import LANDMARKS

    cropper = FaceCropper(size=48, policy="full")
    crop = cropper.crop_image(image_path)
    marks = None
    if crop.box is not None and all(k in crop.box.landmarks for k in LANDMARKS):
        lm = landmarks_in_crop(crop.box, cropper.margin, 48)
        marks = np.asarray([lm[k] for k in LANDMARKS], np.float32)
    return crop.image, marks, crop.source


def explain(model_name: str, image, out, *, method: str = "guided", target: str | None = None,
            modify=(), steps: int = 100, step_size: float = 2.0, max_change: float | None = None,
            root=None) -> dict:
    """Run the CLI's work; returns the summary written to ``<stem>_explain.json``."""
    import numpy as np

    from emozoo.errors import SchemaError
    from emozoo.explain.figures import plot_modification, plot_saliency
    from emozoo.explain.regions import region_masks, region_shares
    from emozoo.explain.saliency import class_gradient, guided_saliency, modify_emotion
    from emozoo.models.face_cnn.face_cnn_export import load_face_cnn

    if method not in ("vanilla", "guided", "both"):
        raise SchemaError(f"--method must be vanilla, guided or both, got {method!r}")
    image = Path(image)
    if not image.is_file():
        raise SchemaError(f"{image} is not a file: give a face photo (jpg, png, tiff ...)")
    model, guided, classes, entry = load_face_cnn(model_name, root)
    face, marks, source = crop_face(image)
    x = face.astype(np.float32)[None]
    probs = model(x, training=False).numpy()[0]
    t = int(probs.argmax()) if target is None else _class_index(target, classes, "--target")
    maps = {}
    if method in ("vanilla", "both"):
        maps["vanilla"] = class_gradient(model, x, t)[0][0]
    if method in ("guided", "both"):
        maps["guided"] = guided_saliency(guided, x, t)[0]
    masks = region_masks(marks) if marks is not None else None
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stem = image.stem.replace(".", "_")
    summary = {"model": model_name, "image": str(image), "face_source": source, "classes": list(classes),
               "probabilities": [float(p) for p in probs], "predicted": classes[int(probs.argmax())],
               "target": classes[t], "files": [], "region_shares": {}, "modifications": []}
    title = (f"{model_name}: {image.name}  predicted {classes[int(probs.argmax())]} ({probs.max():.2f}); "
             f"saliency of p({classes[t]})")
    for name, s in maps.items():
        if marks is not None:
            sh = region_shares(s[None], marks[None])[0]
            summary["region_shares"][name] = {"eyes": float(sh[0]), "mouth": float(sh[1])}
    path = plot_saliency(face, maps, out / f"{stem}_saliency_{method}.png", title=title, masks=masks)
    summary["files"].append(str(path))
    for name in modify:
        tgt = int(probs.argmax()) if name == "predicted" else _class_index(name, classes, "--modify")
        res = modify_emotion(model, x[0], tgt, steps=steps, step_size=step_size, max_change=max_change,
                             record_every=max(1, steps // 5))
        kind = "intensification" if tgt == int(probs.argmax()) else "conversion"
        path = plot_modification(res, classes, out / f"{stem}_modify_{classes[tgt]}.png",
                                 title=f"{model_name}: {kind} of {image.name} toward {classes[tgt]} "
                                       f"({res['steps_run']} steps of {step_size:g} grey levels)")
        summary["files"].append(str(path))
        summary["modifications"].append({
            "target": classes[tgt], "kind": kind, "steps_run": int(res["steps_run"]),
            "p_target_start": float(res["probabilities"][0, tgt]), "p_target_end": float(res["probabilities"][-1, tgt]),
            "max_pixel_change": float(np.abs(res["image"] - res["original"]).max()),
            "mean_pixel_change": float(np.abs(res["image"] - res["original"]).mean())})
    (out / f"{stem}_explain.json").write_text(json.dumps(summary, indent=1))
    return summary


def main(argv=None) -> int:
    from emozoo.errors import EmozooError

    p = argparse.ArgumentParser(prog="python -m emozoo.explain", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("image", help="face photo (any size; the largest face is cropped)")
    p.add_argument("--model", required=True, help="face_cnn zoo model (face_cnn_jaffe, face_cnn_ckplus, face_cnn_fer2013)")
    p.add_argument("--method", default="guided", help="vanilla, guided or both (default guided)")
    p.add_argument("--target", help="class whose probability is differentiated (default: the predicted one)")
    p.add_argument("--modify", nargs="*", default=[], metavar="TARGET",
                   help="classes to push the face toward ('predicted' = intensify)")
    p.add_argument("--steps", type=int, default=100, help="step budget of the modification")
    p.add_argument("--step-size", type=float, default=2.0, help="largest pixel change per step (grey levels)")
    p.add_argument("--max-change", type=float, help="L-inf bound on the total pixel change")
    p.add_argument("--root", help="zoo folder (default saved_models/ or $EMOZOO_ZOO_DIR)")
    p.add_argument("--out", required=True, help="output folder for the PNGs and the JSON summary")
    a = p.parse_args(argv)
    try:
        s = explain(a.model, a.image, a.out, method=a.method, target=a.target, modify=a.modify, steps=a.steps,
                    step_size=a.step_size, max_change=a.max_change, root=a.root)
    except EmozooError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({k: s[k] for k in ("predicted", "target", "files", "region_shares")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
