"""Classification metrics on integer labels, computed from one confusion matrix.

Conventions (``c`` is the ``K x K`` confusion matrix, rows = true class, columns = prediction):

==================  ==================================================================
accuracy (WA)       ``trace(c) / sum(c)``: weighted accuracy, what the papers call ACC/WA
uar                 mean over classes of recall ``c_ii / sum_j c_ij`` (unweighted average recall)
macro_f1            mean over classes of per-class F1 ``2 P_i R_i / (P_i + R_i)`` (the usual one)
macro_f1_uar_map    seed 003 (Liang et al., semi-supervised GAN, eq. 8):
                    ``2 * UAR * MAP / (UAR + MAP)`` with MAP the mean per-class precision.
                    The paper prints an extra ``1/n`` factor; its own tables (MAF1 close to UAR)
                    show it is not applied, so we leave it out.
weighted_f1         per-class F1 weighted by the class's support
==================  ==================================================================

Classes with no test example are left out of the class means (a LOSO fold whose speaker has no
``sad`` clip is scored on the classes it has) and reported as ``null`` per class; a class
that is present but never predicted has precision 0.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from emozoo.errors import MetricError


def _check(y_true, y_pred, num_classes: int | None):
    y_true = np.asarray(y_true).reshape(-1)
    y_pred = np.asarray(y_pred).reshape(-1)
    if y_true.shape != y_pred.shape:
        raise MetricError(f"y_true has {y_true.size} labels but y_pred {y_pred.size}")
    if y_true.size == 0:
        raise MetricError("no examples to score")
    if not (np.issubdtype(y_true.dtype, np.integer) and np.issubdtype(y_pred.dtype, np.integer)):
        raise MetricError("labels and predictions must be integer class indices (take argmax of probabilities)")
    k = int(num_classes) if num_classes else int(max(y_true.max(), y_pred.max())) + 1
    if y_true.min() < 0 or y_pred.min() < 0 or y_true.max() >= k or y_pred.max() >= k:
        raise MetricError(f"labels must lie in [0, {k}); got y_true in [{y_true.min()}, {y_true.max()}], "
                          f"y_pred in [{y_pred.min()}, {y_pred.max()}] (drop unlabelled -1 examples first)")
    return y_true.astype(np.int64), y_pred.astype(np.int64), k


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> np.ndarray:
    """``K x K`` counts, rows = true class, columns = predicted class."""
    t, p, k = _check(y_true, y_pred, num_classes)
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k)


def _cm(cm_or_none, y_true, y_pred, num_classes):
    return np.asarray(cm_or_none) if cm_or_none is not None else confusion_matrix(y_true, y_pred, num_classes)


def _safe_div(a, b):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return np.divide(a, b, out=np.full_like(a, np.nan), where=b > 0)


def per_class_recall(y_true=None, y_pred=None, num_classes=None, *, cm=None) -> np.ndarray:
    """Recall per class; NaN for classes with no true example."""
    c = _cm(cm, y_true, y_pred, num_classes)
    return _safe_div(np.diag(c), c.sum(axis=1))


def per_class_precision(y_true=None, y_pred=None, num_classes=None, *, cm=None) -> np.ndarray:
    """Precision per class; 0 for a present class never predicted, NaN for an absent class."""
    c = _cm(cm, y_true, y_pred, num_classes)
    prec = _safe_div(np.diag(c), c.sum(axis=0))
    present = c.sum(axis=1) > 0
    prec[np.isnan(prec) & present] = 0.0
    prec[~present & (c.sum(axis=0) == 0)] = np.nan
    return prec


def per_class_f1(y_true=None, y_pred=None, num_classes=None, *, cm=None) -> np.ndarray:
    c = _cm(cm, y_true, y_pred, num_classes)
    r = per_class_recall(cm=c)
    p = per_class_precision(cm=c)
    f = _safe_div(2 * p * r, p + r)
    present = c.sum(axis=1) > 0
    f[present & np.isnan(f)] = 0.0
    f[~present] = np.nan
    return f


def accuracy(y_true=None, y_pred=None, num_classes=None, *, cm=None) -> float:
    """Weighted accuracy (WA): correct / all."""
    c = _cm(cm, y_true, y_pred, num_classes)
    return float(np.trace(c) / c.sum())


def uar(y_true=None, y_pred=None, num_classes=None, *, cm=None) -> float:
    """Unweighted average recall over the classes present in ``y_true``."""
    return float(np.nanmean(per_class_recall(y_true, y_pred, num_classes, cm=cm)))


def mean_precision(y_true=None, y_pred=None, num_classes=None, *, cm=None) -> float:
    """MAP of seed 003: mean per-class precision over the classes present in ``y_true``."""
    c = _cm(cm, y_true, y_pred, num_classes)
    prec = per_class_precision(cm=c)
    present = c.sum(axis=1) > 0
    return float(np.mean(prec[present]))


def macro_f1(y_true=None, y_pred=None, num_classes=None, *, cm=None) -> float:
    """The usual macro-F1: mean of per-class F1 over the classes present in ``y_true``."""
    return float(np.nanmean(per_class_f1(y_true, y_pred, num_classes, cm=cm)))


def macro_f1_uar_map(y_true=None, y_pred=None, num_classes=None, *, cm=None) -> float:
    """Seed 003's macro-F1: harmonic mean of UAR and mean precision (MAP)."""
    c = _cm(cm, y_true, y_pred, num_classes)
    r, p = uar(cm=c), mean_precision(cm=c)
    return float(2 * r * p / (r + p)) if r + p > 0 else 0.0


def weighted_f1(y_true=None, y_pred=None, num_classes=None, *, cm=None) -> float:
    c = _cm(cm, y_true, y_pred, num_classes)
    support = c.sum(axis=1)
    f = np.nan_to_num(per_class_f1(cm=c))
    return float((f * support).sum() / support.sum())


SCALARS = ("accuracy", "uar", "macro_f1", "macro_f1_uar_map", "weighted_f1")


def classification_report(y_true, y_pred, classes: Sequence[str]) -> dict:
    """Every metric of this module as a JSON-ready dict (NaN written as ``None``)."""
    classes = list(classes)
    c = confusion_matrix(y_true, y_pred, len(classes))
    nn = lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else float(v)  # noqa: E731
    rec, prec, f1 = per_class_recall(cm=c), per_class_precision(cm=c), per_class_f1(cm=c)
    return {
        "num_examples": int(c.sum()),
        "classes": classes,
        "accuracy": accuracy(cm=c),
        "uar": uar(cm=c),
        "macro_f1": macro_f1(cm=c),
        "macro_f1_uar_map": macro_f1_uar_map(cm=c),
        "weighted_f1": weighted_f1(cm=c),
        "per_class": {k: {"recall": nn(rec[i]), "precision": nn(prec[i]), "f1": nn(f1[i]),
                          "support": int(c[i].sum())} for i, k in enumerate(classes)},
        "confusion_matrix": c.tolist(),
    }


def summarise_runs(reports: Sequence[Mapping], keys: Sequence[str] = SCALARS) -> dict:
    """Mean and (population-free, ddof=1) standard deviation of each scalar over runs (seeds)."""
    if not reports:
        raise MetricError("summarise_runs needs at least one report")
    out = {"num_runs": len(reports)}
    for k in keys:
        vals = np.asarray([float(r[k]) for r in reports], np.float64)
        out[k] = {"mean": float(vals.mean()), "std": float(vals.std(ddof=1)) if len(vals) > 1 else 0.0,
                  "values": vals.tolist()}
    return out


# -- EmoBox (Ma et al. 2024) ------------------------------------------------------------------------
# EmoBox scores a fold with scikit-learn (EmoBox/EmoEval.py, ComputePerformance):
#   WA = accuracy_score, UA = balanced_accuracy_score, Macro-F1 = f1_score(average="macro"),
# and reports each metric averaged over the corpus's folds. The only difference from the functions
# above is macro-F1's class set: scikit-learn averages over the classes present in y_true OR y_pred
# (a class predicted but absent from the fold counts with F1 = 0), ``macro_f1`` over those in y_true.
EMOBOX_SCALARS = ("ua", "wa", "macro_f1")


def emobox_macro_f1(y_true=None, y_pred=None, num_classes=None, *, cm=None) -> float:
    """EmoBox's macro-F1 (``f1_score(average="macro")``): mean per-class F1 over the classes that occur
    in the labels or the predictions; an undefined precision or recall counts as 0."""
    c = _cm(cm, y_true, y_pred, num_classes)
    tp = np.diag(c).astype(np.float64)
    support, predicted = c.sum(axis=1), c.sum(axis=0)
    used = (support > 0) | (predicted > 0)
    if not used.any():
        raise MetricError("no examples to score")
    denom = support + predicted   # F1 = 2 TP / (2 TP + FP + FN) = 2 TP / (support + predicted)
    f1 = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
    return float(f1[used].mean())


def emobox_scores(y_true, y_pred, num_classes: int | None = None) -> dict:
    """One fold scored as EmoBox does: ``ua`` (balanced accuracy = :func:`uar`), ``wa`` (accuracy),
    ``macro_f1`` (:func:`emobox_macro_f1`), plus the confusion matrix and the number of examples."""
    c = confusion_matrix(y_true, y_pred, num_classes)
    return {"ua": uar(cm=c), "wa": accuracy(cm=c), "macro_f1": emobox_macro_f1(cm=c),
            "num_examples": int(c.sum()), "confusion_matrix": c.tolist()}


def emobox_fold_average(fold_scores: Sequence[Mapping], keys: Sequence[str] = EMOBOX_SCALARS) -> dict:
    """EmoBox's corpus score: each metric's plain mean over folds (not pooled over the folds' examples),
    with the per-fold values kept."""
    if not fold_scores:
        raise MetricError("emobox_fold_average needs at least one fold")
    return {k: {"mean": float(np.mean([float(s[k]) for s in fold_scores])),
                "folds": [float(s[k]) for s in fold_scores]} for k in keys}
