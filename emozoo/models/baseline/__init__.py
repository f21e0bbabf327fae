"""The feature -> MLP -> emotion baseline the papers compare against (BSL / CI / FSBase)."""
from emozoo.models.baseline.baseline_classifier import BaselineClassifier  # noqa: F401
