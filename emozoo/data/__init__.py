"""Corpora, manifests, protocols, TFRecord stores and tf.data pipelines."""
from emozoo.data.manifest import Manifest, ManifestRow  # noqa: F401
