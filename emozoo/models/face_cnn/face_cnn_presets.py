"""Zoo presets of the face CNN: the model cards of ``face_cnn_fer2013``, ``face_cnn_jaffe``, ``face_cnn_ckplus``.

The measured metrics are not written here: ``python -m emozoo.publish NAME --runs runs``
(``RECIPES`` below: :func:`.face_cnn_zoo.publish_from_runs`) reads them from the trainer's run
folders of ``python -m emozoo.train --experiment face_cnn/tables/cpu`` and merges them into the cards.
"""

TRAIN_COMMAND = ("EMOZOO_DATA_DIR=../shared/data python pipelines/face_cnn_prepare.py && "
                 "python -m emozoo.train --experiment face_cnn/tables/cpu")
PUBLISH_COMMAND = "python -m emozoo.publish {name} --runs runs"
PAPER = ("Yousefi, Thorstad & Agichtein, Learning Facial Emotion Representations across Cultures (CNN after "
         "Khorrami et al. 2015: 3 x [5x5 conv, ReLU, 2x2 max-pool], FC + ReLU + dropout, softmax)")
INPUT = {"face": "image file path (largest MTCNN face cropped to 48x48 grey, the whole image when none is found), "
                 "or float32/uint8 [N, 48, 48, 1] grey face crops in 0..255",
         "signatures": "classify(face) -> {probabilities [N, K], embedding [N, D]}; embed(face) -> {embedding}",
         "explain": "python -m emozoo.explain --model NAME IMAGE --out DIR (saliency maps, emotion modification)"}
CULTURE_LICENCE = "{corpus} terms: research / non-commercial use; the trained weights inherit them"

PRESETS = {
    "face_cnn_fer2013": {
        "method": "face_cnn",
        "description": "Face CNN (Yousefi et al. / Khorrami-style, CPU-size channels) trained from scratch on FER2013 "
                       "48x48 grey faces, 7 expressions",
        "training_corpora": ["fer2013"],
        "protocol": "FER2013 official splits: Training trains, PublicTest selects the epoch and the seed, PrivateTest "
                    "is tested once",
        "label_set": "fer2013 (angry, disgust, fear, happy, neutral, sad, surprise)",
        "licence": "FER2013 (Kaggle ICML 2013 challenge): research / non-commercial use; the weights inherit it",
    },
    "face_cnn_jaffe": {
        "method": "face_cnn",
        "description": "Face CNN trained on Japanese posers (JAFFE), the 6 emotions JAFFE and CK+ share "
                       "(per-culture model of Yousefi et al. Section 4.1.1)",
        "training_corpora": ["jaffe"],
        "protocol": "split 0 (trainer seed 0) of 5 random subject-disjoint train/validation/test allocations "
                    "(60/20/20 % of posers); metrics: split 0's held-out posers, mean +- std over the 5 splits, cross-culture on all CK+48",
        "label_set": "6basic (angry, disgust, fear, happy, sad, surprise)",
        "licence": CULTURE_LICENCE.format(corpus="JAFFE"),
    },
    "face_cnn_ckplus": {
        "method": "face_cnn",
        "description": "Face CNN trained on American posers (CK+48 peak frames), the 6 emotions JAFFE and CK+ share "
                       "(per-culture model of Yousefi et al. Section 4.1.1)",
        "training_corpora": ["ckplus"],
        "protocol": "split 0 (trainer seed 0) of 5 random subject-disjoint train/validation/test allocations "
                    "(60/20/20 % of subjects); metrics: split 0's held-out subjects, mean +- std over the 5 splits, cross-culture on all JAFFE",
        "label_set": "6basic (angry, disgust, fear, happy, sad, surprise)",
        "licence": CULTURE_LICENCE.format(corpus="CK+"),
    },
}
for _name, _card in PRESETS.items():
    _card.update(paper=PAPER, input=INPUT, train_command=TRAIN_COMMAND,
                 export_command=PUBLISH_COMMAND.format(name=_name), metrics_command=TRAIN_COMMAND)

#: how ``python -m emozoo.publish NAME`` exports and publishes each preset from its runs (:mod:`emozoo.publish`)
RECIPES = {name: {"target": "emozoo.models.face_cnn.face_cnn_zoo:publish_from_runs", "kwargs": {"name": name},
                  "options": ("runs",), "trains": "exports the runs of python -m emozoo.train --experiment face_cnn/tables/cpu (no training)"}
           for name in PRESETS}
