"""Dface: a DenseNet-BC trained here on FER2013 48x48 faces; its pooled output is the face embedding."""
from emozoo.models.dface.dface_backbone import DFaceBackbone, embedding_dim  # noqa: F401
from emozoo.models.dface.dface_classifier import DFaceClassifier  # noqa: F401
