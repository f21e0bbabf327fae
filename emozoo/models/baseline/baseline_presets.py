"""Zoo presets of the baseline: the model cards of what ``saved_models/`` holds.

Each entry names the experiment that trains it and the benchmark whose measured metrics go into
the card; ``python -m emozoo.export --preset NAME`` merges the card, the metrics and the files'
checksums into ``saved_models/registry.json``.
"""

EMODB_LICENCE = ("EmoDB (TU Berlin): free for research use; the trained weights inherit the corpus's "
                 "terms: research / non-commercial use only")

PRESETS = {
    "baseline_emodb_is10": {
        "method": "baseline",
        "description": "BSL baseline (IS10 -> G 512-256 -> E 500 -> 4 emotions) trained on EmoDB "
                       "(German acted speech), neutral/happy/angry/sad",
        "experiment": "baseline/emodb/is10/all",
        "train_command": "python -m emozoo.train --experiment baseline/emodb/is10/all "
                         "--model-dir runs/baseline_emodb_is10_all",
        "training_corpora": ["emodb"],
        "protocol": "all EmoDB speakers but two, held out for model selection on validation UAR; 4-class clips only",
        "label_set": "4class",
        "input": {
            "file": "mono audio file (any rate: resampled to 16 kHz), IS10 computed in Python with openSMILE",
            "features": "float32 [N, 1582] openSMILE IS10_paraling functionals (signature serve_features)",
        },
        "paper": "Liang et al. 2019, cross-culture adversarial learning, baseline BSL (sec. 4.2)",
        "licence": EMODB_LICENCE,
        "metrics_source": "baseline/emodb/is10/loso, 5 seeds (speaker-independent estimate of this recipe)",
        "metrics_command": "python -m emozoo.train --experiment baseline/emodb/is10/loso --seeds 5 "
                           "--model-dir runs/baseline_emodb_is10_loso",
    },
}
