"""``emotion_face``: the flagship face model (issue 20): image -> MTCNN face crop -> face MobileNet
(blocks 1-12 from the weights manager, block 13 fine-tuned and shipped) -> pooled embedding ->
per-corpus normalisation -> linear head -> FER2013's 7 classes, with adaptation of the
normalisation to an unseen corpus or culture.

* :mod:`.emotion_face_head`: block 13, the two training stages, the linear head and its export;
* :mod:`.emotion_face_data`: the block-12 trunk caches of JAFFE, CK+48 and FER2013 as one table;
* :mod:`.emotion_face_loco`: the leave-one-corpus-out benchmark with and without adaptation
  (chooses the design);
* :mod:`.emotion_face_predictor`: :class:`EmotionFacePredictor` (``emozoo.load("emotion_face")``;
  ``adapt``, ``reset``, ``predict(..., adapt="batch")``, ``save_adaptation`` / ``load_adaptation``);
* :mod:`.emotion_face_zoo`: train on FER2013 train + CK+ + JAFFE and publish
  (``python -m emozoo.publish emotion_face``).
"""
from emozoo.zoo.predictor import register_predictor as _register_predictor

_register_predictor("emotion_face_image", "emozoo.models.emotion_face.emotion_face_predictor:EmotionFacePredictor")
