"""Saliency maps and emotion modification for image classifiers (Yousefi et al., Sections 2.2, 4.2, 4.3).

* :func:`vanilla_saliency`: ``S_c(I) = d p_c(I) / d I``, "the gradient of the class probability
  with respect to the image" (Section 2.2), with ``p_c`` the softmax output of class ``c``.
* :func:`guided_saliency`: the same derivative taken through a copy of the network whose ReLUs
  back-propagate with the guided rule ``(x > 0) * (R > 0) * R`` (Springenberg et al. 2014;
  :mod:`emozoo.layers.guided_relu`): Figs. 5-6 ("features were obtained by guided
  back-propagation from the Softmax node corresponding to the class").
* :func:`modify_emotion`: "apply the above mentioned gradients to the image" (Section 2.2, 4.3):
  gradient ascent on ``log p_target`` with respect to the image, ``I_{t+1} = clip(I_t + eta *
  g_t / max|g_t|, 0, 255)``, for at most ``steps`` steps (the step budget) or until ``p_target``
  reaches ``stop_probability``; the pixel range 0..255 is the image-range constraint, and
  ``max_change`` optionally bounds ``|I_t - I_0|`` per pixel. With ``target`` = the predicted
  class this intensifies the expression, with another class it converts it (Fig. 7).

All functions take Keras models whose input is the raw grey face ``[N, H, W, 1]`` in 0..255 and
whose output is the softmax ``[N, K]``; they call the models with ``training=False`` (no
augmentation, no dropout). TensorFlow backend.
"""
from __future__ import annotations

import numpy as np

from emozoo.errors import SchemaError


def _faces(images) -> np.ndarray:
    arr = np.asarray(images, np.float32)
    if arr.ndim == 2:
        arr = arr[None, :, :, None]
    elif arr.ndim == 3:
        arr = arr[..., None] if arr.shape[-1] != 1 else arr[None]
    if arr.ndim != 4 or arr.shape[-1] != 1:
        raise SchemaError(f"saliency takes grey faces [N, H, W, 1] (or [H, W]) in 0..255, got shape {np.shape(images)}")
    if arr.size and (arr.min() < 0 or arr.max() > 255):
        raise SchemaError(f"face pixels must be in 0..255, got range [{arr.min()}, {arr.max()}]")
    return arr


def _targets(targets, n: int, k: int) -> np.ndarray:
    t = np.broadcast_to(np.asarray(targets, np.int64), (n,)).copy()
    if t.size and (t.min() < 0 or t.max() >= k):
        raise SchemaError(f"target classes must be in 0..{k - 1}, got {sorted(set(t.tolist()))}")
    return t


def class_gradient(model, images, targets) -> tuple[np.ndarray, np.ndarray]:
    """``(d p_c / d I [N, H, W], probabilities [N, K])`` with ``c = targets[i]`` for image ``i``."""
    import tensorflow as tf

    x = tf.constant(_faces(images))
    k = int(model.output_shape[-1])
    t = _targets(targets, int(x.shape[0]), k)
    with tf.GradientTape() as tape:
        tape.watch(x)
        probs = model(x, training=False)
        picked = tf.reduce_sum(probs * tf.one_hot(t, k, dtype=probs.dtype), axis=-1)
    grad = tape.gradient(picked, x)
    return grad.numpy()[..., 0], probs.numpy()


def vanilla_saliency(model, images, targets) -> np.ndarray:
    """Vanilla gradient saliency ``d p_c / d I`` (signed) ``[N, H, W]`` (Section 2.2)."""
    return class_gradient(model, images, targets)[0]


def guided_saliency(guided_model, images, targets) -> np.ndarray:
    """Guided-backpropagation saliency ``[N, H, W]``: :func:`class_gradient` through ``guided_model``
    (a copy with :class:`~emozoo.layers.guided_relu.GuidedReLU`, e.g. :func:`emozoo.models.face_cnn.face_cnn_model.guided_copy`)."""
    return class_gradient(guided_model, images, targets)[0]


def saliency_mass(saliency) -> np.ndarray:
    """``|S|`` normalised to sum 1 per image ``[N, H, W]`` (where the model looks)."""
    s = np.abs(np.asarray(saliency, np.float64))
    tot = s.sum(axis=(-2, -1), keepdims=True)
    return np.where(tot > 0, s / np.where(tot > 0, tot, 1.0), 0.0)


def modify_emotion(model, image, target: int, *, steps: int = 100, step_size: float = 2.0,
                   max_change: float | None = None, stop_probability: float | None = 0.99,
                   record_every: int = 0) -> dict:
    """Gradient ascent on ``log p_target(I)`` over the image (Section 4.3, Fig. 7).

    Args:
        model: the classifier (softmax output).
        image: one grey face ``[H, W]`` / ``[H, W, 1]`` in 0..255.
        target: class index to intensify (the predicted one) or to convert to.
        steps: step budget (maximum number of ascent steps).
        step_size: ``eta``: the largest pixel change of one step (the gradient is scaled by its
            max-abs value, so a step moves no pixel by more than ``eta`` grey levels).
        max_change: optional L-inf bound on the total change from the original image.
        stop_probability: stop once ``p_target`` reaches it (``None``: always run ``steps``).
        record_every: keep the image every this many steps (0: first and last only).

    Returns:
        dict with ``image`` (the modified face ``[H, W, 1]`` float32 in 0..255), ``original``,
        ``probabilities`` ``[T + 1, K]`` along the path, ``steps_run``, ``frames`` (list of
        ``(step, image)``).
    """
    import tensorflow as tf

    x0 = _faces(image)
    if x0.shape[0] != 1:
        raise SchemaError(f"modify_emotion takes one face, got {x0.shape[0]}")
    k = int(model.output_shape[-1])
    t = int(_targets(target, 1, k)[0])
    if steps < 1 or step_size <= 0:
        raise SchemaError(f"steps must be >= 1 and step_size > 0, got {steps}, {step_size}")
    lo, hi = np.zeros_like(x0), np.full_like(x0, 255.0)
    if max_change is not None:
        lo, hi = np.maximum(lo, x0 - max_change), np.minimum(hi, x0 + max_change)
    lo, hi = tf.constant(lo), tf.constant(hi)
    x = tf.Variable(x0)
    probs_path, frames = [], [(0, x0[0].copy())]
    steps_run = 0
    for step in range(1, steps + 1):
        with tf.GradientTape() as tape:
            probs = model(x, training=False)
            objective = tf.math.log(probs[0, t] + 1e-12)
        probs_path.append(probs.numpy()[0])
        if stop_probability is not None and probs_path[-1][t] >= stop_probability:
            break
        g = tape.gradient(objective, x)
        g = g / (tf.reduce_max(tf.abs(g)) + 1e-12)
        x.assign(tf.clip_by_value(x + step_size * g, lo, hi))      # image-range constraint
        steps_run = step
        if record_every and step % record_every == 0:
            frames.append((step, x.numpy()[0].copy()))
    else:
        probs_path.append(model(x, training=False).numpy()[0])
    final = x.numpy()[0]
    if frames[-1][0] != steps_run:
        frames.append((steps_run, final.copy()))
    return {"image": final, "original": x0[0], "target": t, "probabilities": np.stack(probs_path),
            "steps_run": steps_run, "frames": frames}
