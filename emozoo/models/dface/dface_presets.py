"""Zoo preset of Dface: the model card of ``saved_models/dface_fer2013``.

The measured metrics (PublicTest / PrivateTest accuracy, epochs) are not written here: the export
(``python -m emozoo.models.dface.dface_export``) reads them from the training run's
``results.json`` written by ``pipelines/train_dface.py``, and merges them into the card.
"""

FER2013_LICENCE = ("FER2013 (Kaggle ICML 2013 challenge): research use; the trained weights inherit "
                   "the corpus's terms: research / non-commercial use only")

PRESETS = {
    "dface_fer2013": {
        "method": "dface",
        "description": "Dface: DenseNet-BC trained from scratch on FER2013 48x48 grey faces (7 expressions); "
                       "embed = global-average-pooled last dense block, classify = softmax over 7 classes",
        "train_command": "EMOZOO_DATA_DIR=../shared/data python pipelines/train_dface.py "
                         "--max-minutes 75 --out runs/dface_fer2013",
        "export_command": "python -m emozoo.models.dface.dface_export --run runs/dface_fer2013",
        "training_corpora": ["fer2013"],
        "protocol": "FER2013 official splits: Training (28 709) trains, PublicTest (3 589) selects the epoch "
                    "(best accuracy), PrivateTest (3 589) evaluated once at the end",
        "label_set": "fer2013 (angry, disgust, fear, happy, neutral, sad, surprise)",
        "input": {
            "face": "uint8 or float32 [N, 48, 48, 1] grey face crop, pixel values 0..255 (crop faces with "
                    "emozoo.features.face.FaceCropper(size=48))",
            "signatures": "embed(face) -> {embedding [N, D]}; classify(face) -> {probabilities [N, 7], "
                          "embedding [N, D]}",
        },
        "paper": "Huang et al. 2017, DenseNet-BC; seeds 000/003 use a FERPlus-pretrained DenseNet at 224 px, "
                 "this one is trained here at 48 px",
        "licence": FER2013_LICENCE,
        "metrics_source": "runs/dface_fer2013/results.json (pipelines/train_dface.py): PrivateTest evaluated once "
                          "with the PublicTest-selected epoch",
        "metrics_command": "EMOZOO_DATA_DIR=../shared/data python pipelines/train_dface.py "
                           "--max-minutes 75 --out runs/dface_fer2013",
    },
}
