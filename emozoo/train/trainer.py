"""The experiment driver behind ``python -m emozoo.train``.

For each seed and each fold of the experiment's protocol it builds the registered model in the
strategy scope, fits the z-normalisation on the training fold, trains with TensorBoard,
:class:`~emozoo.train.callbacks.ExactBackup` and model selection on validation UAR (early stopping), scores the selected
weights on the test side, and writes::

    <model_dir>/config.json
    <model_dir>/seed_<s>/<fold>/        logs/ (TensorBoard), backup/, best.weights.h5,
                                         selection.json, predictions.npz, result.json
    <model_dir>/seed_<s>/test.{json,md}, test_confusion.png     (pooled over the folds)
    <model_dir>/summary.{json,md}                                 (mean +- std over seeds)

A fold with ``result.json`` is complete and skipped when the command is re-run, so a killed run
resumes: finished folds are kept, the interrupted fold restarts from its last backup, and the
resumed run equals the uninterrupted one (same batches, dropout masks, optimizer state and
selection records; see docs/training.md).
"""
from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from emozoo.evaluation.metrics import SCALARS, classification_report, summarise_runs
from emozoo.evaluation.report import summary_markdown, write_report
from emozoo.experiments import ExperimentConfig
from emozoo.models import build_model
from emozoo.train.callbacks import ConfusionImage, ExactBackup, FaultInjection, ModelSelection, predict_logits, \
    read_backup, write_confusion_image
from emozoo.train.data import Fold, finalize
from emozoo.train.streaming import StreamedFold
from emozoo.utils import balanced_sample_weights, write_json_atomic
from emozoo.train.strategies import check_placement, make_strategy, patch_multi_worker_build
from emozoo.train.strategies import write_dir as worker_dir
from emozoo.train.tensorboard_utils import write_projector


def _atomic_json(path: Path, obj) -> None:
    write_json_atomic(path, obj, indent=2)


def make_optimizer(cfg) -> keras.optimizers.Optimizer:
    try:
        return keras.optimizers.get({"class_name": cfg.name, "config": {"learning_rate": cfg.learning_rate,
                                                                         **cfg.params}})
    except ValueError as exc:
        from emozoo.errors import ExperimentError
        raise ExperimentError(f"optimizer {cfg.name!r} with {cfg.params}: {exc}") from exc


def _dataset(x, y, w, batch_size, *, shuffle: bool, seed: int, epochs: int = 1, start_epoch: int = 0,
             skip: int = 0):
    """Batches of ``(x, y[, w])``.

    With ``shuffle`` the order of every epoch is a numpy permutation drawn from ``seed`` up
    front, and the batches of epochs ``start_epoch..epochs-1`` are one stream
    (``steps_per_epoch`` batches each). No random op runs inside the tf.data graph, so the
    batches are the same under every strategy (a distributed dataset is re-instantiated per
    replica/worker, which changes the draws of ``Dataset.shuffle``) and a run resumed at epoch
    ``e`` sees the batches it would have seen without the crash; ``skip`` drops the first batches
    of ``start_epoch`` (those a mid-epoch backup already trained on).
    """
    n = len(y)
    tensors = (x, y, w) if w is not None else (x, y)   # x: an array or a dict of arrays (model inputs)
    if shuffle:
        rng = np.random.default_rng(seed)
        perms = np.stack([rng.permutation(n) for _ in range(epochs)])[start_epoch:]
        consts = tf.nest.map_structure(tf.constant, tensors)
        ds = tf.data.Dataset.from_tensor_slices(perms).flat_map(
            lambda p: tf.data.Dataset.from_tensor_slices(p).batch(batch_size))
        ds = ds.skip(skip).map(lambda idx: tf.nest.map_structure(lambda c: tf.gather(c, idx), consts))
    else:
        ds = tf.data.Dataset.from_tensor_slices(tensors).batch(batch_size)
    opts = tf.data.Options()
    opts.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return finalize(ds.with_options(opts))    # fixed prefetch, autotuning off (no stall when fit ends)


def _set_aside_broken_backup(fold_dir: Path, log=print) -> None:
    """A backup that cannot be read (a disk error, a file edited by hand, or the non-atomic
    ``latest.weights.h5`` of Keras' ``BackupAndRestore`` of earlier versions) would make resuming
    fail deep in h5py. Such a fold is moved aside whole (``<fold>.broken-<time>``, nothing
    deleted) and trained again from epoch 0."""
    backup = fold_dir / "backup"
    if not backup.is_dir():
        return
    import h5py

    problem = None
    try:
        state = read_backup(backup)
        if state is None and any(backup.glob("*.h5")):
            raise ValueError("weights without a committed training_metadata.json")
        if state is not None:
            with h5py.File(backup / state["weights"], "r") as f:
                f.visit(lambda name: None)
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as e:
        problem = f"{type(e).__name__}: {e}"
    if problem is None:
        return
    aside = fold_dir.with_name(f"{fold_dir.name}.broken-{time.strftime('%Y%m%dT%H%M%S')}")
    os.replace(fold_dir, aside)
    log(f"[emozoo.train] the backup of {fold_dir} is unreadable ({problem}); "
        f"the fold was moved to {aside} and is trained again from epoch 0.")


def compile_defaults(model, tr, steps: int, strategy=None, *, mid_epoch: bool = False) -> dict:
    """Extra ``compile`` arguments of ``train_fold`` (issue 21): ``steps_per_execution = steps``
    (one epoch per call into the graph: the same batches and updates, no Python per step) for a
    model that allows it (``trainer_steps_per_execution = "epoch"``, e.g. the utterance DANN)
    when no callback needs every step: no mid-epoch backups (``backup_every_steps``), no
    ``EMOZOO_FAULT_AFTER_STEPS`` injection, not resuming inside an epoch, not multi-worker.
    ``jit_compile`` is the model's own default (Keras's "auto": XLA on GPU; on CPU compiling a
    new model per fold costs more than XLA saves in a fold, docs/performance.md)."""
    per_step = (tr.backup_every_steps or os.environ.get(FaultInjection.ENV) or mid_epoch
                or isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy))
    if getattr(model, "trainer_steps_per_execution", None) == "epoch" and not per_step and steps > 1:
        return {"steps_per_execution": int(steps)}
    return {}


def class_weights(y: np.ndarray, num_classes: int) -> np.ndarray:
    """Class-balanced per-row weights (``trainer.class_weighting = "balanced"``): one formula for the
    whole package, :func:`emozoo.utils.balanced_sample_weights`."""
    return balanced_sample_weights(y, num_classes)


def train_fold(cfg: ExperimentConfig, fold: Fold, fold_index: int, classes, seed: int, fold_dir: Path,
               strategy, *, is_chief: bool = True, verbose: int = 0, return_model: bool = False):
    """Train and score one fold; returns its result dict (also written to ``result.json``), or
    ``(result, model)`` with ``return_model`` (the model with the selected weights, which a zoo recipe
    exports; it trains into a folder without a finished fold)."""
    done = fold_dir / "result.json"
    if done.exists() and return_model:
        from emozoo.errors import ExperimentError
        raise ExperimentError(f"{fold_dir} holds a finished fold; return_model trains a new one: use an empty folder")
    if done.exists():
        return json.loads(done.read_text())
    if is_chief:
        _set_aside_broken_backup(fold_dir)
    t0 = time.time()
    tr = cfg.trainer
    keras.utils.set_random_seed(seed * 1009 + fold_index)
    streamed = fold if isinstance(fold, StreamedFold) else None   # training side read from the shards
    k, dim = len(classes), (streamed.input_dim if streamed else fold.train.x.shape[1])
    with strategy.scope():
        model = build_model(cfg.model.name, num_classes=k, input_dim=dim, **cfg.model.params)
        if streamed:
            streamed.prepare_model(model)            # z-normalisation from one pass over the shards
        elif hasattr(model, "prepare_fold"):           # model-specific statistics of the training side
            model.prepare_fold(fold)
        elif hasattr(model, "fit_normalization"):
            model.fit_normalization(fold.train.x)     # statistics of the training fold only
    # a model with ``fold_arrays`` builds its own inputs (e.g. adv_culture: culture labels, and the
    # unlabelled target rows with y = -1); the others take the features and labels of the fold
    arrays = getattr(model, "fold_arrays", lambda f, part, **kw: (getattr(f, part).x, getattr(f, part).y))
    train_x, train_y = arrays(fold, "train", seed=seed)
    w = class_weights(train_y, k) if tr.class_weighting == "balanced" else None
    backup_dir = fold_dir / "backup"
    state = read_backup(backup_dir)
    steps = -(-len(train_y) // tr.batch_size)
    with strategy.scope():
        model.compile(optimizer=make_optimizer(cfg.optimizer),
                      **compile_defaults(model, tr, steps, strategy, mid_epoch=bool(state and state["step"])))
    if strategy.num_replicas_in_sync > 1:      # build from one replica's batch: an odd global batch splits unevenly
        patch_multi_worker_build(model)
    backup = ExactBackup(backup_dir, seed=seed * 1009 + fold_index, every_steps=tr.backup_every_steps,
                         steps_per_epoch=steps)   # every worker backs up into its own folder
    start, start_step = (state["epoch"], state["step"]) if state else (0, 0)
    if state:
        backup.restore(model, state)
    valid_ds = (_dataset(*arrays(fold, "valid"), None, tr.batch_size, shuffle=False, seed=seed)
                if fold.valid is not None and len(fold.valid) else None)
    log_dir = fold_dir / "logs"
    selection = ModelSelection(fold_dir, monitor="val_uar" if valid_ds is not None else "",
                               patience=tr.patience, min_epochs=tr.min_epochs, write=is_chief)
    selection.resume_at = start
    selection.on_train_begin()          # the state as of the backup (records of later epochs dropped)
    before_backup, after_backup = FaultInjection.from_env()
    # order matters: an epoch the backup marks as done must already be in selection.json
    callbacks = [c for c in (selection, before_backup, backup, after_backup) if c is not None]
    if hasattr(model, "training_callbacks"):
        # a model's own per-step callbacks (e.g. adv_culture's Ganin ramp of alpha, model.params.alpha_schedule),
        # made after the backup is restored so they can start where the restored optimizer state is
        callbacks += list(model.training_callbacks(steps_per_epoch=steps, epochs=tr.epochs))
    if tr.tensorboard and is_chief:
        callbacks.append(keras.callbacks.TensorBoard(str(log_dir), write_graph=False, update_freq="epoch"))
        if valid_ds is not None:
            callbacks.append(ConfusionImage(log_dir, fold.valid.x, fold.valid.y, classes,
                                            every=max(1, tr.epochs // 8)))
    fit = dict(validation_data=valid_ds, callbacks=callbacks, verbose=verbose, shuffle=False)

    def train_ds(first, skip=0, last=tr.epochs):
        if streamed:
            return streamed.train_dataset(tr.batch_size, seed=seed, epochs=last, start_epoch=first, skip=skip,
                                          weights=w)
        return _dataset(train_x, train_y, w, tr.batch_size, shuffle=True, seed=seed, epochs=last,
                        start_epoch=first, skip=skip)

    if start_step and start < tr.epochs and not selection.should_stop():
        # the rest of the epoch a mid-epoch backup interrupted: its remaining batches, with the
        # dropout streams and metric accumulators of that step restored by ExactBackup
        model.fit(train_ds(start, start_step, start + 1), epochs=start + 1, initial_epoch=start,
                  steps_per_epoch=steps - start_step, **fit)
        start += 1
    if start < tr.epochs and not selection.should_stop():
        model.fit(train_ds(start), epochs=tr.epochs, initial_epoch=start, steps_per_epoch=steps, **fit)
    if is_chief and backup_dir.exists():
        shutil.rmtree(backup_dir)
    if selection.weights_path.exists():
        model.load_weights(selection.weights_path)
    result = {"fold": fold.name, "fold_index": fold_index, "seed": seed, "sizes": fold.sizes,
              "classes": list(classes), "input_dim": int(dim), "feature": cfg.data.features,
              "best_epoch": selection.state["best_epoch"], "best_val_uar": selection.state["best"]
              if selection.state["best"] != -np.inf else None,
              "epochs_run": len(selection.state["epochs"]), "starts": selection.state["starts"]}
    if fold.test is not None and len(fold.test):
        logits = predict_logits(model, arrays(fold, "test")[0])
        prob = tf.nn.softmax(logits).numpy()
        pred = prob.argmax(-1).astype(np.int64)
        corpora = fold.test.meta["corpus"].astype(str)
        result["test_corpora"] = sorted(set(corpora))
        result["test"] = classification_report(fold.test.y, pred, classes)
        if len(result["test_corpora"]) > 1:      # a test side of several corpora (cultures): each one's report too
            result["test_by_corpus"] = {c: classification_report(fold.test.y[corpora == c], pred[corpora == c],
                                                                 classes) for c in result["test_corpora"]}
        if is_chief:
            fold_dir.mkdir(parents=True, exist_ok=True)
            np.savez(fold_dir / "predictions.npz", y_true=fold.test.y, y_pred=pred, prob=prob.astype(np.float32),
                     clip_id=fold.test.meta["clip_id"].astype(str), corpus=fold.test.meta["corpus"].astype(str),
                     speaker=fold.test.meta["speaker"].astype(str), classes=np.asarray(classes, dtype=str))
    if tr.tensorboard and is_chief:
        shown = streamed.projector_view(tr.projector_examples, seed) if streamed else fold
        _tensorboard_extras(model, shown, classes, log_dir, tr.projector_examples, seed, result)
    result["seconds"] = round(time.time() - t0, 2)
    if is_chief:
        _atomic_json(done, result)
    return (result, model) if return_model else result


def _tensorboard_extras(model, fold: Fold, classes, log_dir: Path, limit: int, seed: int, result: dict):
    """Test confusion image and the projector (train + test embeddings, coloured by label/domain)."""
    if "test" in result:
        pred = np.asarray(result["test"]["confusion_matrix"])
        writer = tf.summary.create_file_writer(str(log_dir / "test"))
        y_true = np.repeat(np.arange(len(classes)), pred.sum(1))
        y_pred = np.concatenate([np.repeat(np.arange(len(classes)), row) for row in pred])
        write_confusion_image(writer, "confusion_matrix", y_true, y_pred, classes, 0,
                              title=f"test {fold.name} UAR {100 * result['test']['uar']:.1f}")
    if not hasattr(model, "embed"):
        return
    parts = [("train", fold.train)] + ([("test", fold.test)] if fold.test is not None else [])
    rng = np.random.default_rng(seed)
    xs, meta = [], {"label": [], "split": [], "speaker": [], "corpus": [], "culture": []}
    per = max(1, limit // len(parts))
    for name, t in parts:
        idx = np.sort(rng.permutation(len(t))[:per])
        xs.append(t.x[idx])
        meta["label"] += [classes[i] for i in t.y[idx]]
        meta["split"] += [name] * len(idx)
        for key in ("speaker", "corpus", "culture"):
            meta[key] += list(t.meta[key][idx])
    x = np.concatenate(xs)
    z = np.concatenate([keras.ops.convert_to_numpy(model.embed(tf.constant(x[i:i + 256])))
                        for i in range(0, len(x), 256)])
    write_projector(log_dir / "projector", z, meta)


def _pooled_report(cms, classes) -> dict:
    """The report of the predictions of several folds, from their summed confusion matrices."""
    cm = np.sum([np.asarray(c) for c in cms], axis=0)
    y_true = np.repeat(np.arange(len(classes)), cm.sum(1))
    y_pred = np.concatenate([np.repeat(np.arange(len(classes)), row) for row in cm])
    return classification_report(y_true, y_pred, classes)


def corpus_reports(results: list[dict], classes) -> dict:
    """``{corpus: report}`` of one seed's test predictions, pooled over its folds, per test corpus:
    the per-culture cells of the cross- and multi-culture tables (Liang et al. 2019, Tables 3-4). A
    fold whose test side is one corpus counts for that corpus, one of several through its
    ``test_by_corpus``."""
    cms: dict[str, list] = {}
    for r in results:
        if "test_by_corpus" in r:
            for c, rep in r["test_by_corpus"].items():
                cms.setdefault(c, []).append(rep["confusion_matrix"])
        elif "test" in r and r.get("test_corpora") and len(r["test_corpora"]) == 1:
            cms.setdefault(r["test_corpora"][0], []).append(r["test"]["confusion_matrix"])
    return {c: _pooled_report(v, classes) for c, v in sorted(cms.items())}


def _pool(results: list[dict], classes) -> dict | None:
    cms = [r["test"]["confusion_matrix"] for r in results if "test" in r]
    if not cms:
        return None
    rep = _pooled_report(cms, classes)
    rep["fold_mean"] = {k: float(np.mean([r["test"][k] for r in results if "test" in r])) for k in SCALARS}
    by_corpus = corpus_reports(results, classes)
    if len(by_corpus) > 1 or any("test_by_corpus" in r for r in results):
        rep["by_corpus"] = by_corpus
    extra = sorted({name for r in results for name in r.get("extra_tests", {})})
    if extra:              # further labelled sides a task scored (e.g. MELD dev), pooled over folds likewise
        rep["extra_tests"] = {name: _pooled_report([r["extra_tests"][name]["confusion_matrix"] for r in results
                                                    if name in r.get("extra_tests", {})], classes)
                              for name in extra}
    return rep


def model_summary(reports: list[dict]) -> dict:
    """Mean +- std over runs (every fold of every seed) of one model's test reports, for a task that
    trains several models per fold (``result["models"][name]["test"]``): each metric of
    :data:`~emozoo.evaluation.metrics.SCALARS` the reports all carry; ``n`` is the number of runs."""
    out = summarise_runs(reports, keys=[k for k in SCALARS if all(k in r for r in reports)])
    out["n"] = out["num_runs"]
    return out


def run_experiment(cfg: ExperimentConfig, model_dir: str | os.PathLike, *, strategy="default", seeds: int | None = None,
                   data_root: str | os.PathLike = ".", verbose: int = 0, log=print) -> dict:
    """Run every seed and fold of ``cfg``; returns the summary (also in ``summary.json``)."""
    strategy = make_strategy(strategy) if isinstance(strategy, str) else strategy
    model_dir = Path(model_dir)
    is_chief, write_dir = worker_dir(model_dir)
    previous = write_dir / "config.json"
    from emozoo.errors import ExperimentError
    if previous.exists() and json.loads(previous.read_text()) != json.loads(json.dumps(cfg.to_json())):
        raise ExperimentError(f"{model_dir} holds a run of a different config (see its config.json); finished "
                              "folds would be mixed with the new settings: use another --model-dir")
    # the distribution a run was trained under is part of its identity: the global batch is split over the
    # replicas and a resumed or re-read fold must not silently come from another setting
    run_json = write_dir / "run.json"
    placement = check_placement(write_dir, model_dir, strategy,
                                unrecorded="refuse" if previous.exists() and any(write_dir.glob("seed_*")) else None)
    if is_chief:
        _atomic_json(write_dir / "config.json", cfg.to_json())
        _atomic_json(run_json, placement)
    from emozoo.experiments import get_runner, get_task
    runner = get_runner(cfg.model.name)
    if runner is not None:                        # a method runner not yet moved onto a Task (issue 19)
        return runner(cfg, model_dir, strategy=strategy, seeds=seeds, data_root=data_root, verbose=verbose, log=log)
    from emozoo.train.task import FeatureVectorTask
    task = get_task(cfg.model.name) or FeatureVectorTask()
    folds, classes = task.build_folds(cfg, data_root=data_root, log=log)   # feature vectors: in memory or streamed
    n_seeds = int(seeds or cfg.trainer.seeds)
    log(f"[emozoo.train] {cfg.name}: {len(folds)} fold(s) x {n_seeds} seed(s), "
        f"{strategy.num_replicas_in_sync} replica(s), classes {list(classes)} -> {model_dir}")
    seed_reports, per_seed = [], []
    for s in range(n_seeds):
        seed = cfg.trainer.seed + s
        seed_dir = write_dir / f"seed_{seed}"
        results = []
        for i, fold in enumerate(folds):
            done = seed_dir / fold.slug / "result.json"
            r = json.loads(done.read_text()) if done.exists() else task.train_fold(
                cfg, fold, i, classes, seed, seed_dir / fold.slug, strategy, is_chief=is_chief, verbose=verbose)
            results.append(r)
            t = r.get("test")
            chosen = (f"best epoch {r['best_epoch']} (val UAR {100 * r['best_val_uar']:.1f})"
                      if r.get("best_val_uar") is not None else
                      f"best epoch {r['best_epoch']} (val accuracy {100 * r['best_val_accuracy']:.1f})"
                      if r.get("best_val_accuracy") is not None else      # a task selecting on accuracy (face CNN)
                      f"no validation set: last epoch {r['best_epoch']} kept" if "best_epoch" in r else
                      f"{r.get('epochs_run', '?')} epochs")
            log(f"  seed {seed} fold {fold.name}: {chosen}"
                + (f", test ACC {100 * t['accuracy']:.1f} UAR {100 * t['uar']:.1f} F1 {100 * t['macro_f1']:.1f}"
                   if t else "") + f" [{r.get('seconds', '?')}s]")
        pooled = _pool(results, classes)
        per_seed.append({"seed": seed, "folds": results, "test": pooled})
        if pooled is not None:
            seed_reports.append(pooled)
            if is_chief:
                write_report(pooled, seed_dir, stem="test", title=f"{cfg.name} seed {seed} (pooled over folds)")
    summary = {"experiment": cfg.name, "seeds": [p["seed"] for p in per_seed], "classes": list(classes),
               "folds": [f.name for f in folds], "strategy": type(strategy).__name__,
               "replicas": strategy.num_replicas_in_sync}
    if seed_reports:
        summary["test"] = summarise_runs(seed_reports)
        summary["test_fold_mean"] = summarise_runs([r["fold_mean"] for r in seed_reports])
        if all("extra_tests" in r for r in seed_reports):
            names = sorted(set.intersection(*(set(r["extra_tests"]) for r in seed_reports)))
            summary["extra_tests"] = {n: summarise_runs([r["extra_tests"][n] for r in seed_reports]) for n in names}
        if all("by_corpus" in r for r in seed_reports):    # several test corpora: each one over the seeds
            corpora = sorted(set.intersection(*(set(r["by_corpus"]) for r in seed_reports)))
            summary["test_by_corpus"] = {c: summarise_runs([r["by_corpus"][c] for r in seed_reports])
                                         for c in corpora}
    runs = [r for p in per_seed for r in p["folds"]]
    names = list(dict.fromkeys(m for r in runs for m in r.get("models", {})))
    if names:            # a task that trains several models per fold (SSGAN: FSBase, SSBase, SSGAN)
        summary["models"] = {m: model_summary([r["models"][m]["test"] for r in runs if m in r.get("models", {})])
                             for m in names}
    if is_chief:
        _atomic_json(model_dir / "summary.json", summary)
        if seed_reports:
            (model_dir / "summary.md").write_text(summary_markdown(summary["test"], f"{cfg.name}: test, pooled over folds"))
        if "test" in summary:
            t = summary["test"]
            log("[emozoo.train] " + ", ".join(f"{k} {100 * t[k]['mean']:.2f} +- {100 * t[k]['std']:.2f}"
                                              for k in ("accuracy", "uar", "macro_f1")))
    return summary


def seed_fold_dir(model_dir: str | os.PathLike, seed: int, experiment: str = "<its experiment>") -> Path:
    """The folder of the one fold of seed ``seed`` in a finished single-fold run of :func:`run_experiment`
    (``<model_dir>/seed_<seed>/<fold slug>/``: ``result.json`` and the fold's weights). Anything else is an
    :class:`~emozoo.errors.ExperimentError` naming the command that trains it."""
    from emozoo.errors import ExperimentError

    found = sorted(p.parent for p in (Path(model_dir) / f"seed_{seed}").glob("*/result.json"))
    if len(found) != 1:
        raise ExperimentError(f"{model_dir} has {len(found)} finished fold(s) for seed {seed}, expected one: run "
                              f"python -m emozoo.train --experiment {experiment} --model-dir {model_dir} "
                              f"--seeds {seed + 1}")
    return found[0]


def load_run(model_dir: str | os.PathLike) -> dict:
    """A finished run folder of :func:`run_experiment`, read back for the table scripts:
    ``{"summary": summary.json, "seeds": [{"seed", "test" (pooled over folds: seed_<s>/test.json),
    "folds": [each fold's result.json, in the order of the summary's folds]}]}``. A seed is listed only when its pooled
    test report exists; a missing summary is an :class:`~emozoo.errors.ExperimentError` naming the
    command to run."""
    from emozoo.errors import ExperimentError

    model_dir = Path(model_dir)
    path = model_dir / "summary.json"
    if not path.exists():
        raise ExperimentError(f"{model_dir} has no finished run (no summary.json): run python -m emozoo.train "
                              f"--experiment <its experiment> --model-dir {model_dir}")
    summary = json.loads(path.read_text())
    seeds = []
    for seed in summary.get("seeds", []):
        test = model_dir / f"seed_{seed}" / "test.json"
        if not test.exists():
            continue
        folds = [json.loads(p.read_text()) for p in (model_dir / f"seed_{seed}").glob("*/result.json")]
        order = summary.get("folds", [])           # the folds' names in the experiment's order
        seeds.append({"seed": seed, "test": json.loads(test.read_text()),
                      "folds": sorted(folds, key=lambda r: order.index(r["fold"]) if r.get("fold") in order
                                      else len(order))})
    return {"summary": summary, "seeds": seeds}
