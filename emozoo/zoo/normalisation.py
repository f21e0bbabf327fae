"""Z-normalisation of features per corpus: the culture-specific normalisation the flagship models share.

Seed 000 (Liang et al. 2019's culture-specific normalisation): every training corpus is
z-normalised with its own statistics (labels unused), and a deployed model normalises a new corpus
with the statistics of its own unlabelled examples (``adapt``). ``emotion_speech`` normalises its
layer-wise states ``[N, R, D]`` (per row and dimension), ``emotion_face`` its embeddings
``[N, D]``; both heads (:mod:`emozoo.models.emotion_speech.emotion_speech_head`,
:mod:`emozoo.models.emotion_face.emotion_face_head`) and the LOCO benchmark read these functions.
The arithmetic is :func:`emozoo.backbones.probe.corpus_znorm`'s: ``(x - mean) / (std + EPS)``,
population standard deviation, statistics computed in float64 and kept as float32.

Example:

>>> import numpy as np
>>> x = np.array([[0.0, 1.0], [2.0, 3.0]], np.float32)
>>> mean, std = statistics(x, ndim=2)
>>> mean.tolist(), std.tolist()
([1.0, 2.0], [1.0, 1.0])
>>> normalise(x, mean, std).round(4).tolist()
[[-1.0, -1.0], [1.0, 1.0]]
"""
from __future__ import annotations

import numpy as np

from emozoo.errors import SchemaError

EPS = 1e-5
#: How :func:`statistics` names the input it expects, by rank.
_SHAPES = {2: "embeddings [N >= 2, dim]", 3: "states [N >= 2, rows, dim]"}

__all__ = ["EPS", "statistics", "normalise", "per_group_normalise"]


def statistics(x: np.ndarray, ndim: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (population, ``numpy.std``) of ``x`` over its first axis.

    Args:
        x: ``[N, ...]`` features of N examples (N >= 2), e.g. embeddings ``[N, D]`` or layer-wise
            states ``[N, R, D]``.
        ndim: the rank ``x`` must have (``None``: any rank >= 1).

    Returns:
        ``(mean, std)``, float32, of shape ``x.shape[1:]``.

    Raises:
        SchemaError: fewer than 2 examples, or not of rank ``ndim``.
    """
    x = np.asarray(x, np.float64)
    if (x.ndim != ndim if ndim is not None else x.ndim < 1) or len(x) < 2:
        what = _SHAPES.get(ndim, "[N >= 2, ...]" + (f" of rank {ndim}" if ndim else ""))
        raise SchemaError(f"statistics need {what}, got shape {x.shape}")
    return x.mean(0).astype(np.float32), x.std(0).astype(np.float32)


def normalise(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(x - mean) / (std + EPS)`` in float32 (as :func:`emozoo.backbones.probe.corpus_znorm`)."""
    return ((np.asarray(x, np.float32) - mean) / (std + EPS)).astype(np.float32)


def per_group_normalise(x: np.ndarray, groups, ndim: int | None = None) -> np.ndarray:
    """Each group (corpus) of ``x`` z-normalised with its own :func:`statistics` (float32).

    Args:
        x: ``[N, ...]`` features; groups: ``[N]`` the group (corpus) of each row.
        ndim: as :func:`statistics`.
    """
    x, groups = np.asarray(x), np.asarray(groups)
    out = np.empty(x.shape, np.float32)
    for g in np.unique(groups):
        m = groups == g
        out[m] = normalise(x[m], *statistics(x[m], ndim))
    return out
