"""``emotion_speech``: the flagship speech model (issue 20): raw waveform -> frozen Whisper-base
encoder (from the weights manager) -> layer-wise pooled states -> per-corpus normalisation ->
learned layer weighting + head -> neutral / happy / angry / sad, with adaptation of the
normalisation to an unseen corpus, culture or speaker.

* :mod:`.emotion_speech_head`: the head (weighted layer sum + linear / MLP), its training and export;
* :mod:`.emotion_speech_predictor`: :class:`EmotionSpeechPredictor` (``emozoo.load("emotion_speech")``;
  ``adapt``, ``reset``, ``predict(..., adapt="batch")``, ``save_adaptation`` / ``load_adaptation``);
* :mod:`.emotion_speech_loco`: the leave-one-corpus-out benchmark with and without adaptation
  (chooses the head);
* :mod:`.emotion_speech_zoo`: train on every labelled clip and publish (``python -m emozoo.publish emotion_speech``).
"""
from emozoo.zoo.predictor import register_predictor as _register_predictor

_register_predictor("emotion_speech_waveform", "emozoo.models.emotion_speech.emotion_speech_predictor:EmotionSpeechPredictor")
