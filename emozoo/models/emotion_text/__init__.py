"""``emotion_text``: the flagship text model (issue 20): a conversation (or single utterances) ->
all-mpnet-base-v2 sentence embeddings (computed by the predictor from the weights manager) ->
a head chosen by cross-corpus validation -> ``4class`` (neutral, happy, angry, sad; default) or
``meld7`` (MELD's seven emotions) probabilities per turn.

* :mod:`.emotion_text_head`: the corpora, folds, candidate heads (utterance-level linear, the
  DANN conversational model with and without its speaker adversary), training and export;
* :mod:`.emotion_text_eval`: the cross-corpus choice (IEMOCAP <-> MELD), IEMOCAP session 5 and
  the MELD official test (``python -m emozoo.models.emotion_text.emotion_text_eval --seeds N``);
* :mod:`.emotion_text_predictor`: :class:`EmotionTextPredictor` (``emozoo.load("emotion_text")``);
* :mod:`.emotion_text_zoo`: train on every labelled turn and publish (``python -m emozoo.publish emotion_text``).
"""
from emozoo.zoo.predictor import register_predictor as _register_predictor

_register_predictor("emotion_text", "emozoo.models.emotion_text.emotion_text_predictor:EmotionTextPredictor")
