"""``WhisperBackbone``: raw 16 kHz waveform -> every layer's hidden states of Whisper's encoder.

Source: Radford et al., "Robust Speech Recognition via Large-Scale Weak Supervision" (2022); the
keras-hub ``WhisperBackbone`` / ``WhisperAudioConverter`` split. This backbone chains the log-Mel
front end (:class:`WhisperAudioConverter`, TF ops) and the encoder (:class:`WhisperEncoder`), so a
SavedModel of it takes raw audio. The decoder is left out.

Args:
    hidden_dim, num_layers, num_heads, intermediate_dim, n_mels, max_positions: as
        :class:`~emozoo.backbones.whisper.encoder.WhisperEncoder`.

Call: ``waveform [batch, samples]`` (16 kHz, float32, equal lengths within a batch, at most 30 s)
-> ``[batch, num_layers + 1, ceil((samples // 160) / 2), hidden_dim]``.

Example:

>>> backbone = WhisperBackbone.from_preset("whisper_base")  # doctest: +SKIP
>>> backbone(tf.zeros([1, 32000])).shape  # doctest: +SKIP
TensorShape([1, 7, 100, 512])
"""
from __future__ import annotations

import hashlib

import keras

from emozoo.backbones.whisper.encoder import MAX_POSITIONS, WhisperEncoder
from emozoo.backbones.whisper.frontend import HOP_LENGTH, WhisperAudioConverter
from emozoo.backbones.whisper.presets import backbone_presets
from emozoo.errors import WeightsError

MAX_SAMPLES = 2 * MAX_POSITIONS * HOP_LENGTH  # 480 000 = 30 s


@keras.saving.register_keras_serializable(package="emozoo.whisper")
class WhisperBackbone(keras.Model):
    __doc__ = __doc__

    def __init__(self, hidden_dim: int = 512, num_layers: int = 6, num_heads: int = 8,
                 intermediate_dim: int | None = None, n_mels: int = 80, max_positions: int = MAX_POSITIONS,
                 **kwargs):
        super().__init__(**kwargs)
        self.audio_converter = WhisperAudioConverter(n_mels=n_mels, name="audio_converter")
        self.encoder = WhisperEncoder(hidden_dim, num_layers, num_heads, intermediate_dim, n_mels,
                                      max_positions, name="encoder")
        self.encoder.build((None, None, n_mels))
        self.hidden_dim, self.num_layers = self.encoder.hidden_dim, self.encoder.num_layers
        self.preset = None
        self.weights_id = ""

    def call(self, waveform):
        return self.encoder(self.audio_converter(waveform))

    def get_config(self):
        cfg = self.encoder.get_config()
        return {"name": self.name, **{k: cfg[k] for k in ("hidden_dim", "num_layers", "num_heads",
                                                         "intermediate_dim", "n_mels", "max_positions")}}

    @classmethod
    def presets(cls) -> dict:
        return dict(backbone_presets)

    @classmethod
    def from_preset(cls, name: str) -> "WhisperBackbone":
        """The backbone of preset ``name`` (``whisper_base``, ``whisper_tiny_en``) with its weights.

        The files come from :func:`emozoo.weights.path` (a clear :class:`WeightsError` naming the
        install command when they are missing); ``weights_id`` holds the file's size and the
        sha256 prefix plus the spec revision, for feature-store configs.
        """
        from emozoo import weights
        from emozoo.backbones.whisper.converter import encoder_config, load_encoder_weights
        from emozoo.backbones.whisper.ct2_reader import read_ct2_model

        if name not in backbone_presets:
            raise WeightsError(f"unknown Whisper preset {name!r}; known: {', '.join(sorted(backbone_presets))}")
        preset = backbone_presets[name]
        file = weights.path(preset["weights"]) / preset["file"]
        model = read_ct2_model(file, prefix="encoder/")
        backbone = cls(**encoder_config(model), name=name)
        load_encoder_weights(backbone.encoder, model)
        backbone.preset = name
        backbone.weights_id = f"{preset['weights']}/{preset['file']}:{_file_id(file)};ct2-spec-rev{model.revision}"
        return backbone


def _file_id(path) -> str:
    """``size:sha256[:16]`` of the whole file (cheap enough: ~0.3 s for Whisper base)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return f"{path.stat().st_size}:{h.hexdigest()[:16]}"
