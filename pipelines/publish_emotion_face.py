"""Retrain and publish the flagship zoo model ``emotion_face``::

    python pipelines/face_finetune.py --build jaffe,ckplus,fer2013 --blocks 1   # block-12 trunk caches (once)
    python -m emozoo.models.emotion_face.emotion_face_loco --seeds 3           # LOCO benchmark, chooses the design
    python -m emozoo.models.emotion_face.emotion_face_within --seeds 3         # within-corpus figures (card)
    python pipelines/publish_emotion_face.py                                   # ~5 min on one CPU core

Builds the 7-class JAFFE trunk cache when it is missing (``EMOZOO_DATA_DIR`` needed then), trains
the design chosen by leave-one-corpus-out (``benchmarks/results/emotion_face_loco.json``) on
FER2013 train + CK+48 + JAFFE and publishes block 13 + statistics + head (not the backbone)
atomically with :func:`emozoo.zoo.publish`
(:func:`emozoo.models.emotion_face.emotion_face_zoo.train_and_publish`).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--design", choices=("frozen", "top1"), help="override the LOCO choice (not for publishing)")
    ap.add_argument("--threads", type=int, default=1, help="TensorFlow threads")
    a = ap.parse_args()
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(a.threads)
    tf.config.threading.set_inter_op_parallelism_threads(a.threads)
    from emozoo.models.emotion_face.emotion_face_data import CACHE_NAMES, build_jaffe7, cache_root
    from emozoo.models.emotion_face.emotion_face_zoo import train_and_publish

    if not (cache_root(REPO) / CACHE_NAMES["jaffe7"] / "cache.json").exists():
        build_jaffe7(REPO)
    train_and_publish(REPO, design=a.design)
