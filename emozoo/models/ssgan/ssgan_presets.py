"""Zoo presets of the semi-supervised CT-GAN method: the model cards of ``ssgan_speech`` and
``ssgan_face`` (``python -m emozoo.publish ssgan_speech`` / ``ssgan_face`` retrain, export and
publish them with :func:`.ssgan_zoo.train_and_publish`, ``RECIPES`` below, adding the measured
metrics of the published model and of its table row).

Both are the discriminator's classifier head (D's trunk + C, softmax over the K emotions, the
generated class dropped) of an SSGAN trained with Algorithm 1 (CPU preset of
:mod:`emozoo.models.ssgan.ssgan_experiments`); ``ssgan_face`` is the dense SSGAN of the
``face_dface`` setting with the Dface backbone inside the SavedModel.
"""

LICENCE_SPEECH = ("trained on RAVDESS (CC BY-NC-SA 4.0), with EmoDB (TU Berlin, research use) and CASIA (research use) "
                  "as unlabelled data: research / non-commercial use only")
LICENCE_FACE = ("trained on CK+ and JAFFE (both forbid redistribution of their images; research use) with the "
                "FER2013-trained Dface backbone (research use): research / non-commercial use only")

PRESETS = {
    "ssgan_speech": {
        "method": "ssgan",
        "description": "Liang, Chen, Jin 2019 semi-supervised CT-GAN, uni-modal acoustic SSGAN: waveform -> 128-bin "
                       "Fbank (in graph) -> centre 128-frame crop -> 2x2 pool -> conv D (16-32-64, dropout 0.2) -> "
                       "K+1 classifier; neutral/happy/angry/sad",
        "experiment": "ssgan/speech/frac50",
        "train_command": "python -m emozoo.publish ssgan_speech",
        "training_corpora": ["ravdess (labelled: 50 % of the training actors' 4-class clips)",
                             "emodb, casia (unlabelled: every clip, labels never read)"],
        "protocol": "fold 0 / seed 0 of the table's 50 % row: RAVDESS actors in 5 groups (test group 0, "
                    "validation group 1), CPU preset (300 steps, batch 32 labelled + 32 unlabelled, Adam 2e-4 / "
                    "beta_1 0.5, S_D = S_G = 1, lambda 1), model selection on validation UAR",
        "label_set": "4class",
        "input": {"file": "audio file (any rate, resampled to 16 kHz) or a mono waveform with sample_rate",
                  "signature": "serve_waveform(waveform [N, samples] float32 16 kHz) -> probabilities, logits, "
                               "embedding"},
        "paper": "Liang, Chen, Jin: Semi-supervised multimodal emotion recognition with improved Wasserstein GANs "
                 "(CT-GAN), APSIPA 2019",
        "licence": LICENCE_SPEECH,
        "metrics_command": "python pipelines/ssgan_table.py --setting speech",
    },
    "ssgan_face": {
        "method": "ssgan",
        "description": "Liang, Chen, Jin 2019 semi-supervised CT-GAN, uni-modal visual SSGAN on the paper's visual "
                       "features: face image -> MTCNN crop 48x48 grey -> Dface embedding (dface_fer2013, 336-dim, "
                       "inside the SavedModel) -> z-norm (in graph) -> dense D (256-128, LeakyReLU 0.2, dropout "
                       "0.2) -> K+1 classifier C; output: softmax over the 6 basic emotions (the generated class "
                       "K+1 dropped, its probability returned separately as fake_probability)",
        "experiment": "ssgan/face_dface (CPU preset; zoo recipe: labelled fraction 1.0, normalisation 'combine')",
        "train_command": "python -m emozoo.publish ssgan_face",
        "training_corpora": ["ckplus (CK+48, labelled: every image of the training subjects of fold 0, 534 images; "
                             "contempt not in 6basic)",
                             "jaffe (unlabelled: its 183 6basic images, labels never read in training)"],
        "protocol": "fold 0 / seed 0 of the face_dface setting: CK+ subjects in 5 groups (test group 0, 198 images "
                    "held out; validation group 1, 195 images, model selection on UAR; the other 3 groups all "
                    "labelled), JAFFE as the unlabelled pool; CPU preset (300 steps, batch 32 labelled + 32 "
                    "unlabelled, Adam 2e-4 / beta_1 0.5, S_D = S_G = 1, lambda 1); normalisation 'combine' "
                    "(sec. V-B: statistics of labelled CK+ + unlabelled JAFFE), chosen over the table's 'self' "
                    "because it gave the better JAFFE check (so that JAFFE figure is not an unbiased estimate)",
        "label_set": "6basic",
        "input": {"file": "image file (largest MTCNN face cropped, FaceCropper(size=48, policy='full'), the whole "
                          "image when no face is found) or face crops [N, 48, 48, 1] in 0..255",
                  "signature": "classify(face) -> probabilities, logits, fake_probability; embed(face) -> embedding "
                               "(Dface), discriminator_features (D_)"},
        "paper": "Liang, Chen, Jin: Semi-supervised multimodal emotion recognition with improved Wasserstein GANs "
                 "(CT-GAN), APSIPA 2019",
        "licence": LICENCE_FACE,
        "metrics_command": "python pipelines/ssgan_table.py --setting face_dface",
        "metrics_protocol": "metrics.table: the face_dface table (CK+ subject 5-fold, fold k = seed k, labelled "
                            "fraction 10/20/50 % of the training subjects' images, the rest + JAFFE unlabelled, "
                            "normalisation 'self'), mean +- std (ddof 1) over the 5 folds, CK+ test subjects; "
                            "metrics.published_model_test: this model on its fold-0 CK+ test subjects (198 images); "
                            "metrics.jaffe_transductive: this model on the 183 JAFFE 6basic images (seen unlabelled "
                            "in training), from the jaffe_dface store",
    },
}

#: how ``python -m emozoo.publish NAME`` retrains, exports and publishes each preset (:mod:`emozoo.publish`)
RECIPES = {
    "ssgan_speech": {"target": "emozoo.models.ssgan.ssgan_zoo:train_and_publish", "kwargs": {"setting": "speech"},
                     "options": ()},
    "ssgan_face": {"target": "emozoo.models.ssgan.ssgan_zoo:train_and_publish", "kwargs": {"setting": "face_dface"},
                   "options": ()},
}
