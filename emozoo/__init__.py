"""emozoo: a TensorFlow/Keras model zoo for multimodal emotion recognition."""
__version__ = "0.1.0"
