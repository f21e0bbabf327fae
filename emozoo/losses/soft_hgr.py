"""Soft-HGR (H-score) maximal-correlation objective between two feature batches.

EMODal (Zhang et al., SenSys 2018, sec. 2 "Loss Function and Model Training") defines its
*common loss* as minus the score of its refs [6] (Wang et al., "An efficient approach to
informative feature extraction from multimodal data", AAAI 2019: Soft-HGR) and [7] (Huang et
al., "Feature projection in deep neural networks": the H-score). For features ``f(X)`` and
``g(Y)`` of the two modalities (both ``[B, d]``) the objective is

    H(f, g) = E[f(X)^T g(Y)] - 1/2 tr(cov(f(X)) cov(g(Y)))          (Soft-HGR, AAAI 2019 eq. 6)

on zero-mean features. It is estimated per batch exactly as the authors' Keras code does it
(``neg_hscore`` of the Soft-HGR release):

* ``f0 = f - mean_batch(f)``, ``g0 = g - mean_batch(g)`` (the zero-mean constraint);
* ``E[f^T g]`` = mean over the batch of ``sum_j f0[i, j] g0[i, j]``;
* ``cov(f) = f0^T f0 / (B - 1)``, ``cov(g) = g0^T g0 / (B - 1)`` (unbiased covariances);
* ``common loss = -H(f, g)``.

For independent modalities ``E[f^T g]`` is ~0 and the trace term makes ``H`` negative (the
loss positive); for correlated ones ``E[f^T g]`` dominates and ``H`` grows (the loss falls).
The maximum over ``f, g`` of the population objective is half the sum of the squared
HGR maximal correlations (``d`` of them), reached by ``f = g`` scaled by their correlations.

Example:

>>> import numpy as np
>>> from emozoo.losses.soft_hgr import soft_hgr_score, soft_hgr_score_numpy
>>> f = np.random.default_rng(0).normal(size=(64, 10)).astype("float32")
>>> round(float(soft_hgr_score(f, f)), 4) == round(float(soft_hgr_score_numpy(f, f)), 4)
True
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from emozoo.errors import SchemaError


def _check(f_shape, g_shape):
    if len(f_shape) != 2 or len(g_shape) != 2:
        raise SchemaError(f"soft-HGR needs two [batch, dim] feature matrices, got shapes {tuple(f_shape)} "
                          f"and {tuple(g_shape)}")
    if f_shape[0] is not None and g_shape[0] is not None and f_shape[0] != g_shape[0]:
        raise SchemaError(f"soft-HGR pairs the rows of both modalities: batch sizes {f_shape[0]} and "
                          f"{g_shape[0]} differ")
    if f_shape[1] is not None and g_shape[1] is not None and f_shape[1] != g_shape[1]:
        raise SchemaError(f"soft-HGR needs features of the same dimension, got {f_shape[1]} and {g_shape[1]}")
    if f_shape[0] is not None and f_shape[0] < 2:
        raise SchemaError(f"soft-HGR estimates covariances: it needs a batch of >= 2 pairs, got {f_shape[0]}")


def soft_hgr_score(f, g) -> tf.Tensor:
    """The per-batch H-score ``E[f^T g] - 1/2 tr(cov f cov g)`` of two ``[B, d]`` feature batches (TF, differentiable)."""
    f = tf.convert_to_tensor(f, tf.float32)
    g = tf.convert_to_tensor(g, tf.float32)
    _check(f.shape.as_list(), g.shape.as_list())
    f0 = f - tf.reduce_mean(f, axis=0, keepdims=True)                    # zero-mean f(X)
    g0 = g - tf.reduce_mean(g, axis=0, keepdims=True)                    # zero-mean g(Y)
    corr = tf.reduce_mean(tf.reduce_sum(f0 * g0, axis=1))                # E[f(X)^T g(Y)]
    n1 = tf.cast(tf.maximum(tf.shape(f0)[0] - 1, 1), tf.float32)
    cov_f = tf.matmul(f0, f0, transpose_a=True) / n1                     # cov(f), [d, d]
    cov_g = tf.matmul(g0, g0, transpose_a=True) / n1                     # cov(g), [d, d]
    return corr - 0.5 * tf.linalg.trace(tf.matmul(cov_f, cov_g))        # H-score (Soft-HGR eq. 6)


def common_loss(f, g) -> tf.Tensor:
    """EMODal's common loss: ``-H(f, g)`` (sec. 2: "placing a negative sign ahead of the score")."""
    return -soft_hgr_score(f, g)


def soft_hgr_score_numpy(f, g) -> float:
    """The same per-batch H-score in float64 numpy (a reference for tests and for evaluation)."""
    f = np.asarray(f, np.float64)
    g = np.asarray(g, np.float64)
    _check(f.shape, g.shape)
    f0, g0 = f - f.mean(0), g - g.mean(0)
    corr = float(np.mean(np.sum(f0 * g0, axis=1)))
    n1 = max(len(f0) - 1, 1)
    return corr - 0.5 * float(np.trace((f0.T @ f0 / n1) @ (g0.T @ g0 / n1)))


class SoftHGRLoss:
    """Callable ``loss(f, g) = -H(f, g)`` with a weight (the common loss of EMODal).

    Args:
        weight: multiplier of the loss (EMODal's common-loss weight; the paper gives none: 1).
    """

    def __init__(self, weight: float = 1.0):
        self.weight = float(weight)

    def __call__(self, f, g):
        return self.weight * common_loss(f, g)
