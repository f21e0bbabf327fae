"""Zoo preset of the flagship speech model ``emotion_speech`` and its publish recipe.

The full card is written at publish time by :func:`.emotion_speech_zoo._card` from the measured
leave-one-corpus-out benchmark (the head it chose, the metrics); ``PRESETS`` holds its fixed part
(what ``python -m emozoo.publish --list`` shows), ``RECIPES`` how ``python -m emozoo.publish
emotion_speech`` retrains and publishes it (:func:`.emotion_speech_zoo.train_and_publish`).
"""

#: how to rerun the benchmark that chooses the recipe, then publish
RETRAIN = ("python -m emozoo.models.emotion_speech.emotion_speech_loco --seeds 5 && "
           "python -m emozoo.publish emotion_speech")

PRESETS = {
    "emotion_speech": {
        "method": "emotion_speech",
        "description": ("flagship speech model: waveform (any rate, down-mixed, 16 kHz) -> frozen Whisper base "
                        "encoder -> [7, 512] layer-wise mean-pooled states -> z-normalisation -> learned layer "
                        "weighting + the head chosen by leave-one-corpus-out -> neutral/happy/angry/sad; adapt() fits "
                        "the normalisation on unlabelled clips of a new corpus/culture/speaker"),
        "experiment": "emozoo.models.emotion_speech.emotion_speech_zoo:train_and_publish",
        "train_command": "python -m emozoo.publish emotion_speech",
        "retrain_command": RETRAIN,
    },
}

#: how ``python -m emozoo.publish NAME`` retrains, exports and publishes each preset (:mod:`emozoo.publish`)
RECIPES = {
    "emotion_speech": {"target": "emozoo.models.emotion_speech.emotion_speech_zoo:train_and_publish", "kwargs": {},
                       "options": ("seed",),
                       "trains": "the head chosen by leave-one-corpus-out "
                                 "(benchmarks/results/emotion_speech_loco.json) on every labelled clip of EmoDB + "
                                 "CASIA + RAVDESS"},
}
