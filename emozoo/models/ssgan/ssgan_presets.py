"""Zoo presets of the semi-supervised CT-GAN method: the model cards of ``ssgan_speech`` and
``ssgan_face`` (``python pipelines/publish_ssgan_speech.py`` / ``publish_ssgan_face.py`` retrain,
export and publish them, adding the measured metrics of the published model and of its table row).

Both are the discriminator's classifier head (D's trunk + C, softmax over the K emotions, the
generated class dropped) of an SSGAN trained with Algorithm 1 (CPU preset of
:mod:`emozoo.models.ssgan.ssgan_experiments`).
"""

LICENCE_SPEECH = ("trained on RAVDESS (CC BY-NC-SA 4.0), with EmoDB (TU Berlin, research use) and CASIA (research use) "
                  "as unlabelled data: research / non-commercial use only")
LICENCE_FACE = "trained on FER2013 (Kaggle ICML 2013 challenge terms: research use only)"

PRESETS = {
    "ssgan_speech": {
        "method": "ssgan",
        "description": "Liang, Chen, Jin 2019 semi-supervised CT-GAN, uni-modal acoustic SSGAN: waveform -> 128-bin "
                       "Fbank (in graph) -> centre 128-frame crop -> 2x2 pool -> conv D (16-32-64, dropout 0.2) -> "
                       "K+1 classifier; neutral/happy/angry/sad",
        "experiment": "ssgan/speech/frac50",
        "train_command": "python pipelines/publish_ssgan_speech.py",
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
        "description": "Liang, Chen, Jin 2019 semi-supervised CT-GAN, uni-modal visual SSGAN on 48x48 grey faces: "
                       "conv D (16-32-64, dropout 0.2) -> K+1 classifier; FER2013's 7 classes",
        "experiment": "ssgan/face/frac50",
        "train_command": "python pipelines/publish_ssgan_face.py",
        "training_corpora": ["fer2013 train (a 4000-face pool, seed 0: 50 % labelled, the rest unlabelled)"],
        "protocol": "seed 0 of the table's 50 % row: validation 600 PublicTest faces (model selection on UAR), "
                    "test the whole PrivateTest (3589), CPU preset (300 steps, batch 32 + 32, Adam 2e-4 / beta_1 0.5)",
        "label_set": "7basic",
        "input": {"file": "image file (largest MTCNN face cropped, grey 48x48) or face crops [N, 48, 48, 1] in "
                          "0..255",
                  "signature": "classify(face) -> probabilities, logits; embed(face) -> embedding (D_)"},
        "paper": "Liang, Chen, Jin: Semi-supervised multimodal emotion recognition with improved Wasserstein GANs "
                 "(CT-GAN), APSIPA 2019",
        "licence": LICENCE_FACE,
        "metrics_command": "python pipelines/ssgan_table.py --setting face",
    },
}
