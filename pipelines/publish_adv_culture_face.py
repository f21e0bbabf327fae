"""Retrain and publish the zoo model ``adv_culture_face``::

    python pipelines/publish_adv_culture_face.py             # ~1 min on 2 CPU cores

Trains :class:`AdversarialCultureModel` in ADV mode (S_C=1, S_G=2, alpha=1, Adam 1e-4) on *all*
labelled 6-emotion images of the two Dface stores ``tfrecords/{jaffe,ckplus}_dface`` (JAFFE
Japanese and CK+48 American posers, both labelled, JAFFE upsampled to CK+48's count), with the
CPU preset of the table runner (``adv_culture_experiments.EPOCHS["face"]`` epochs, batch 64,
seed 0), then exports Dface (the zoo's ``dface_fer2013``, inside the SavedModel) + culture
z-normalisation + G + E (C is not exported) and publishes it atomically.

Input: a face image (``emozoo.load('adv_culture_face').predict(path)`` crops the largest MTCNN
face to 48x48 grey as the stores were written); signatures ``classify(face [N, 48, 48, 1] 0..255)``
(pooled normalisation row: culture unknown), ``classify_culture(face, culture)`` (0 jaffe, 1
ckplus, -1 pooled) and ``embed(face)`` (the Dface embedding). The card carries the measured tables
from ``benchmarks/results/adv_culture_dface.json``
(``python pipelines/adv_culture_table.py --features dface``).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from emozoo.models.adv_culture.adv_culture_zoo import publish_cli  # noqa: E402

if __name__ == "__main__":
    sys.exit(publish_cli("adv_culture_face", "dface", repo=REPO, doc=__doc__))
