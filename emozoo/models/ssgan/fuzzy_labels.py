"""Fuzzy labels of Liang, Chen, Jin 2019 (sec. IV-B, "Labels") and the IEMOCAP 3-level task.

Each annotator's rating becomes a one-hot vector over the classes (for IEMOCAP arousal/valence:
the 3 levels ``[1, 2]`` / ``(2, 4)`` / ``[4, 5]``), and the fuzzy label is their mean (ratings
2, 4, 5 -> ``[0.33, 0, 0.67]``). Fuzzy labels are the training targets as they are (soft
targets of the K+1 supervised term); at validation and test time the argmax is the correct
class, and when the maximum is tied (two annotators, ``[0.5, 0.5, 0]``) *both* tied classes
count as correct: :func:`tie_aware_truth` picks, per example, the tied class the model predicted
(or the first tied class when it predicted neither), so the usual confusion-matrix metrics
(UAR, macro-F1) apply unchanged.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from emozoo.errors import LabelError

LEVELS = ("low", "medium", "high")
DIMENSIONS = {"valence": 0, "arousal": 1, "activation": 1, "dominance": 2}


def votes_to_soft(votes: Sequence[Sequence[int]], num_classes: int) -> np.ndarray:
    """Per-example annotator class votes (lists of class indices) -> fuzzy labels ``[N, K]``."""
    out = np.zeros((len(votes), num_classes), np.float32)
    for i, v in enumerate(votes):
        v = [int(c) for c in v]
        if not v:
            raise LabelError(f"example {i} has no annotator vote: drop it or give at least one vote")
        if min(v) < 0 or max(v) >= num_classes:
            raise LabelError(f"example {i}: votes {v} outside [0, {num_classes})")
        out[i] = np.bincount(v, minlength=num_classes) / len(v)
    return out


def level_votes(annotator_dims: Sequence, dimension: str) -> list[int]:
    """The 3-level votes of one IEMOCAP turn from its readers' ``extras["annotator_dims"]``
    (``[val, act, dom]`` per annotator, ``None`` for a blank value)."""
    from emozoo.data.corpora.iemocap import arousal_valence_levels

    if dimension not in DIMENSIONS:
        raise LabelError(f"dimension must be one of {sorted(DIMENSIONS)}, got {dimension!r}")
    j = DIMENSIONS[dimension]
    votes = []
    for entry in annotator_dims:
        vals = entry[1] if isinstance(entry, (list, tuple)) and len(entry) == 2 and isinstance(entry[0], str) \
            else entry
        v = vals[j]
        if v is not None:
            votes.append(arousal_valence_levels(min(max(float(v), 1.0), 5.0)))
    return votes


def iemocap_fuzzy_labels(manifest, dimension: str = "valence") -> tuple[list[str], np.ndarray]:
    """``(clip ids, fuzzy 3-level labels [N, 3])`` of the IEMOCAP turns with at least one rating."""
    ids, votes = [], []
    for row in manifest:
        v = level_votes(row.extras.get("annotator_dims") or [], dimension)
        if v:
            ids.append(row.clip_id)
            votes.append(v)
    return ids, votes_to_soft(votes, len(LEVELS))


def tie_aware_truth(soft: np.ndarray, pred: np.ndarray, atol: float = 1e-6) -> np.ndarray:
    """Integer truths for scoring: the argmax of ``soft``; on a tied maximum the predicted class
    if it is one of the tied ones (both count as correct, sec. IV-B), else the first tied one."""
    soft = np.asarray(soft, np.float64)
    pred = np.asarray(pred).astype(np.int64).reshape(-1)
    if soft.ndim != 2 or len(soft) != len(pred):
        raise LabelError(f"soft labels [N, K] and predictions [N] expected, got {soft.shape} and {pred.shape}")
    top = soft.max(axis=1, keepdims=True)
    tied = np.abs(soft - top) <= atol
    truth = tied.argmax(axis=1)
    hit = tied[np.arange(len(pred)), np.clip(pred, 0, soft.shape[1] - 1)]
    return np.where(hit, pred, truth).astype(np.int64)
