"""Evaluation metrics and reports (accuracy = WA, UAR, macro-F1 in two conventions, weighted F1,
per-class recall, confusion matrix), as numpy functions, a distribution-safe Keras metric and
JSON + Markdown + PNG report writers."""
from emozoo.evaluation.metrics import (  # noqa: F401
    accuracy, classification_report, confusion_matrix, macro_f1, macro_f1_uar_map,
    mean_precision, per_class_f1, per_class_precision, per_class_recall, summarise_runs, uar,
    weighted_f1,
)
