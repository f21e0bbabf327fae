"""Per-culture facial-expression CNN (Yousefi, Thorstad & Agichtein, "Learning Facial Emotion
Representations across Cultures"): the network, per-culture / cross-culture / FER2013 training as a
Task of the one trainer (:class:`~emozoo.models.face_cnn.face_cnn_task.FaceCNNTask`), zoo presets.
Saliency maps and emotion modification live in :mod:`emozoo.explain`.

The package imports nothing heavy: registering its experiments imports no TensorFlow.
"""
