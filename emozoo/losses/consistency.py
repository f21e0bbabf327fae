"""Consistency term CT of CT-GAN (Wei, Gong, Liu, Lu, Wang, ICLR 2018, eq. 4), as used by
Liang, Chen, Jin 2019 (eq. 4/6, ``lambda = 1``).

D is run twice on the *same* real batch with dropout active (two perturbations ``x'`` and
``x''`` of each point); CT penalises the distance between the two outputs and between the two
second-to-last-layer features beyond a margin::

    CT = E_x[ max(0, d(D(x'), D(x'')) + feature_weight * d(D_(x'), D_(x'')) - margin) ]

with ``d`` the Euclidean distance per example (Wei et al. use ``feature_weight = 0.1``). With
dropout off the two passes are identical and CT is exactly 0 (the distance is computed with a
safe square root so its gradient at 0 is 0, not NaN).
"""
from __future__ import annotations

import tensorflow as tf

from emozoo.errors import SchemaError


def _distance(a, b):
    """Per-example Euclidean distance over all non-batch axes, 0 (with zero gradient) where equal."""
    d = tf.reshape(tf.cast(a, tf.float32) - tf.cast(b, tf.float32), [tf.shape(a)[0], -1])
    sq = tf.reduce_sum(tf.square(d), axis=-1)
    safe = tf.where(sq > 0, sq, tf.ones_like(sq))
    return tf.where(sq > 0, tf.sqrt(safe), tf.zeros_like(sq))


def consistency_term(outputs_1, outputs_2, features_1=None, features_2=None, *, feature_weight: float = 0.1,
                     margin: float = 0.0) -> tf.Tensor:
    """CT of Wei et al. 2018 (eq. 4) from two dropout-perturbed passes of D.

    Args:
        outputs_1, outputs_2: ``[B, ...]`` D outputs (logits) of the two passes.
        features_1, features_2: ``[B, F]`` second-to-last-layer features ``D_`` of the two passes
            (optional: without them only the output distance counts).
        feature_weight: weight of the feature distance (0.1 in CT-GAN).
        margin: ``M'``; distances below it are not penalised.
    """
    if outputs_1.shape != outputs_2.shape:
        raise SchemaError(f"the two passes' outputs differ in shape: {outputs_1.shape} vs {outputs_2.shape}")
    if margin < 0 or feature_weight < 0:
        raise SchemaError(f"margin and feature_weight must be >= 0, got {margin}, {feature_weight}")
    dist = _distance(outputs_1, outputs_2)
    if features_1 is not None:
        if features_2 is None or features_1.shape != features_2.shape:
            raise SchemaError("give the second-to-last-layer features of both passes, of one shape")
        dist = dist + feature_weight * _distance(features_1, features_2)
    return tf.reduce_mean(tf.nn.relu(dist - margin))
