"""Retrain and publish the flagship zoo model ``emotion_text``::

    python -m emozoo.models.emotion_text.emotion_text_eval --seeds 5   # cross-corpus choice, session 5, MELD test
    python pipelines/publish_emotion_text.py                           # a few minutes on 2 CPU cores

Trains the head chosen by cross-corpus validation (``benchmarks/results/emotion_text_eval.json``)
for both label sets (``4class`` on every labelled turn of IEMOCAP, + MELD unless the measured mix
rows say adding it hurts both corpora; ``meld7`` on MELD's train dialogues) from the ``tfrecords/{iemocap_text,meld}_mpnet`` stores, and publishes the heads
(not the backbone) atomically with :func:`emozoo.zoo.publish`
(:func:`emozoo.models.emotion_text.emotion_text_zoo.train_and_publish`).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from emozoo.models.emotion_text.emotion_text_zoo import train_and_publish  # noqa: E402

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    train_and_publish(REPO, seed=ap.parse_args().seed)
