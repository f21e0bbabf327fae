"""Layers shared by several methods."""
from emozoo.layers.standardization import FeatureStandardization  # noqa: F401
from emozoo.layers.gradient_reversal import GradientReversal, GaninLambdaSchedule  # noqa: F401
from emozoo.layers.attention_fusion import AttentionFusion  # noqa: F401
from emozoo.layers.sa_gru import SelfAttentionGRU  # noqa: F401
from emozoo.layers.guided_relu import GuidedReLU, guided_relu  # noqa: F401
