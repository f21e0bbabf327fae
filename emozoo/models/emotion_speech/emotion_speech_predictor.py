"""``emozoo.load("emotion_speech")``: waveform -> Whisper base -> normalisation -> head, with adaptation.

The zoo folder holds the head only (a few hundred KB: :func:`~.emotion_speech_head.export_head`);
the Whisper-base encoder is loaded by the predictor from the weights manager
(:func:`emozoo.weights.path`, installed by ``python -m emozoo.weights install whisper_base``),
through the same pooler that wrote the training stores
(:class:`emozoo.backbones.whisper.extractor.WhisperPooler`: ``[7, 512]`` layer-wise mean-pooled
states). Missing weights raise :class:`~emozoo.errors.WeightsError` naming the install command
when the model is loaded.

Adaptation (seed 000's culture-specific normalisation, at deployment): the head was trained on
corpora each z-normalised with its own statistics; a new corpus, culture or speaker is
normalised with statistics of its own unlabelled clips:

* :meth:`EmotionSpeechPredictor.adapt` fits them on at least :attr:`~EmotionSpeechPredictor.min_clips`
  (10) clips (files, a folder of audio files, or waveforms); :meth:`~EmotionSpeechPredictor.reset`
  returns to the shipped statistics (the training corpora pooled);
* ``predict(inputs, adapt="batch")`` adapts on the clips being predicted (for that call only);
* :meth:`~EmotionSpeechPredictor.save_adaptation` / :meth:`~EmotionSpeechPredictor.load_adaptation`
  write and read the statistics as a small ``.npz`` (float arrays and a JSON string; read with
  ``allow_pickle=False``) beside the user's data; a path inside the checksummed zoo folder is refused.

Example:

>>> import emozoo
>>> model = emozoo.load("emotion_speech")                                # doctest: +SKIP
>>> model.predict_labels("03a01Wa.flac")                                 # doctest: +SKIP
['angry']
>>> model.adapt("my_corpus/")                                            # doctest: +SKIP
>>> model.save_adaptation("my_corpus/emotion_speech_adaptation.npz")     # doctest: +SKIP
"""
from __future__ import annotations

import os

import numpy as np

from emozoo.errors import InputRefused, SchemaError
from emozoo.zoo.adaptation import AdaptationError, AdaptationFiles  # noqa: F401 - AdaptationError re-exported
from emozoo.zoo.predictor import SavedModelPredictor

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".aac", ".opus", ".aiff", ".aif", ".wma")
MIN_ADAPT_CLIPS = 10
_POOLERS: dict = {}


def _pooler(preset: str):
    """The :class:`WhisperPooler` of ``preset``; the weights are checked (:func:`emozoo.weights.path`)
    on every call, so missing weights raise even when a pooler was built earlier in the process."""
    from emozoo import weights
    from emozoo.backbones.whisper.backbone import WhisperBackbone
    from emozoo.backbones.whisper.extractor import WhisperPooler
    from emozoo.backbones.whisper.presets import backbone_presets

    if preset not in backbone_presets:
        raise SchemaError(f"unknown Whisper preset {preset!r} in preprocessing.json; known: {sorted(backbone_presets)}")
    folder = os.path.realpath(weights.path(backbone_presets[preset]["weights"]))
    key = (preset, folder)
    if key not in _POOLERS:
        _POOLERS[key] = WhisperPooler(WhisperBackbone.from_preset(preset))
    return _POOLERS[key]


class EmotionSpeechPredictor(AdaptationFiles, SavedModelPredictor):
    """A loaded ``emotion_speech`` model (``"input": "emotion_speech_waveform"``).

    ``predict`` takes audio file paths (any rate, any channel count: decoded, down-mixed and
    resampled to 16 kHz by :func:`emozoo.data.audio.load_audio`) or one mono waveform with its
    ``sample_rate``, and returns probabilities ``[N, 4]`` (neutral, happy, angry, sad). Every
    clip first passes the speech check shared by the zoo's speech predictors
    (:func:`emozoo.zoo.predictor.speech_waveform`): too short, silent, DC or unvoiced input
    raises :class:`~emozoo.errors.InputRefused`; files over 60 s are refused with the hint to
    predict them in windows (``python -m emozoo.predict --window 3 --hop 1.5``).

    Attributes:
        labels: the class names in output order.
        adapted: how many clips the current statistics were fitted on (``None``: the shipped ones).
        min_clips: the fewest clips :meth:`adapt` accepts (10).
    """

    min_clips = MIN_ADAPT_CLIPS

    def __init__(self, folder: str | os.PathLike, card: dict):
        super().__init__(folder, card)
        self.sample_rate = int(self.preprocessing.get("sample_rate", 16000))
        self.backbone = self.preprocessing["backbone"]
        self._pool = _pooler(self.backbone)                 # WeightsError here when they are missing
        self.shipped = (self._model.mean.numpy(), self._model.std.numpy())
        self.rows, self.dim = self.shipped[0].shape
        self.reset()

    # --- inputs -------------------------------------------------------------------------------
    def waveform(self, source, sample_rate: int | None = None) -> np.ndarray:
        from emozoo.zoo.predictor import speech_waveform
        return speech_waveform(source, self.sample_rate, sample_rate)

    def states(self, inputs, sample_rate: int | None = None) -> np.ndarray:
        """The backbone's pooled states ``[N, 7, 512]`` of file path(s) or one mono waveform."""
        waves = [self.waveform(p) for p in self._paths(inputs)] if self._is_paths(inputs) \
            else [self.waveform(inputs, sample_rate)]
        return np.stack([self._pool(w) for w in waves]).astype(np.float32)

    @staticmethod
    def _is_paths(inputs) -> bool:
        return isinstance(inputs, (str, os.PathLike)) or (
            isinstance(inputs, (list, tuple)) and bool(inputs) and all(isinstance(i, (str, os.PathLike)) for i in inputs))

    @staticmethod
    def _paths(inputs) -> list:
        return [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)

    # --- prediction ---------------------------------------------------------------------------
    def predict_states(self, states, statistics=None) -> np.ndarray:
        """Probabilities of pooled states ``[N, 7, 512]`` normalised with ``statistics`` (default:
        the current ones: adapted or shipped)."""
        import tensorflow as tf

        from emozoo.models.emotion_speech.emotion_speech_head import normalise

        x = np.asarray(states, np.float32)
        if x.ndim == 2:
            x = x[None]
        if x.ndim != 3 or x.shape[1:] != (self.rows, self.dim):
            raise SchemaError(f"states must be [N, {self.rows}, {self.dim}] ({self.backbone}), got {x.shape}")
        mean, std = statistics if statistics is not None else self.statistics
        return self._model.serve_normalised(tf.constant(normalise(x, mean, std)))["probabilities"].numpy()

    def predict(self, inputs, sample_rate: int | None = None, adapt: str | None = None) -> np.ndarray:
        """Probabilities ``[N, 4]`` for file path(s) or one waveform (``sample_rate`` needed).

        Args:
            inputs: a path, a list of paths, or a mono waveform.
            sample_rate: the waveform's rate.
            adapt: ``None`` (the current statistics) or ``"batch"``: normalise with the statistics
                of these clips (at least :attr:`min_clips`), for this call only.
        """
        if adapt not in (None, "batch"):
            raise SchemaError(f"adapt must be None or 'batch', got {adapt!r}")
        states = self.states(inputs, sample_rate)
        stats = self._fit(states, "the batch") if adapt == "batch" else None
        return self.predict_states(states, stats)

    def predict_waveform(self, wav, sample_rate: int) -> np.ndarray:
        """Probabilities ``[4]`` of one mono waveform (the windows of ``--window`` come here)."""
        return self.predict(wav, sample_rate)[0]

    def predict_labels(self, inputs, sample_rate: int | None = None, adapt: str | None = None) -> list[str]:
        return [self.labels[i] for i in self.predict(inputs, sample_rate, adapt=adapt).argmax(-1)]

    # --- adaptation ---------------------------------------------------------------------------
    # statistics (each ``[7, 512]``) and reset() (to the shipped ones, the training corpora pooled): AdaptationFiles
    def _fit(self, states: np.ndarray, what: str):
        from emozoo.models.emotion_speech.emotion_speech_head import statistics

        if len(states) < self.min_clips:
            raise AdaptationError(f"adaptation needs at least {self.min_clips} clips of the new corpus/speaker; "
                                  f"{what} gave {len(states)} usable")
        return statistics(states)

    def adapt(self, clips, sample_rate: int | None = None) -> int:
        """Fit the normalisation statistics on unlabelled clips of a new corpus, culture or speaker.

        Args:
            clips: a folder (its audio files, recursively), a list of audio file paths, or a list
                of mono waveforms (``sample_rate`` needed).
            sample_rate: the waveforms' rate.

        Returns:
            the number of clips used. Clips the speech check refuses are skipped (counted in the
            error when too few remain).

        Raises:
            AdaptationError: fewer than :attr:`min_clips` usable clips.
        """
        def decode(c):
            return self._pool(self.waveform(c) if isinstance(c, (str, os.PathLike)) else self.waveform(c, sample_rate))

        return self._adapt_on(clips, suffixes=AUDIO_SUFFIXES, files="audio files", items="clips",
                              accepts="a folder of audio files, a list of files or of waveforms", decode=decode,
                              refused_by=InputRefused, refusal="refused by the speech check",
                              features=lambda states: np.asarray(states, np.float32).reshape(-1, self.rows, self.dim))

    count_key = "clips"

    def _adaptation_meta(self) -> dict:
        return {"rows": self.rows, "dim": self.dim}

    def _adaptation_mismatch(self, meta, mean, std):
        if meta.get("backbone") != self.backbone or mean.shape != (self.rows, self.dim) or std.shape != mean.shape:
            return (f"statistics of {meta.get('backbone')} {list(mean.shape)}, this model needs "
                    f"{self.backbone} [{self.rows}, {self.dim}]")
        return None
