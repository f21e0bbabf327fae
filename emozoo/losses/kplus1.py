"""K+1-class semi-supervised GAN losses (Salimans et al. 2016; Liang, Chen, Jin 2019 eq. 2-5).

The discriminator ``D`` has ``K + 1`` outputs: the ``K`` emotion classes and the "generated"
class ``K + 1`` (index ``K`` here). With ``l`` its logits and ``p = softmax(l)``:

* supervised term (eq. 2/4, first term): ``-E_{x',y}[log D(y|x')]``; ``y`` may be a soft
  (fuzzy) target ``q`` over the ``K`` classes: ``-E[sum_k q_k log D(k|x')]`` (sec. IV-B, labels);
* fake term (second term): ``-E_z[log D(K+1|G(z))]``;
* real term (third term): ``-E_{x~P_r}[log(1 - D(K+1|x))]`` over labelled *and* unlabelled
  real examples;
* generator feature matching (eq. 5): ``|| E_z[D_(G(z))] - E_x[D_(x)] ||_2^2`` on D's
  second-to-last layer ``D_``.

All terms are computed from logits with log-sum-exp for numerical stability:
``log D(K+1|x) = l_K - LSE(l)`` and ``log(1 - D(K+1|x)) = LSE(l_{0..K-1}) - LSE(l)``.
"""
from __future__ import annotations

import tensorflow as tf

from emozoo.errors import SchemaError


def _check_logits(logits, num_classes=None):
    logits = tf.convert_to_tensor(logits, tf.float32)
    if logits.shape.rank is not None and logits.shape.rank != 2:
        raise SchemaError(f"K+1 logits must be [batch, K+1], got shape {logits.shape}")
    if logits.shape[-1] is not None and logits.shape[-1] < 3:
        raise SchemaError(f"K+1 logits need K >= 2 emotion classes plus the fake class, got {logits.shape[-1]} outputs")
    return logits


def soft_targets(labels, num_classes: int) -> tf.Tensor:
    """Integer labels ``[B]`` -> one-hot ``[B, K]``; soft targets ``[B, K]`` are checked and returned."""
    labels = tf.convert_to_tensor(labels)
    if labels.shape.rank == 1:
        if labels.dtype.is_floating:
            raise SchemaError("integer class labels [B] or soft targets [B, K] expected, got float labels [B]")
        return tf.one_hot(tf.cast(labels, tf.int32), num_classes, dtype=tf.float32)
    if labels.shape.rank != 2 or (labels.shape[-1] is not None and labels.shape[-1] != num_classes):
        raise SchemaError(f"soft targets must be [B, {num_classes}], got shape {labels.shape}")
    return tf.cast(labels, tf.float32)


def supervised_loss(logits, labels, sample_weight=None) -> tf.Tensor:
    """``-E_{x',y}[log D(y|x')]`` (eq. 2, first term) over the K+1-way softmax.

    Args:
        logits: ``[B, K+1]`` discriminator logits of labelled examples.
        labels: int ``[B]`` or soft (fuzzy) targets ``[B, K]`` (rows summing to 1).
        sample_weight: optional ``[B]`` weights (mean over the weighted examples).
    """
    logits = _check_logits(logits)
    k = logits.shape[-1] - 1
    q = soft_targets(labels, k)
    logp = tf.nn.log_softmax(logits, axis=-1)[:, :k]
    per = -tf.reduce_sum(q * logp, axis=-1)
    if sample_weight is None:
        return tf.reduce_mean(per)
    w = tf.cast(sample_weight, tf.float32)
    return tf.reduce_sum(per * w) / tf.maximum(tf.reduce_sum(w), 1e-12)


def classifier_loss(logits, labels) -> tf.Tensor:
    """Plain K-class cross-entropy on the first K logits (FSBase: D as an ordinary classifier)."""
    logits = _check_logits(logits)
    k = logits.shape[-1] - 1
    q = soft_targets(labels, k)
    return tf.reduce_mean(-tf.reduce_sum(q * tf.nn.log_softmax(logits[:, :k], axis=-1), axis=-1))


def fake_loss(fake_logits) -> tf.Tensor:
    """``-E_z[log D(K+1|G(z))]`` (eq. 2, second term)."""
    fake_logits = _check_logits(fake_logits)
    return -tf.reduce_mean(fake_logits[:, -1] - tf.reduce_logsumexp(fake_logits, axis=-1))


def real_loss(real_logits) -> tf.Tensor:
    """``-E_{x~P_r}[log(1 - D(K+1|x))]`` (eq. 2, third term), labelled and unlabelled real data."""
    real_logits = _check_logits(real_logits)
    return -tf.reduce_mean(tf.reduce_logsumexp(real_logits[:, :-1], axis=-1)
                           - tf.reduce_logsumexp(real_logits, axis=-1))


def discriminator_loss(labelled_logits, labels, real_logits, fake_logits, consistency=0.0,
                       lam: float = 1.0) -> dict:
    """``L_dis`` of eq. 4 (eq. 2 when ``consistency`` is 0) and its terms as a dict."""
    sup = supervised_loss(labelled_logits, labels)
    fake = fake_loss(fake_logits)
    real = real_loss(real_logits)
    ct = tf.convert_to_tensor(consistency, tf.float32)
    return {"supervised": sup, "fake": fake, "real": real, "consistency": ct,
            "total": sup + fake + real + lam * ct}


def feature_matching_loss(fake_features, real_features) -> tf.Tensor:
    """``L_gen = || E_z[D_(G(z))] - E_x[D_(x)] ||_2^2`` (eq. 5; eq. 7 with the concatenated
    multimodal features)."""
    fake_features = tf.convert_to_tensor(fake_features, tf.float32)
    real_features = tf.convert_to_tensor(real_features, tf.float32)
    if fake_features.shape[-1] != real_features.shape[-1]:
        raise SchemaError(f"feature matching needs features of one width, got {fake_features.shape} and "
                          f"{real_features.shape}")
    diff = tf.reduce_mean(fake_features, axis=0) - tf.reduce_mean(real_features, axis=0)
    return tf.reduce_sum(tf.square(diff))


def saturating_generator_loss(fake_logits) -> tf.Tensor:
    """``-E_z[log(1 - D(K+1|G(z)))]`` (eq. 3), the generator loss the paper replaces by eq. 5."""
    return real_loss(fake_logits)
