"""Whisper's audio encoder as a Keras 3 backbone (keras-hub ``src/models/whisper/`` layout).

- :mod:`.ct2_reader` -- numpy reader of CTranslate2 ``model.bin`` (binary version 6).
- :mod:`.frontend` -- :class:`WhisperAudioConverter`, the log-Mel front end in TF ops.
- :mod:`.encoder` -- :class:`WhisperEncoder` (conv stem, sinusoidal positions, pre-LN blocks).
- :mod:`.converter` -- CTranslate2 variable names -> Keras weights.
- :mod:`.presets`, :mod:`.backbone` -- :class:`WhisperBackbone` and ``from_preset``.
- :mod:`.extractor` -- the ``whisper_base`` / ``whisper_tiny_en`` feature extractors.
"""
from emozoo.backbones.whisper.backbone import WhisperBackbone
from emozoo.backbones.whisper.ct2_reader import CT2Model, read_ct2_model
from emozoo.backbones.whisper.encoder import WhisperEncoder, WhisperEncoderBlock
from emozoo.backbones.whisper.frontend import WhisperAudioConverter, log_mel_spectrogram, mel_filters

__all__ = ["CT2Model", "WhisperAudioConverter", "WhisperBackbone", "WhisperEncoder", "WhisperEncoderBlock",
           "log_mel_spectrogram", "mel_filters", "read_ct2_model"]
