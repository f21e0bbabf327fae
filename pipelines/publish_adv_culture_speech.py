"""Retrain and publish the zoo model ``adv_culture_speech``::

    python pipelines/publish_adv_culture_speech.py            # ~1-2 min on 2 CPU cores

Trains :class:`AdversarialCultureModel` in ADV mode (S_C=1, S_G=2, alpha=1, Adam 1e-4) on *all*
labelled 4-class clips of the three IS10 stores ``tfrecords/{emodb,casia,ravdess}_is10``
(multi-culture, every culture labelled, smaller cultures upsampled to the largest), with the CPU
preset of the table runner (``adv_culture_experiments.CPU_PRESET``: 10 epochs, batch 64, seed 0),
then exports the inference path (culture z-normalisation + G + E; C is not exported) with
``tf.saved_model.save`` and publishes it atomically with :func:`emozoo.zoo.publish`.

Signatures: ``serve_features(features [N, 1582])`` uses the *pooled* normalisation row (culture
unknown), ``serve_features_culture(features, culture [N] int32)`` the row of a known culture
(0 emodb, 1 casia, 2 ravdess; -1 pooled). The model card (``adv_culture_presets.PRESETS``) gets
the measured tables (every setting, mean +- std over seeds) read from
``benchmarks/results/adv_culture.json`` (``python pipelines/adv_culture_table.py``).
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
    sys.exit(publish_cli("adv_culture_speech", "is10", repo=REPO, doc=__doc__))
