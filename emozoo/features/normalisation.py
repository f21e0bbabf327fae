"""Z-normalisation of features, fitted on training data only.

The culture-specific z-normalisation of seed 000 (Liang et al. 2019, sec. 3.1) has one
implementation, a Keras layer whose statistics are model weights:
:class:`emozoo.models.adv_culture.culture_standardization.CultureStandardization`.
This module holds the other recipe:

* **Normalisation strategies for unlabelled data** (seed 003, Liang et al.
  2019, CT-GAN, section V-B): labelled data is always normalised with the
  labelled training statistics; the unlabelled corpus (AMI there) is

  ======== ================================================================
  none     left as it is
  self     normalised with its own statistics
  shift    normalised with the labelled training statistics
  combine  both normalised with statistics of labelled train + unlabelled
  ======== ================================================================

  :func:`fit_strategy` returns the two :class:`ZStats` (labelled, unlabelled).

Statistics are per dimension over all rows (clips for functionals, frames for
frame-level features such as Fbank: pass a list of ``[frames, dims]`` arrays).
A dimension whose training std is below ``eps`` is divided by 1 (not blown up).
Statistics save to JSON (no pickle) and apply in NumPy or TensorFlow.

Example:

>>> import numpy as np
>>> lab, unl = fit_strategy("self", np.array([[1.0], [3.0]]), np.array([[10.0], [30.0]]))
>>> lab.apply(np.array([[1.0], [3.0]]))[:, 0].tolist()
[-1.0, 1.0]
"""
from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import numpy as np

from emozoo.errors import FeatureError

STRATEGIES = ("none", "self", "shift", "combine")


def _rows(x, what: str) -> np.ndarray:
    """``x`` as a float64 matrix ``[rows, dims]``; a list of ``[frames, dims]`` arrays is stacked."""
    if isinstance(x, (list, tuple)) and x and np.ndim(x[0]) == 2:
        dims = {np.shape(a)[-1] for a in x}
        if len(dims) != 1:
            raise FeatureError(f"{what}: frame arrays have different widths {sorted(dims)}")
        x = np.concatenate([np.asarray(a, np.float64) for a in x], axis=0)
    x = np.asarray(x, np.float64)
    if x.ndim != 2:
        raise FeatureError(f"{what}: expected [rows, dims] (or a list of [frames, dims]), got shape {x.shape}")
    if x.shape[0] == 0:
        raise FeatureError(f"{what}: no rows to fit statistics on")
    if not np.all(np.isfinite(x)):
        raise FeatureError(f"{what}: NaN/inf values")
    return x


@dataclasses.dataclass(frozen=True)
class ZStats:
    """Per-dimension mean and standard deviation (``std`` already floored: never ~0).

    Args:
        mean: ``[dims]``.
        std: ``[dims]``, 1 where the fitted std was below ``eps``.
        count: rows the statistics were fitted on.
    """

    mean: np.ndarray
    std: np.ndarray
    count: int = 0

    @classmethod
    def fit(cls, x, eps: float = 1e-6) -> "ZStats":
        x = _rows(x, "ZStats.fit")
        std = x.std(axis=0)
        return cls(x.mean(axis=0), np.where(std < eps, 1.0, std), int(x.shape[0]))

    @property
    def dims(self) -> int:
        return int(self.mean.shape[0])

    def apply(self, x) -> np.ndarray:
        """``(x - mean) / std`` on any ``[..., dims]`` array, as float32."""
        x = np.asarray(x)
        if x.shape[-1:] != (self.dims,):
            raise FeatureError(f"features have {x.shape[-1:]} dims, the statistics {self.dims}")
        return ((x - self.mean) / self.std).astype(np.float32)

    def to_json(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist(), "count": self.count}

    @classmethod
    def from_json(cls, d: Mapping) -> "ZStats":
        try:
            mean, std = np.asarray(d["mean"], np.float64), np.asarray(d["std"], np.float64)
        except (KeyError, TypeError, ValueError) as exc:
            raise FeatureError(f"malformed statistics: {exc}") from exc
        if mean.shape != std.shape or mean.ndim != 1 or np.any(std <= 0):
            raise FeatureError(f"malformed statistics: mean {mean.shape}, std {std.shape} (std must be > 0)")
        return cls(mean, std, int(d.get("count", 0)))


def fit_strategy(strategy: str, labelled_train, unlabelled, eps: float = 1e-6) -> tuple[ZStats, ZStats | None]:
    """Seed 003's strategies: ``(stats for labelled data, stats for unlabelled data or None)``.

    Args:
        strategy: ``none`` / ``self`` / ``shift`` / ``combine`` (see the module docstring).
        labelled_train: labelled training features ``[clips, dims]`` (or a list of frame arrays).
        unlabelled: the unlabelled corpus's features, same layout.

    ``None`` for the unlabelled side means: leave it un-normalised (``none``).
    """
    if strategy not in STRATEGIES:
        raise FeatureError(f"unknown normalisation strategy {strategy!r}; one of {STRATEGIES}")
    labelled = ZStats.fit(labelled_train, eps)
    if strategy == "none":
        return labelled, None
    if strategy == "shift":
        return labelled, labelled
    if strategy == "self":
        return labelled, ZStats.fit(unlabelled, eps)
    both = ZStats.fit(np.concatenate([_rows(labelled_train, "labelled"), _rows(unlabelled, "unlabelled")]), eps)
    return both, both


def apply_strategy(strategy: str, labelled_train, unlabelled, others: Sequence = (), eps: float = 1e-6):
    """Fit on the training data and normalise: ``(labelled_train, unlabelled, [others...])`` as float32.

    ``others`` are further labelled sets (valid, test), normalised like the labelled training set.
    """
    lab, unl = fit_strategy(strategy, labelled_train, unlabelled, eps)
    u = np.asarray(unlabelled, np.float32) if unl is None else unl.apply(unlabelled)
    return lab.apply(labelled_train), u, [lab.apply(o) for o in others]
