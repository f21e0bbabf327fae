"""Retrain, export and publish the zoo model ``ssgan_face``::

    python pipelines/publish_ssgan_face.py      # ~5 min on 2 CPU cores (EMOZOO_DATA_DIR set)

Trains the SSGAN of the table's 50 % row, fold/seed 0 (:func:`emozoo.models.ssgan.ssgan_task.run_one`,
CPU preset of ``emozoo/models/ssgan/ssgan_experiments.py``), exports the discriminator's classifier
head (:mod:`emozoo.models.ssgan.ssgan_zoo`) and publishes it atomically with
:func:`emozoo.zoo.publish`. The card (``ssgan_presets.PRESETS``) gets the published model's own
test metrics and the table row's mean +- std from ``benchmarks/results/ssgan_face.json``.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from emozoo.models.ssgan.ssgan_zoo import train_and_publish  # noqa: E402

if __name__ == "__main__":
    train_and_publish("face", REPO)
