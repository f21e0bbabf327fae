"""Retrain, export and publish the zoo model ``ssgan_face``::

    EMOZOO_DATA_DIR=../shared/data python pipelines/publish_ssgan_face.py   # ~1 min on 2 CPU cores

The dense SSGAN of the ``face_dface`` setting on Dface embeddings (stores
``tfrecords/{ckplus,jaffe}_dface``, ``python -m emozoo.extract`` as in docs/features.md), fold/seed 0:
every image of the fold's CK+ training subjects labelled, JAFFE's images unlabelled, validation
subjects for model selection, test subjects held out, ``combine`` normalisation
(:data:`emozoo.models.ssgan.ssgan_zoo.ZOO_RUNS`; :func:`emozoo.models.ssgan.ssgan_task.run_one`,
CPU preset of ``emozoo/models/ssgan/ssgan_experiments.py``, ~10 s of training). The export
(:func:`emozoo.models.ssgan.ssgan_zoo.export_face`) puts the restored ``dface_fer2013`` backbone,
the z-normalisation and the discriminator's classifier head in one SavedModel on 48x48 grey faces,
published atomically with :func:`emozoo.zoo.publish`. The card (``ssgan_presets.PRESETS``) gets
the model's own held-out CK+ test metrics, its JAFFE check, and the face_dface table's
mean +- std from ``benchmarks/results/ssgan_face_dface.json``. Trained weights are kept under
``runs/ssgan/zoo_face_dface/`` (delete them to retrain).
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
    train_and_publish("face_dface", REPO)
