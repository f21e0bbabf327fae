import json

import numpy as np
import pytest

from emozoo.errors import MetricError
from emozoo.evaluation import metrics as M
from emozoo.evaluation.report import write_report

# 3 classes; rows true, columns predicted
Y_TRUE = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
Y_PRED = np.array([0, 0, 1, 2, 1, 0, 2, 2, 2, 1])


def test_confusion_and_scalars_by_hand():
    cm = M.confusion_matrix(Y_TRUE, Y_PRED, 3)
    assert cm.tolist() == [[2, 1, 1], [1, 1, 0], [0, 1, 3]]
    assert M.accuracy(Y_TRUE, Y_PRED) == pytest.approx(6 / 10)
    rec = [2 / 4, 1 / 2, 3 / 4]
    prec = [2 / 3, 1 / 3, 3 / 4]
    assert M.uar(Y_TRUE, Y_PRED) == pytest.approx(np.mean(rec))
    f1 = [2 * p * r / (p + r) for p, r in zip(prec, rec)]
    assert M.macro_f1(Y_TRUE, Y_PRED) == pytest.approx(np.mean(f1))
    assert M.weighted_f1(Y_TRUE, Y_PRED) == pytest.approx(np.dot(f1, [4, 2, 4]) / 10)
    u, p = np.mean(rec), np.mean(prec)
    assert M.macro_f1_uar_map(Y_TRUE, Y_PRED) == pytest.approx(2 * u * p / (u + p))
    # the two macro-F1 conventions differ on this example
    assert abs(M.macro_f1(Y_TRUE, Y_PRED) - M.macro_f1_uar_map(Y_TRUE, Y_PRED)) > 1e-3


def test_absent_class_left_out_and_never_predicted_class_counts_zero():
    y_true = np.array([0, 0, 1, 1])
    y_pred = np.array([0, 0, 0, 0])  # class 1 never predicted, class 2 absent
    assert M.uar(y_true, y_pred, 3) == pytest.approx(0.5)
    pc = M.per_class_recall(y_true, y_pred, 3)
    assert np.isnan(pc[2])
    assert M.macro_f1(y_true, y_pred, 3) == pytest.approx((2 * 0.5 * 1 / 1.5 + 0) / 2)
    rep = M.classification_report(y_true, y_pred, ["a", "b", "c"])
    assert rep["per_class"]["c"]["recall"] is None
    assert rep["per_class"]["b"]["precision"] == 0.0
    json.dumps(rep)  # JSON-ready


def test_perfect_and_errors():
    y = np.array([0, 1, 2, 3])
    for f in (M.accuracy, M.uar, M.macro_f1, M.macro_f1_uar_map, M.weighted_f1):
        assert f(y, y) == pytest.approx(1.0)
    with pytest.raises(MetricError, match="labels must lie"):
        M.uar(np.array([0, -1]), np.array([0, 1]))
    with pytest.raises(MetricError, match="integer"):
        M.uar(np.array([0.5, 1.0]), np.array([0, 1]))
    with pytest.raises(MetricError, match="no examples"):
        M.accuracy(np.array([], int), np.array([], int))


def test_summarise_runs_mean_std():
    s = M.summarise_runs([{k: v for k in M.SCALARS} for v in (0.5, 0.7)])
    assert s["uar"]["mean"] == pytest.approx(0.6)
    assert s["uar"]["std"] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert s["num_runs"] == 2


def test_keras_confusion_metric_matches_numpy():
    from emozoo.evaluation.keras_metrics import ConfusionMatrixMetric

    m = ConfusionMatrixMetric(3)
    logits = np.eye(3, dtype="float32")[Y_PRED]
    m.update_state(Y_TRUE[:5], logits[:5])
    m.update_state(Y_TRUE[5:], logits[5:])
    r = {k: float(v) for k, v in m.result().items()}
    assert r["accuracy"] == pytest.approx(M.accuracy(Y_TRUE, Y_PRED), abs=1e-6)
    assert r["uar"] == pytest.approx(M.uar(Y_TRUE, Y_PRED), abs=1e-6)
    assert r["macro_f1"] == pytest.approx(M.macro_f1(Y_TRUE, Y_PRED), abs=1e-6)


def test_write_report_files(tmp_path):
    rep = M.classification_report(Y_TRUE, Y_PRED, ["neutral", "happy", "angry"])
    paths = write_report(rep, tmp_path, stem="r", title="t")
    assert json.loads(paths["json"].read_text())["uar"] == pytest.approx(rep["uar"])
    md = paths["markdown"].read_text()
    assert "UAR" in md and "seed 003" in md and "| neutral |" in md
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
