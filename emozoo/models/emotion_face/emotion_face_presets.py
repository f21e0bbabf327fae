"""Zoo preset of the flagship face model ``emotion_face`` and its publish recipe.

The full card is written at publish time by :func:`.emotion_face_zoo._card` from the measured
leave-one-corpus-out benchmark (the design it chose, the metrics); ``PRESETS`` holds its fixed part
(what ``python -m emozoo.publish --list`` shows), ``RECIPES`` how ``python -m emozoo.publish
emotion_face`` retrains and publishes it (:func:`.emotion_face_zoo.publish_recipe`: builds the
7-class JAFFE trunk cache when it is missing, then :func:`.emotion_face_zoo.train_and_publish`).
"""

#: how to rerun the benchmark that chooses the recipe, then publish
RETRAIN = ("python pipelines/face_finetune.py --build jaffe,ckplus,fer2013 --blocks 1 && "
           "python -m emozoo.models.emotion_face.emotion_face_loco --seeds 3 && "
           "python -m emozoo.models.emotion_face.emotion_face_within --seeds 3 && "
           "python -m emozoo.publish emotion_face")

PRESETS = {
    "emotion_face": {
        "method": "emotion_face",
        "description": ("flagship face model: image (any size, grey or RGB) -> largest MTCNN face, 224 RGB -> face "
                        "MobileNet (blocks 1-12 from the weights manager, block 13 as the leave-one-corpus-out design "
                        "chose) -> 1024-d pooled embedding -> z-normalisation -> linear head -> "
                        "angry/disgust/fear/happy/sad/surprise/neutral; adapt() fits the normalisation on unlabelled "
                        "faces of a new corpus/culture"),
        "experiment": "emozoo.models.emotion_face.emotion_face_zoo:train_and_publish",
        "train_command": "python -m emozoo.publish emotion_face",
        "retrain_command": RETRAIN,
    },
}

#: how ``python -m emozoo.publish NAME`` retrains, exports and publishes each preset (:mod:`emozoo.publish`)
RECIPES = {
    "emotion_face": {"target": "emozoo.models.emotion_face.emotion_face_zoo:publish_recipe", "kwargs": {},
                     "options": ("seed", "design", "threads"),
                     "trains": "the design chosen by leave-one-corpus-out (benchmarks/results/emotion_face_loco.json) "
                               "on FER2013 train + CK+48 + JAFFE"},
}
