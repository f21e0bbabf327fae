"""Gradient reversal layer (Ganin et al. 2016, sec. 4.2; Lian et al. 2019 sec. 2.3) and the Ganin
lambda schedule.

Forward: identity. Backward: the upstream gradient times ``-lambda`` (``R_lambda`` of Ganin et
al.: ``R(x) = x``, ``dR/dx = -lambda I``). ``lambda`` lives in a non-trainable variable of the
layer, so a callback (:class:`GaninLambdaSchedule`) can change it during training without
re-tracing the train function; with ``lambda = 0`` the layer blocks the gradient entirely (the
paper's CI baseline, eq. 5 with ``lambda = 0``).

The layer is serialisable (``get_config``) and inert at inference: its forward pass is
``tf.identity``; a SavedModel that contains it keeps the custom gradient
(``SaveOptions(experimental_custom_gradients=True)``, TensorFlow's default).
"""
from __future__ import annotations

import math

import keras
import tensorflow as tf

from emozoo.errors import ExperimentError


@tf.custom_gradient
def reverse_gradient(x, lam):
    """``y = x``; ``dL/dx = -lam * dL/dy`` (``lam`` receives no gradient)."""
    def grad(dy):
        return -tf.cast(lam, dy.dtype) * dy, tf.zeros_like(lam)
    return tf.identity(x), grad


@keras.saving.register_keras_serializable(package="emozoo")
class GradientReversal(keras.layers.Layer):
    """Identity forward, ``-lambda * upstream`` backward.

    Args:
        lambda_: initial value of ``lambda`` (Lian et al.: 1; ``0`` = no adversarial gradient).

    Attributes:
        hp_lambda: the non-trainable scalar variable holding ``lambda``; assign to it
            (``layer.set_lambda(v)``) to follow a schedule.
    """

    def __init__(self, lambda_: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.initial_lambda = float(lambda_)
        if not math.isfinite(self.initial_lambda) or self.initial_lambda < 0:
            raise ExperimentError(f"GradientReversal lambda must be finite and >= 0, got {lambda_}")
        self.hp_lambda = self.add_weight(name="lambda", shape=(), dtype="float32", trainable=False,
                                         initializer=keras.initializers.Constant(self.initial_lambda))
        self.supports_masking = True

    def set_lambda(self, value: float) -> None:
        """Set ``lambda`` (>= 0 and finite: a negative one would turn the reversal into a plain
        gradient, i.e. the features would *help* the domain classifier)."""
        value = float(value)
        if not math.isfinite(value) or value < 0:
            raise ExperimentError(f"GradientReversal lambda must be finite and >= 0, got {value}")
        self.hp_lambda.assign(value)

    def call(self, inputs):
        return reverse_gradient(inputs, tf.convert_to_tensor(self.hp_lambda))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "lambda_": self.initial_lambda}


def ganin_lambda(progress: float, gamma: float = 10.0, max_lambda: float = 1.0) -> float:
    """Ganin et al. 2016 (sec. 5.2.2): ``lambda_p = max_lambda * (2 / (1 + exp(-gamma p)) - 1)``,
    ``p`` in [0, 1] the training progress."""
    p = min(max(float(progress), 0.0), 1.0)
    return float(max_lambda * (2.0 / (1.0 + math.exp(-gamma * p)) - 1.0))


def find_gradient_reversal(model) -> list:
    return [l for l in model._flatten_layers() if isinstance(l, GradientReversal)]


class GaninSchedule(keras.callbacks.Callback):
    """Ramp an adversarial weight with Ganin et al. 2016's schedule (sec. 5.2.2): before each batch
    ``value_p = max_value * (2 / (1 + exp(-gamma p)) - 1)``, ``p = step / total_steps``
    (``total_steps = epochs * steps_per_epoch`` unless given). Subclasses say what the value is
    applied to (:meth:`_setup`, :meth:`_apply`). Steps are counted in ``on_train_batch_end``: with a
    dataset of unknown length Keras calls ``on_train_batch_begin`` once more per epoch (the step that
    finds the input exhausted). ``history`` holds the value of every trained step."""

    def __init__(self, total_steps: int | None = None, gamma: float = 10.0, max_value: float = 1.0):
        super().__init__()
        if total_steps is not None and int(total_steps) < 1:
            raise ExperimentError(f"total_steps must be >= 1, got {total_steps}")
        if max_value < 0:
            raise ExperimentError(f"the schedule's maximum must be >= 0, got {max_value}")
        self.total_steps = None if total_steps is None else int(total_steps)
        self.gamma = float(gamma)
        self.max_value = float(max_value)
        self.step = 0
        self.history: list[float] = []
        self._value = 0.0

    def _setup(self) -> None:
        """Check the model and find what the value is applied to (at ``on_train_begin``)."""

    def _apply(self, value: float) -> None:
        raise NotImplementedError

    def on_train_begin(self, logs=None):
        if self.total_steps is None:
            epochs, steps = self.params.get("epochs"), self.params.get("steps")
            if not epochs or not steps:
                raise ExperimentError(f"{type(self).__name__} needs total_steps when fit() does not know "
                                      "epochs * steps_per_epoch (pass steps_per_epoch to fit)")
            self.total_steps = int(epochs) * int(steps)
        self._setup()

    def on_train_batch_begin(self, batch, logs=None):
        self._value = ganin_lambda(self.step / self.total_steps, self.gamma, self.max_value)
        self._apply(self._value)

    def on_train_batch_end(self, batch, logs=None):
        self.history.append(self._value)
        self.step += 1


class GaninLambdaSchedule(GaninSchedule):
    """Set every :class:`GradientReversal` of the model to ``ganin_lambda(p)`` before each batch
    (:class:`GaninSchedule`; ``max_lambda`` is the value reached at the end)."""

    def __init__(self, total_steps: int | None = None, gamma: float = 10.0, max_lambda: float = 1.0):
        super().__init__(total_steps, gamma, max_lambda)
        self.max_lambda = self.max_value

    def _setup(self):
        self.layers = find_gradient_reversal(self.model)
        if not self.layers:
            raise ExperimentError("GaninLambdaSchedule: the model has no GradientReversal layer")

    def _apply(self, value):
        for layer in self.layers:
            layer.set_lambda(value)
