"""Zoo presets of the cross-culture adversarial method: the model cards of what ``saved_models/`` holds.

``adv_culture_speech`` and ``adv_culture_face`` are retrained, exported and published by
``python -m emozoo.publish adv_culture_{speech,face}`` (their ``RECIPES`` below:
:func:`.adv_culture_zoo.train_and_publish`, which adds to these
cards the exact ``command``, the measured tables read from
``benchmarks/results/adv_culture[_dface].json`` and the training facts). The SavedModels hold the
inference path only (no C). Speech: normalisation + G + E, signatures ``serve_features(features)``
(culture unknown: the pooled normalisation row, fitted on all three cultures together) and
``serve_features_culture(features, culture)``; ``emozoo.load`` uses ``serve_features``. Face:
Dface + normalisation + G + E, signatures ``classify(face)``, ``classify_culture(face, culture)``
and ``embed(face)``; ``emozoo.load`` returns a :class:`~emozoo.zoo.predictor.FacePredictor`.
"""

LICENCE = ("trained on EmoDB (TU Berlin: research use), CASIA (research use) and RAVDESS "
           "(CC BY-NC-SA 4.0: non-commercial, share-alike, attribution); the trained weights inherit "
           "these terms: research / non-commercial use only")

FACE_LICENCE = ("trained on JAFFE and CK+ (both: research use only, no redistribution of the images) on "
                "top of Dface trained on FER2013 (research use); the weights inherit these terms: research / "
                "non-commercial use only")

PRESETS = {
    "adv_culture_speech": {
        "method": "adv_culture",
        "description": "Liang et al. 2019 adversarial cross-culture network (IS10 -> G 512-256 -> E 500 -> 4 emotions, "
                       "culture classifier C used in training only), trained multi-culture on EmoDB (German), "
                       "CASIA (Mandarin) and RAVDESS (English); neutral/happy/angry/sad",
        "experiment": "adv_culture/multi/emodb+casia+ravdess/is10/adv",
        "train_command": "python -m emozoo.publish adv_culture_speech",
        "training_corpora": ["emodb", "casia", "ravdess"],
        "protocol": "multi-culture ADV (S_C 1, S_G 2, alpha 1, Adam 1e-4) on all labelled 4-class clips of the "
                    "three IS10 stores (emodb 339, casia 800, ravdess 672), smaller cultures upsampled, CPU preset "
                    "(10 epochs, batch 64, seed 0, no model selection), culture-specific z-normalisation",
        "normalisation": "culture-specific z-normalisation inside the SavedModel; serve_features (what emozoo.load "
                         "uses: the culture of a new clip is unknown) applies the pooled statistics row, fitted on "
                         "the clips of all three cultures together; serve_features_culture(features, culture) "
                         "applies a known culture's row (0 emodb, 1 casia, 2 ravdess, -1 pooled)",
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
        "metrics_source": "benchmarks/results/adv_culture.json, multi-culture ADV rows per test culture (5 seeds, "
                          "speaker 4-fold inside every corpus; BSL rows beside them for reference). The published "
                          "model is trained on all clips, so these are estimates of the recipe, not of it",
        "metrics_command": "python pipelines/adv_culture_table.py",
    },
    "adv_culture_face": {
        "method": "adv_culture",
        "description": "Liang et al. 2019 adversarial cross-culture network on faces (MTCNN crop -> Dface 336 -> "
                       "G 512-256 -> E 500 -> 6 emotions, culture classifier C used in training only), trained "
                       "multi-culture on JAFFE (Japanese posers) and CK+48 (American posers); anger, disgust, "
                       "fear, happy, sadness, surprise",
        "experiment": "adv_culture/multi/jaffe+ckplus/dface/adv",
        "train_command": "python -m emozoo.publish adv_culture_face",
        "training_corpora": ["jaffe", "ckplus"],
        "protocol": "multi-culture ADV (S_C 1, S_G 2, alpha 1, Adam 1e-4) on all labelled 6basic images of the "
                    "two Dface stores, JAFFE upsampled to CK+48's count, CPU preset (20 epochs, batch 64, seed 0, "
                    "no model selection), culture-specific z-normalisation",
        "normalisation": "culture-specific z-normalisation of the Dface embedding inside the SavedModel; classify "
                         "(what emozoo.load uses: the culture of a new face is unknown) applies the pooled row, "
                         "fitted on the images of both cultures together; classify_culture(face, culture) applies "
                         "a known culture's row (0 jaffe/Japanese, 1 ckplus/American, -1 pooled)",
        "label_set": "6basic",
        "input": {
            "file": "an image file (TIFF/PNG/JPEG, grey or RGB): the largest MTCNN face is cropped to 48x48 grey "
                    "in Python (emozoo.features.face.FaceCropper, the whole image when no face is found)",
            "face": "float32 [N, 48, 48, 1] grey face crops in 0..255",
        },
        "paper": "Liang, Chen, Zhao, Jin, Liu, Lu: Cross-culture multimodal emotion recognition with adversarial "
                 "learning, ICASSP 2019",
        "licence": FACE_LICENCE,
        "metrics_source": "benchmarks/results/adv_culture_dface.json, multi-culture ADV rows per test culture (5 "
                          "seeds, subject 5-fold inside every corpus; BSL rows beside them for reference; every "
                          "setting in metrics.tables). The published model is trained on all images, so these are "
                          "estimates of the recipe, not of it",
        "metrics_command": "python pipelines/adv_culture_table.py --features dface",
    },
}

#: how ``python -m emozoo.publish NAME`` retrains, exports and publishes each preset (:mod:`emozoo.publish`)
RECIPES = {
    "adv_culture_speech": {"target": "emozoo.models.adv_culture.adv_culture_zoo:train_and_publish",
                           "kwargs": {"name": "adv_culture_speech", "features": "is10"}, "options": ("seed",)},
    "adv_culture_face": {"target": "emozoo.models.adv_culture.adv_culture_zoo:train_and_publish",
                         "kwargs": {"name": "adv_culture_face", "features": "dface"}, "options": ("seed",)},
}
