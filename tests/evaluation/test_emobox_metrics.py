"""EmoBox metrics (UA, WA, macro-F1 per fold, mean over folds) against hand-computed confusion matrices."""
from __future__ import annotations

import numpy as np
import pytest

from emozoo.errors import MetricError
from emozoo.evaluation.metrics import emobox_fold_average, emobox_macro_f1, emobox_scores, macro_f1


def _from_cm(cm):
    cm = np.asarray(cm)
    t = np.repeat(np.arange(len(cm)), cm.sum(1))
    p = np.concatenate([np.repeat(np.arange(len(cm)), row) for row in cm])
    return t, p


def test_scores_match_hand_computed_confusion_matrix():
    #            predicted 0  1  2
    cm = [[3, 1, 0],   # true 0: recall 3/4
          [1, 2, 1],   # true 1: recall 2/4
          [0, 0, 2]]   # true 2: recall 2/2
    t, p = _from_cm(cm)
    s = emobox_scores(t, p, 3)
    assert s["confusion_matrix"] == cm and s["num_examples"] == 10
    assert s["wa"] == pytest.approx(7 / 10)
    assert s["ua"] == pytest.approx((3 / 4 + 2 / 4 + 2 / 2) / 3)
    # precision 3/4, 2/3, 2/3 -> F1 3/4, 4/7, 4/5
    assert s["macro_f1"] == pytest.approx((3 / 4 + 4 / 7 + 4 / 5) / 3)


def test_macro_f1_counts_classes_only_predicted_like_sklearn():
    t = np.array([0, 0, 1, 1])
    p = np.array([0, 2, 1, 1])     # class 2 predicted, never true
    s = emobox_scores(t, p, 3)
    assert s["ua"] == pytest.approx(0.75) and s["wa"] == pytest.approx(0.75)
    # F1: class 0 2/3, class 1 1, class 2 0 (present in the predictions) -> 5/9
    assert s["macro_f1"] == pytest.approx(5 / 9)
    assert macro_f1(t, p, 3) == pytest.approx(5 / 6)            # emozoo's usual macro-F1 leaves class 2 out
    assert emobox_macro_f1(t, p, 5) == pytest.approx(5 / 9)    # classes absent from both sides do not count


def test_agrees_with_scikit_learn_as_emobox_calls_it():
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    for _ in range(50):
        k = int(rng.integers(2, 8))
        t, p = rng.integers(0, k, 30), rng.integers(0, k, 30)
        s = emobox_scores(t, p, k)
        with np.errstate(all="ignore"):
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                assert s["ua"] == pytest.approx(sk.balanced_accuracy_score(t, p))
                assert s["wa"] == pytest.approx(sk.accuracy_score(t, p))
                assert s["macro_f1"] == pytest.approx(sk.f1_score(t, p, average="macro"))


def test_fold_average_is_the_mean_of_fold_scores_not_pooled():
    f1 = emobox_scores(*_from_cm([[1, 0], [0, 1]]), 2)           # 2 clips, all right
    f2 = emobox_scores(*_from_cm([[2, 2], [4, 0]]), 2)           # 8 clips: UA 0.25, WA 0.25
    avg = emobox_fold_average([f1, f2])
    assert avg["ua"]["mean"] == pytest.approx((1.0 + 0.25) / 2)
    assert avg["wa"]["mean"] == pytest.approx((1.0 + 0.25) / 2)  # pooled would be 3/10
    assert avg["ua"]["folds"] == pytest.approx([1.0, 0.25])
    with pytest.raises(MetricError):
        emobox_fold_average([])
    with pytest.raises(MetricError):
        emobox_scores([0, 1], [0], 2)
