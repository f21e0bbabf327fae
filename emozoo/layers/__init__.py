"""Layers shared by several methods."""
from emozoo.layers.standardization import FeatureStandardization  # noqa: F401
