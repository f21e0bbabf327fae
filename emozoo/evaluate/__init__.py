"""Evaluation of training runs and zoo models (``python -m emozoo.evaluate``)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from emozoo.errors import EmozooError, SplitError
from emozoo.evaluation.metrics import classification_report, summarise_runs
from emozoo.evaluation.report import summary_markdown, write_report


def run_report_dir(model_dir, out_dir=None) -> Path:
    """Where :func:`evaluate_run` writes its reports (``<model-dir>/evaluation`` by default)."""
    return Path(out_dir) if out_dir else Path(model_dir) / "evaluation"


def model_report_dir(name: str, corpus: str, out_dir=None) -> Path:
    """Where :func:`evaluate_model` writes its report (``runs/evaluate/<model>_on_<corpus>`` by default)."""
    return Path(out_dir) if out_dir else Path("runs") / "evaluate" / f"{name}_on_{corpus}"


def evaluate_run(model_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None) -> dict:
    """Re-score a training run from its saved test predictions (``predictions.npz``).

    Writes, under ``out_dir`` (default ``<model_dir>/evaluation``), one report per seed (pooled
    over folds: JSON, Markdown, confusion PNG) and ``summary.json``/``summary.md`` (mean +- std
    over seeds).
    """
    model_dir = Path(model_dir)
    out = run_report_dir(model_dir, out_dir)
    seeds = sorted((p for p in model_dir.glob("seed_*") if p.is_dir()), key=lambda p: int(p.name.split("_")[1]))
    if not seeds:
        raise EmozooError(f"{model_dir} has no seed_* folders: is it a `python -m emozoo.train` run?")
    reports = []
    classes = None
    for sd in seeds:
        files = sorted(sd.glob("*/predictions.npz"))
        if not files:
            continue
        ys, ps = [], []
        for f in files:
            with np.load(f, allow_pickle=False) as z:
                ys.append(z["y_true"])
                ps.append(z["y_pred"])
                classes = [str(c) for c in z["classes"]]
        rep = classification_report(np.concatenate(ys), np.concatenate(ps), classes)
        rep["folds"] = len(files)
        write_report(rep, out, stem=sd.name, title=f"{model_dir.name} {sd.name} (pooled over {len(files)} folds)")
        reports.append(rep)
    if not reports:
        raise EmozooError(f"{model_dir} has no predictions.npz: no fold finished")
    summary = summarise_runs(reports)
    summary["seeds"] = [sd.name for sd in seeds]
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    (out / "summary.md").write_text(summary_markdown(summary, f"{model_dir.name}: test, pooled over folds"))
    return summary


def evaluate_model(name: str, corpus: str, *, protocol: str = "all", store: str | None = None,
                   out_dir: str | os.PathLike | None = None, zoo_root=None) -> dict:
    """Score zoo model ``name`` on the labelled clips of ``corpus``'s feature store.

    ``protocol``: ``all`` (every labelled clip: the cross-corpus test of a model trained
    elsewhere) or ``official`` (clips whose split column is ``test``). A zoo model is one
    trained model; protocols that retrain per fold (LOSO) are ``python -m emozoo.train``'s job.
    """
    import emozoo
    from emozoo.train.data import load_table

    model = emozoo.load(name, zoo_root)
    feature = model.preprocessing["feature"]
    store = store or f"tfrecords/{corpus}_{feature}"
    table = load_table(store, feature, model.preprocessing.get("label_set", ""), corpus=corpus)
    if tuple(table.classes) != tuple(model.labels):
        raise SplitError(f"store {store} has classes {table.classes}, model {name} predicts {model.labels}")
    if protocol == "official":
        raise SplitError("protocol official needs a split column; IS10 stores of EmoDB/CASIA/RAVDESS have "
                         "none: use --protocol all")
    if protocol != "all":
        raise SplitError(f"protocol {protocol!r} is not available for a single zoo model; use 'all' "
                         "(or train the protocol with python -m emozoo.train)")
    pred = model.predict_features(table.x).argmax(-1).astype(np.int64)
    rep = classification_report(table.y, pred, list(model.labels))
    rep.update({"model": name, "corpus": corpus, "protocol": protocol, "store": str(store)})
    out = model_report_dir(name, corpus, out_dir)
    write_report(rep, out, stem="report", title=f"{name} on {corpus} ({protocol})")
    return rep
