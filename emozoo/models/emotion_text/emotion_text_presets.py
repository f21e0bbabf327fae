"""Zoo preset of the flagship text model ``emotion_text`` and its publish recipe.

The full card is written at publish time by :func:`.emotion_text_zoo.card` from the measured
cross-corpus evaluation (the head it chose, the metrics); ``PRESETS`` holds its fixed part (what
``python -m emozoo.publish --list`` shows), ``RECIPES`` how ``python -m emozoo.publish emotion_text``
retrains and publishes it (:func:`.emotion_text_zoo.train_and_publish`).
"""

#: how to rerun the benchmark that chooses the recipe, then publish
RETRAIN = ("python -m emozoo.models.emotion_text.emotion_text_eval --seeds 5 && python -m emozoo.publish emotion_text")

PRESETS = {
    "emotion_text": {
        "method": "emotion_text",
        "description": ("flagship text model: a conversation (turns in spoken order) or single utterances -> "
                        "all-mpnet-base-v2 sentence embeddings (computed by the predictor) -> the head chosen by "
                        "cross-corpus validation -> 4class neutral/happy/angry/sad (default) or meld7 (MELD's seven) "
                        "probabilities per turn"),
        "experiment": "emozoo.models.emotion_text.emotion_text_zoo:train_and_publish",
        "train_command": "python -m emozoo.publish emotion_text",
        "retrain_command": RETRAIN,
    },
}

#: how ``python -m emozoo.publish NAME`` retrains, exports and publishes each preset (:mod:`emozoo.publish`)
RECIPES = {
    "emotion_text": {"target": "emozoo.models.emotion_text.emotion_text_zoo:train_and_publish", "kwargs": {},
                     "options": ("seed",),
                     "trains": "the head chosen by cross-corpus validation (benchmarks/results/emotion_text_eval.json) "
                               "for 4class (IEMOCAP [+ MELD]) and meld7 (MELD train)"},
}
