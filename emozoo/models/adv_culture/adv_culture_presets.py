"""Zoo presets of the cross-culture adversarial method: the model cards of what ``saved_models/`` will hold.

Status: the entries are described here; exporting and publishing them goes through
``python -m emozoo.export --preset NAME`` (``emozoo/export``, ``emozoo/zoo``), which needs the
trainer hook of docs/methods/adv_culture.md (culture labels and unlabelled data) to train the
experiment it names. The inference SavedModel is written by
:meth:`AdversarialCultureModel.export_inference`: normalisation + G + E only (no C), signatures
``serve_features(features)`` (culture unknown: pooled normalisation statistics) and
``serve_features_culture(features, culture)``.
"""

LICENCE = ("trained on EmoDB (research use), CASIA (terms of its distributor) and RAVDESS "
           "(CC BY-NC-SA 4.0): research / non-commercial use only")

PRESETS = {
    "adv_culture_speech": {
        "method": "adv_culture",
        "description": "Liang et al. 2019 adversarial cross-culture network (IS10 -> G 512-256 -> E 500 -> 4 emotions, "
                       "culture classifier C used in training only), trained multi-culture on EmoDB (German), "
                       "CASIA (Mandarin) and RAVDESS (English); neutral/happy/angry/sad",
        "experiment": "adv_culture/multi/emodb+casia+ravdess/is10/adv",
        "train_command": "python -m emozoo.train --experiment adv_culture/multi/emodb+casia+ravdess/is10/adv "
                         "--model-dir runs/adv_culture_speech",
        "training_corpora": ["emodb", "casia", "ravdess"],
        "protocol": "multi-culture: all three corpora labelled, smaller ones upsampled, culture-specific z-normalisation",
        "label_set": "4class",
        "input": {
            "file": "mono audio file (any rate: resampled to 16 kHz), IS10 computed in Python with openSMILE "
                    "(openSMILE cannot run inside a TensorFlow graph, so extraction happens before the SavedModel)",
            "features": "float32 [N, 1582] openSMILE IS10_paraling functionals; optional culture index "
                        "(0 emodb/German, 1 casia/Mandarin, 2 ravdess/English; -1 or serve_features: unknown)",
        },
        "paper": "Liang, Chen, Zhao, Jin, Liu, Lu: Cross-culture multimodal emotion recognition with adversarial "
                 "learning, ICASSP 2019",
        "licence": LICENCE,
        "metrics_source": "benchmarks/results/adv_culture.json, multi-culture ADV rows (5 seeds, speaker 4-fold)",
        "metrics_command": "python pipelines/adv_culture_table.py",
    },
}
