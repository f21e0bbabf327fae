"""Retrain and publish the flagship zoo model ``emotion_speech``::

    python -m emozoo.models.emotion_speech.emotion_speech_loco --seeds 5   # LOCO benchmark, chooses the head
    python pipelines/publish_emotion_speech.py                             # ~1 min on 2 CPU cores

Trains the head chosen by leave-one-corpus-out (``benchmarks/results/emotion_speech_loco.json``)
on every labelled clip of the ``tfrecords/{emodb,casia,ravdess}_whisper_base`` stores, and
publishes the head (not the backbone) atomically with :func:`emozoo.zoo.publish`
(:func:`emozoo.models.emotion_speech.emotion_speech_zoo.train_and_publish`).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from emozoo.models.emotion_speech.emotion_speech_zoo import train_and_publish  # noqa: E402

if __name__ == "__main__":
    train_and_publish(REPO)
