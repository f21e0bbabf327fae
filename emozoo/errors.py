"""Named error types raised at emozoo's boundaries.

Every public function validates its inputs and raises one of these, with a
message that says what was wrong and what to do about it.
"""


class EmozooError(Exception):
    """Base class of every error emozoo raises on purpose."""


class DataDirError(EmozooError, FileNotFoundError):
    """The data directory (``EMOZOO_DATA_DIR`` / ``--data-dir``) or a corpus inside it is missing."""


class CorpusLayoutError(EmozooError, ValueError):
    """A corpus on disk does not have the layout its reader expects."""


class UnknownCorpusError(EmozooError, KeyError):
    """No reader is registered under the requested corpus name."""

    def __str__(self):  # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else ""


class LabelError(EmozooError, ValueError):
    """A label is unknown to the corpus or to the requested label set."""


class ManifestError(EmozooError, ValueError):
    """A manifest (CSV/JSONL) is malformed: missing column, bad value, duplicate id."""


class SplitError(EmozooError, ValueError):
    """A split/protocol request cannot be satisfied (unknown speaker, empty side, overlap)."""


class AudioDecodeError(EmozooError, ValueError):
    """An audio file or buffer cannot be decoded, or holds no usable signal."""


class ImageDecodeError(EmozooError, ValueError):
    """An image file cannot be decoded."""


class VideoDecodeError(EmozooError, ValueError):
    """A video file cannot be decoded or has no usable stream."""


class SchemaError(EmozooError, ValueError):
    """A TFRecord store or example does not match its declared feature spec / schema."""


class ValidationError(EmozooError, ValueError):
    """Data validation found anomalies and the caller asked for failure on anomalies."""


class FeatureError(EmozooError, ValueError):
    """A feature extractor cannot compute features from its input (too short, wrong rate, NaN output)."""


class MetricError(EmozooError, ValueError):
    """Labels/predictions given to a metric are malformed (shape, range, empty)."""


class ExperimentError(EmozooError, KeyError):
    """An experiment name is not registered, or an override does not fit its config."""

    def __str__(self):
        return str(self.args[0]) if self.args else ""


class ModelNotFoundError(EmozooError, KeyError):
    """No zoo model is registered under the requested name."""

    def __str__(self):
        return str(self.args[0]) if self.args else ""


class IntegrityError(EmozooError, ValueError):
    """A zoo model's files do not match the sha256 checksums of its registry entry (tampered or corrupt)."""


class ExportError(EmozooError, RuntimeError):
    """Exporting or publishing a model failed; the registry was left unchanged."""


class FaceNotFound(FeatureError):
    """Face detection found no face in an image or video (policy ``error`` of :mod:`emozoo.features.face`)."""


class WeightsError(EmozooError, FileNotFoundError):
    """Pretrained weights are missing, changed (sha256 mismatch) or cannot be installed."""


class InputRefused(FeatureError):
    """An input carries nothing a model can classify (too short, silent, DC, no voice, no face,
    too small, not text): refused instead of labelled (:mod:`emozoo.zoo.input_checks`)."""


class RegistryError(IntegrityError):
    """A zoo ``registry.json`` (or one of its entries) is malformed, or names a path outside the zoo folder."""


class PresetError(EmozooError, KeyError):
    """A zoo preset has no publish recipe (unknown name), its recipe does not resolve, or a
    ``python -m emozoo.publish`` option is one the recipe does not take."""

    def __str__(self):
        return str(self.args[0]) if self.args else ""
