"""Face backbones: the HSE VGGFace2 MobileNet (``face_mobilenet``) and the FER2013 mini-Xception.

See ``mobilenet.py``, ``mini_xception.py``, ``tfjs_graph.py`` (TF.js graph-model reader) and
``extractor.py`` (the ``face_mobilenet`` store feature).
"""
