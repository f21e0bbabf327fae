"""Write ``tests/backbones/fixtures/face_reference.npz``: TF.js-runtime outputs of the face graphs.

Run once by hand (see README.md here): builds the preprocessed inputs with
:mod:`emozoo.backbones.face.parity` (one synthetic input per model, plus a JAFFE and a CK+48
image when ``EMOZOO_DATA_DIR`` is set), runs ``face_reference.mjs`` under node with
``@tensorflow/tfjs`` (pure-JS CPU backend) on the installed ``face_mobilenet`` / ``face_emotion``
graph files, and stores the outputs with the input sha256s, formulas and the tfjs version.

    python tools/reference/face_reference.py --node-modules /tmp/face_ref/node_modules
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from emozoo import weights  # noqa: E402
from emozoo.backbones.face import parity  # noqa: E402

MODELS = {
    "face_mobilenet": {"weights": "face_mobilenet", "file": "faceres-deep.json",
                       "outputs": {"embedding": "global_pooling/Mean", "feats": "feats/Relu",
                                   "age": "age_pred/Softmax", "gender": "gender_pred/Sigmoid"}},
    "face_emotion": {"weights": "face_emotion", "file": "emotion.json",
                     "outputs": {"probabilities": "Identity"},
                     "pooled": {"embedding": "StatefulPartitionedCall/model_1/add_2/add"}},
}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--node-modules", required=True, help="folder holding @tensorflow/tfjs (npm install @tensorflow/tfjs@4)")
    p.add_argument("--out", default=str(ROOT / "tests/backbones/fixtures/face_reference.npz"))
    args = p.parse_args(argv)
    data_dir = os.environ.get("EMOZOO_DATA_DIR")
    inputs = {"face_mobilenet/synthetic": parity.synthetic_mobilenet_input(),
              "face_emotion/synthetic": parity.synthetic_emotion_input()}
    if data_dir:
        for key in parity.REAL_IMAGES:
            inputs[f"face_mobilenet/{key}"] = parity.real_mobilenet_input(data_dir, key)
            inputs[f"face_emotion/{key}"] = parity.real_emotion_input(data_dir, key)
    with tempfile.TemporaryDirectory() as tmp:
        req = {"models": {k: {"json": str(weights.path(m["weights"]) / m["file"]), "outputs": m["outputs"],
                              "pooled": m.get("pooled", {})} for k, m in MODELS.items()},
               "inputs": []}
        for i, (name, x) in enumerate(inputs.items()):
            f = Path(tmp) / f"in{i}.f32"
            f.write_bytes(np.ascontiguousarray(x, "<f4").tobytes())
            req["inputs"].append({"name": name, "model": name.split("/")[0], "shape": list(x.shape), "file": str(f)})
        (Path(tmp) / "req.json").write_text(json.dumps(req))
        env = dict(os.environ, NODE_PATH=args.node_modules)
        subprocess.run(["node", str(ROOT / "tools/reference/face_reference.mjs"), str(Path(tmp) / "req.json"),
                        str(Path(tmp) / "out.json")], check=True, env=env)
        out = json.loads((Path(tmp) / "out.json").read_text())
    arrays = {}
    for name, res in out["results"].items():
        for key, t in res.items():
            arrays[f"{name}/{key}"] = np.asarray(t["data"], np.float32).reshape(t["shape"])
        arrays[f"{name}/input_sha256"] = np.asarray(parity.sha256(inputs[name]))
    arrays["meta"] = np.asarray(json.dumps({
        "tfjs_version": out["tfjs_version"], "backend": out["backend"], "node": subprocess.run(
            ["node", "--version"], capture_output=True, text=True).stdout.strip(),
        "synthetic_mobilenet": parity.SYNTH_MOBILENET, "synthetic_emotion": parity.SYNTH_EMOTION,
        "real_images": parity.REAL_IMAGES, "generator": "tools/reference/face_reference.py"}))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {args.out}: {sorted(arrays)} (tfjs {out['tfjs_version']}, {out['backend']})")


if __name__ == "__main__":
    main()
