"""Per-culture facial-expression CNN (Yousefi, Thorstad & Agichtein, "Learning Facial Emotion
Representations across Cultures"): the network, per-culture / cross-culture / FER2013 training,
zoo presets. Saliency maps and emotion modification live in :mod:`emozoo.explain`.

The package imports nothing heavy: the training runner also runs under Keras' JAX backend.
"""
