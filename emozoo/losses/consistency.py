"""Consistency term CT of CT-GAN (Wei, Gong, Liu, Lu, Wang, ICLR 2018, eq. 4), as used by
Liang, Chen, Jin 2019 (eq. 4/6, ``lambda = 1``).

D is run twice on the *same* real batch with dropout active (two perturbations ``x'`` and
``x''`` of each point); CT penalises the difference of the two outputs and of the two
second-to-last-layer features ``D_`` beyond a margin.

``form="reference"`` (default) is the form of the CT-GAN authors' semi-supervised classifier
code (``biuyq/CT-GAN``, ``CT-GANs/Theano_classifier/CT_CIFAR.py``: ``loss_comp`` and
``loss_comp_``)::

    d(x)  = mean_k (softmax(D(x'))_k - softmax(D(x''))_k)^2
            + feature_weight * mean_j (D_(x')_j - D_(x'')_j)^2
    CT    = E_x[ max(0, d(x) - margin) ]

i.e. the mean squared difference of the two passes' *softmax outputs* plus 0.1 x the mean
squared difference of the second-to-last features. Choices the papers leave open, and ours:

* **margin**: the paper's eq. has ``M'``; the authors' CIFAR classifier code has none (its CT is
  a plain batch mean, = ``margin=0`` here because ``d >= 0``). Default ``0``.
* **which rows**: the reference code applies CT to the *unlabelled* batch only;
  :class:`~emozoo.models.ssgan.ssgan_model.SemiSupervisedGAN` passes the unlabelled rows when the
  batch has them and the labelled ones otherwise.
* **weight**: the reference adds ``0.5 * (loss_comp + 0.1 * loss_comp_)`` to its unlabelled loss;
  Liang et al. give ``lambda = 1`` (the model's ``consistency_weight``); we keep Liang's.
* the softmax is over all of D's outputs (the ``K + 1`` logits of the K+1 classifier).

``form="euclidean"`` (the earlier implementation, kept only for the ablation): the Euclidean
norm of the raw logit difference plus ``feature_weight`` x the Euclidean norm of the flattened
feature difference, per example. With thousands of feature dimensions it is ~200x larger than
the reference for the same perturbation and swamps the GAN loss (docs/methods/ssgan.md).

With dropout off the two passes are identical and CT is exactly 0 in both forms (the Euclidean
distance uses a safe square root so its gradient at 0 is 0, not NaN).

Example::

    ct = consistency_term(logits_1, logits_2, feats_1, feats_2)          # reference form
"""
from __future__ import annotations

import tensorflow as tf

from emozoo.errors import SchemaError

FORMS = ("reference", "euclidean")


def _flat(a):
    a = tf.cast(a, tf.float32)
    return tf.reshape(a, [tf.shape(a)[0], -1])


def _distance(a, b):
    """Per-example Euclidean distance over all non-batch axes, 0 (with zero gradient) where equal."""
    sq = tf.reduce_sum(tf.square(_flat(a) - _flat(b)), axis=-1)
    safe = tf.where(sq > 0, sq, tf.ones_like(sq))
    return tf.where(sq > 0, tf.sqrt(safe), tf.zeros_like(sq))


def _mean_square(a, b):
    """Per-example mean squared difference over all non-batch axes."""
    return tf.reduce_mean(tf.square(_flat(a) - _flat(b)), axis=-1)


def consistency_term(outputs_1, outputs_2, features_1=None, features_2=None, *, feature_weight: float = 0.1,
                     margin: float = 0.0, form: str = "reference") -> tf.Tensor:
    """CT of Wei et al. 2018 (eq. 4) from two dropout-perturbed passes of D.

    Args:
        outputs_1, outputs_2: ``[B, C]`` D logits of the two passes (``reference`` compares their
            softmax; ``euclidean`` the raw logits).
        features_1, features_2: ``[B, ...]`` second-to-last-layer features ``D_`` of the two
            passes (optional: without them only the output term counts).
        feature_weight: weight of the feature term (0.1 in CT-GAN).
        margin: ``M'``; per-example values below it are not penalised (reference code: 0).
        form: ``"reference"`` (authors' code) or ``"euclidean"`` (ablation).

    Returns:
        Scalar CT, the mean over the ``B`` examples (0 for an empty batch).
    """
    if form not in FORMS:
        raise SchemaError(f"consistency form must be one of {FORMS}, got {form!r}")
    if len(outputs_1.shape) != 2:
        raise SchemaError(f"D's outputs must be [batch, classes], got shape {tuple(outputs_1.shape)}")
    if outputs_1.shape != outputs_2.shape:
        raise SchemaError(f"the two passes' outputs differ in shape: {outputs_1.shape} vs {outputs_2.shape}")
    if margin < 0 or feature_weight < 0:
        raise SchemaError(f"margin and feature_weight must be >= 0, got {margin}, {feature_weight}")
    if features_1 is not None and (features_2 is None or features_1.shape != features_2.shape):
        raise SchemaError("give the second-to-last-layer features of both passes, of one shape")
    if form == "reference":
        d = _mean_square(tf.nn.softmax(tf.cast(outputs_1, tf.float32), axis=-1),
                         tf.nn.softmax(tf.cast(outputs_2, tf.float32), axis=-1))
        if features_1 is not None:
            d = d + feature_weight * _mean_square(features_1, features_2)
    else:
        d = _distance(outputs_1, outputs_2)
        if features_1 is not None:
            d = d + feature_weight * _distance(features_1, features_2)
    per = tf.nn.relu(d - margin)
    n = tf.cast(tf.shape(per)[0], tf.float32)
    return tf.reduce_sum(per) / tf.maximum(n, 1.0)
