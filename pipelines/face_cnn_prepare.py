"""Build the face stores of the face CNN (issue 9): JAFFE and CK+48 crops with MTCNN landmarks, FER2013.

    EMOZOO_DATA_DIR=../shared/data python pipelines/face_cnn_prepare.py [--corpora jaffe,ckplus,fer2013]

Writes ``tfrecords/face_cnn_{jaffe,ckplus,fer2013}/faces.npz`` and ``extract.json`` (git-ignored;
format and cropping in :mod:`emozoo.models.face_cnn.face_cnn_data`).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(argv=None) -> int:
    from emozoo.models.face_cnn.face_cnn_data import build_culture_store, build_fer2013_store, store_dir

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("EMOZOO_DATA_DIR", ""))
    p.add_argument("--corpora", default="jaffe,ckplus,fer2013")
    p.add_argument("--root", default=str(REPO / "tfrecords"))
    p.add_argument("--limit", type=int, default=0, help="first N images only (smoke runs)")
    a = p.parse_args(argv)
    if not a.data_dir:
        p.error("give --data-dir or set EMOZOO_DATA_DIR")
    for corpus in a.corpora.split(","):
        t0 = time.time()
        out = store_dir(corpus, a.root)
        if corpus == "fer2013":
            build_fer2013_store(a.data_dir, out, a.limit)
        else:
            build_culture_store(corpus, a.data_dir, out, a.limit)
        info = json.loads((out / "extract.json").read_text())
        info.pop("cropper", None)
        print(f"{corpus}: {out} in {time.time() - t0:.0f} s {json.dumps(info)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
