"""Interpretation of image emotion classifiers (issue 9; Yousefi et al. Sections 2.2, 4.2, 4.3, 5).

* :mod:`emozoo.explain.saliency`: vanilla-gradient and guided-backpropagation saliency maps,
  emotion modification by gradient ascent on the image;
* :mod:`emozoo.explain.regions`: share of saliency mass in eye and mouth regions from MTCNN
  landmarks, and the between-culture test;
* :mod:`emozoo.explain.figures`: the PNGs;
* ``python -m emozoo.explain --model NAME IMAGE --out DIR``: all of it on one image.
"""
