"""Zoo presets of EMODal: the model cards of what ``saved_models/`` holds.

``emodal_ravdess_av`` is retrained, exported and published by
``python -m emozoo.publish emodal_ravdess_av`` (``RECIPES`` below: :func:`.emodal_zoo.publish_ravdess_av`;
it adds the exact ``command``, the measured
``metrics`` read from ``benchmarks/results/emodal_4class.json`` and the training facts).

``emodal_video`` (video file -> middle-frame face + audio track -> EMODal CNN) is *not* published:
no real paired raw video is available to train it here; :mod:`.emodal_video` has the exporter and
the predictor (kind ``emodal_video``) for whoever trains one on RAVDESS video (``01-01-*.mp4``).
"""

LICENCE = ("trained on RAVDESS (CC BY-NC-SA 4.0: non-commercial, share-alike, attribution); the trained "
           "weights inherit these terms: research / non-commercial use only")

PRESETS = {
    "emodal_ravdess_av": {
        "method": "emodal",
        "description": "EMODal (Zhang et al. 2018): audio network 128-64-10 on a 259-dim MFCC vector + dense visual "
                       "branch 128-64-10 on 35 OpenFace action units, trained with the common (soft-HGR) + classify + "
                       "two specific losses; prediction = softmax on the concatenated 10+10 features; "
                       "neutral/happy/angry/sad",
        "experiment": "emodal/ravdess_av/4class/both",
        "train_command": "python -m emozoo.publish emodal_ravdess_av",
        "training_corpora": ["ravdess_av"],
        "label_set": "4class",
        "input": {
            "kind": "emodal_av (emozoo.load returns EMODalFeaturePredictor)",
            "audio": "float32 [N, 259]: the X_audio_mfcc vector of ravdess_av_features/au_mfcc_features.npz (an "
                     "MFCC-derived per-clip vector of the clip's audio; its exact recipe is not documented by the "
                     "data's provider: it correlates 0.84-0.96 with MFCCs of the matching RAVDESS audio file)",
            "visual": "float32 [N, 35]: OpenFace 2 facial action units of the clip's video, summarised per clip: "
                      "17 intensities AU01_r..AU45_r then 18 presences AU01_c..AU45_c (X_visual_au); extractor "
                      "recipe: run OpenFace FeatureExtraction on the video and average each AU column over the "
                      "frames",
            "also": "a flat [N, 294] array (audio then visual), or the path of an .npz with X_audio_mfcc and "
                    "X_visual_au",
        },
        "normalisation": "z-normalisation of each modality inside the SavedModel (statistics of the training actors)",
        "paper": "Zhang, Gu, Ma, Ni, Zhang, Huang: Multimodal emotion recognition by extracting common and "
                 "modality-specific information, SenSys 2018 poster",
        "licence": LICENCE,
        "metrics_source": "benchmarks/results/emodal_4class.json (actor-independent 6-fold CV, 5 seeds); the "
                          "published model is trained on all actors, so these estimate the recipe, not this model",
        "metrics_command": "python pipelines/emodal_table.py",
    },
}

#: how ``python -m emozoo.publish NAME`` retrains, exports and publishes each preset (:mod:`emozoo.publish`)
RECIPES = {
    "emodal_ravdess_av": {"target": "emozoo.models.emodal.emodal_zoo:publish_ravdess_av", "kwargs": {},
                          "options": ("seed",)},
}
