"""Leave-one-corpus-out (LOCO) benchmark: train on every corpus but one, test on the one left out.

Issue 20, section 4. For each target corpus T of ``data.corpora`` (speech: EmoDB, CASIA, RAVDESS;
4 classes), a *row* (features + learner) is trained on the other corpora and scored on every
labelled clip of T (UAR, WA, macro-F1), 5 seeds by default. Every training corpus is z-normalised
with its own statistics (the culture-specific normalisation of Liang et al. 2019, labels unused);
the target is normalised as a deployed model would normalise a corpus it has never seen:

* ``none``: with the statistics of the training corpora pooled (no adaptation);
* ``adapt10`` / ``adapt50``: with the statistics of 10 / 50 target clips drawn at random per seed
  (unlabelled; what ``model.adapt(clips)`` of the flagship models does);
* ``adapt_all``: with the statistics of every target clip (``predict(..., adapt="batch")``);
* ``transductive`` (adversarial learners only): the model is trained again with the target's
  clips as unlabelled data (normalised with their own statistics): a culture/speaker the adversary
  must not tell apart, as in the papers' cross-culture (Liang et al.) and speaker (Lian et al.)
  settings. The other conditions use the model trained without any target clip.

Learners (the method configs are the registered experiments', so a LOCO row trains the method as
its own table does):

* ``head``: :func:`emozoo.models.emotion_speech.emotion_speech_head.train_head` on the layer-wise
  states (learned layer weighting + ``linear`` / ``mlp256`` / ``bsl``): the flagship recipe;
* ``adv_culture``: :class:`~emozoo.models.adv_culture.adv_culture_model.AdversarialCultureModel`,
  ``mode`` ``bsl`` (the paper's BSL) or ``adv`` (one culture per training corpus);
* ``dann``: :class:`~emozoo.models.dann.dann_model.DANNUtteranceModel`, one domain per training
  speaker (+ the target's speakers in the transductive condition).

Layer-wise features (``whisper_base`` ``[7, 512]``) enter the vector learners as the mean over
their rows. The runner is registered for model name ``loco``; the experiments are
``loco/speech/<row>`` (:mod:`emozoo.evaluation.loco_experiments`)::

    python -m emozoo.train --experiment loco/speech            # every row (an experiment group)
    python -m emozoo.train --experiment loco/speech/whisper_base_linear --seeds 5
    python -m emozoo.report loco/speech                        # Markdown + JSON + PNG

Results are resumable: each (target, seed) cell is written to ``<model_dir>/cells.json`` as it
finishes and kept on a re-run.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from emozoo.errors import ExperimentError, SchemaError

CONDITIONS = ("none", "adapt10", "adapt50", "adapt_all")
TRANSDUCTIVE = "transductive"
METRICS = ("uar", "wa", "macro_f1")
LEARNERS = ("head", "adv_culture", "dann")


def _atomic_json(path: Path, obj) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


def load_tables(data, root: str | os.PathLike = ".", cache_dir: str | os.PathLike | None = None):
    """``(x[N, R, D], y, corpus, speaker, classes)`` of the labelled examples of ``data.corpora``.

    ``data`` is the experiment's :class:`~emozoo.experiments.config.DataConfig`; stores resolve
    with ``data.store_for`` against ``root``. Cached (npz, no pickle) under ``cache_dir`` when given.
    """
    from emozoo.backbones.probe import load_layered

    corpora = tuple(data.corpora)
    if len(corpora) < 2:
        raise ExperimentError(f"leave-one-corpus-out needs at least 2 corpora, got {list(corpora)}")
    cache = Path(cache_dir) / f"{'+'.join(corpora)}_{data.features}.npz" if cache_dir else None
    if cache is not None and cache.exists():
        d = np.load(cache, allow_pickle=False)
        return d["x"], d["y"], d["corpus"], d["speaker"], tuple(str(c) for c in d["classes"])
    stores = {}
    for c in corpora:
        store = Path(data.store_for(c))
        store = store if store.is_absolute() else Path(root) / store
        if not store.exists():
            from emozoo.experiments import store_command
            raise ExperimentError(f"store {store} is missing; build it with "
                                  + store_command(corpus=c, features=data.features, label_set=data.label_set,
                                                  store=str(store)))
        stores[c] = str(store)
    t = load_layered(stores, data.features)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, x=t.x, y=t.y, corpus=t.corpus, speaker=t.speaker, classes=np.array(t.classes))
    return t.x, t.y, np.asarray(t.corpus), np.asarray(t.speaker), tuple(t.classes)


def scores(y_true, probs, k: int) -> dict:
    from emozoo.evaluation import metrics

    cm = metrics.confusion_matrix(np.asarray(y_true), np.asarray(probs).argmax(1), k)
    return {"uar": round(float(metrics.uar(cm=cm)), 4), "wa": round(float(metrics.accuracy(cm=cm)), 4),
            "macro_f1": round(float(metrics.macro_f1(cm=cm)), 4), "confusion": cm.tolist()}


def target_statistics(x_train: np.ndarray, x_target: np.ndarray, seed: int) -> dict:
    """The target's normalisation statistics per condition of :data:`CONDITIONS`.

    The 10 / 50 clips are drawn with ``numpy.random.default_rng(1000 + seed)`` (as the
    ``emotion_speech`` LOCO benchmark draws them, so the two agree clip for clip).
    """
    from emozoo.models.emotion_speech.emotion_speech_head import statistics

    rng = np.random.default_rng(1000 + seed)
    stats = {"none": statistics(x_train), "adapt_all": statistics(x_target)}
    for n in (10, 50):
        if len(x_target) < n:
            raise SchemaError(f"the target has {len(x_target)} clips, fewer than the {n} of condition adapt{n}")
        stats[f"adapt{n}"] = statistics(x_target[rng.choice(len(x_target), size=n, replace=False)])
    return stats


# -- learners -----------------------------------------------------------------------------------
def _flat(z: np.ndarray) -> np.ndarray:
    """Vector learners read the mean over a layer-wise feature's rows (``R = 1``: the vector itself)."""
    return np.asarray(z, np.float32).mean(1) if z.shape[1] > 1 else np.asarray(z[:, 0], np.float32)


class _Learner:
    """Train on normalised training states; ``probabilities(z)`` of normalised target states."""

    def probabilities(self, z: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError


class HeadLearner(_Learner):
    def __init__(self, z, y, k, *, head: str, seed: int):
        from emozoo.models.emotion_speech.emotion_speech_head import train_head

        self.module = train_head(z, y, k, head=head, seed=seed)

    def probabilities(self, z):
        from emozoo.models.emotion_speech.emotion_speech_head import head_probabilities

        return head_probabilities(self.module, z)


def _method_config(name: str):
    from emozoo.experiments import get_experiment

    return get_experiment(name)


class AdvCultureLearner(_Learner):
    """The cross-culture adversarial network (or its BSL) with one culture per training corpus
    (+ the target as an unlabelled culture when ``z_unlabelled`` is given). Inputs arrive
    normalised per corpus, so the model's own culture normalisation is left at the identity."""

    def __init__(self, z, y, k, corpus, *, method_experiment: str, mode: str, seed: int, z_unlabelled=None,
                 target: str = "target"):
        from emozoo.models.adv_culture.adv_culture_task import CultureFold, Part, train_fold

        cfg = _method_config(method_experiment)
        names = tuple(sorted(set(corpus.tolist())))
        c = np.array([names.index(v) for v in corpus], np.int32)
        train = Part(_flat(z), np.asarray(y, np.int32), c, np.asarray(corpus))
        unl = Part.concat([])
        cultures = names
        if z_unlabelled is not None:
            cultures = names + (target,)
            n = len(z_unlabelled)
            unl = Part(_flat(z_unlabelled), -np.ones(n, np.int32), np.full(n, len(names), np.int32),
                       np.array([target] * n))
        fold = CultureFold(f"loco/{target}", cultures, tuple(range(len(names))), train, unl, {})
        params = dict(cfg.model.params)
        balance = bool(params.pop("balance_cultures", True))
        params.update(mode=mode)
        for key in ("num_cultures", "culture_names", "labelled_cultures"):
            params.pop(key, None)
        self.model, self.history = train_fold(fold, list(range(k)), params, epochs=cfg.trainer.epochs,
                                              batch_size=cfg.trainer.batch_size,
                                              learning_rate=cfg.optimizer.learning_rate, seed=seed,
                                              balance=balance)
        # the per-corpus normalisation happened outside: the model's own rows become the identity
        std = self.model.standardization
        std.mean.assign(np.zeros(std.mean.shape, np.float32))
        std.std.assign(np.ones(std.std.shape, np.float32))

    def probabilities(self, z):
        return _softmax_in_batches(self.model, _flat(z))


class DANNLearner(_Learner):
    """The utterance-level DANN (Lian et al. 2019's speaker adversary) with one domain per training
    speaker (+ the target's speakers, unlabelled, when ``z_unlabelled`` is given)."""

    def __init__(self, z, y, k, speaker, *, method_experiment: str, seed: int, z_unlabelled=None,
                 speaker_unlabelled=None):
        import keras
        import tensorflow as tf

        from emozoo.models.dann.dann_model import DANNUtteranceModel
        from emozoo.train.data import finalize

        cfg = _method_config(method_experiment)
        x, yy, spk = _flat(z), np.asarray(y, np.int32), list(speaker)
        if z_unlabelled is not None:
            x = np.concatenate([x, _flat(z_unlabelled)])
            yy = np.concatenate([yy, -np.ones(len(z_unlabelled), np.int32)])
            spk = spk + list(speaker_unlabelled)
        names = sorted(set(spk))
        dom = np.array([names.index(s) for s in spk], np.int32)
        params = dict(cfg.model.params)
        params["num_domains"] = len(names)
        keras.utils.set_random_seed(seed)
        self.model = DANNUtteranceModel(num_classes=k, input_dim=x.shape[1], **params)
        self.model.compile(optimizer=keras.optimizers.Adam(cfg.optimizer.learning_rate))
        ds = (tf.data.Dataset.from_tensor_slices(({"features": x, "domain": dom}, yy))
              .shuffle(len(yy), seed=seed, reshuffle_each_iteration=True).batch(cfg.trainer.batch_size))
        self.history = self.model.fit(finalize(ds), epochs=cfg.trainer.epochs, verbose=0, shuffle=False).history

    def probabilities(self, z):
        return _softmax_in_batches(self.model, _flat(z))


def _softmax_in_batches(model, x: np.ndarray, batch: int = 1024) -> np.ndarray:
    """Softmax of ``model(x)`` in inference mode (a direct call: no ``predict`` function re-traced per fold)."""
    import tensorflow as tf

    return np.concatenate([tf.nn.softmax(model(tf.constant(x[i:i + batch]), training=False), -1).numpy()
                           for i in range(0, len(x), batch)])


def _learner(row: dict, z, y, k, corpus, speaker, seed, *, z_unlabelled=None, speaker_unlabelled=None,
             target="target"):
    kind = row["learner"]
    if kind == "head":
        if z_unlabelled is not None:
            raise ExperimentError("a head learner has no transductive condition")
        return HeadLearner(z, y, k, head=row.get("head", "linear"), seed=seed)
    if kind == "adv_culture":
        return AdvCultureLearner(z, y, k, corpus, method_experiment=row["method_experiment"],
                                 mode=row.get("mode", "adv"), seed=seed, z_unlabelled=z_unlabelled, target=target)
    if kind == "dann":
        return DANNLearner(z, y, k, speaker, method_experiment=row["method_experiment"], seed=seed,
                           z_unlabelled=z_unlabelled, speaker_unlabelled=speaker_unlabelled)
    raise ExperimentError(f"unknown LOCO learner {kind!r}; known: {list(LEARNERS)}")


def loco_cell(row: dict, x, y, corpus, speaker, target: str, seed: int, k: int) -> dict:
    """One row, one target corpus, one seed: scores under every condition of the row."""
    from emozoo.models.emotion_speech.emotion_speech_head import normalise, per_group_normalise

    tr, te = corpus != target, corpus == target
    if not te.any():
        raise ExperimentError(f"target {target!r} has no labelled clip")
    ztr = per_group_normalise(x[tr], corpus[tr])
    learner = _learner(row, ztr, y[tr], k, corpus[tr], speaker[tr], seed)
    stats = target_statistics(x[tr], x[te], seed)
    out = {c: scores(y[te], learner.probabilities(normalise(x[te], *stats[c])), k) for c in CONDITIONS}
    if row["learner"] != "head":
        zt = normalise(x[te], *stats["adapt_all"])
        trans = _learner(row, ztr, y[tr], k, corpus[tr], speaker[tr], seed, z_unlabelled=zt,
                         speaker_unlabelled=speaker[te], target=target)
        out[TRANSDUCTIVE] = scores(y[te], trans.probabilities(zt), k)
    return out


def conditions_of(row: dict) -> tuple:
    return CONDITIONS + ((TRANSDUCTIVE,) if row["learner"] != "head" else ())


def summarise(cells: dict, corpora, conditions, metrics=METRICS) -> dict:
    """``{target|"mean": {condition: {metric: {mean, std, seeds}}}}`` in percent, of cells keyed
    ``<target>/seed<n>``.

    A target gets the mean +- std (population std, ``numpy.std``) of its cells over the seeds;
    ``mean`` averages the targets per seed first, then takes mean +- std over the seeds that cover
    every target of ``corpora`` (absent when no seed does). A target without cells is absent.

    Args:
        cells: ``{"<target>/seed<n>": {condition: {metric: value in [0, 1]}}}``.
        corpora: the targets, in order.
        conditions: the conditions to summarise (every cell must hold each).
        metrics: the metrics to summarise (default :data:`METRICS`).

    Example::

        summarise({"a/seed0": {"none": {"uar": 0.5}}, "b/seed0": {"none": {"uar": 0.7}}},
                  ("a", "b"), ("none",), ("uar",))["mean"]["none"]["uar"]   # {"mean": 60.0, "std": 0.0, "seeds": 1}
    """
    out = {}
    for t in corpora:
        vals = [v for key, v in cells.items() if key.split("/")[0] == t]
        if vals:
            out[t] = {c: {m: {"mean": round(100 * float(np.mean([v[c][m] for v in vals])), 2),
                              "std": round(100 * float(np.std([v[c][m] for v in vals])), 2), "seeds": len(vals)}
                          for m in metrics} for c in conditions}
    seeds = sorted({key.split("/")[1] for key in cells})
    full = [s for s in seeds if all(f"{t}/{s}" in cells for t in corpora)]
    if full:
        out["mean"] = {}
        for c in conditions:
            out["mean"][c] = {}
            for m in metrics:
                vals = [np.mean([cells[f"{t}/{s}"][c][m] for t in corpora]) for s in full]
                out["mean"][c][m] = {"mean": round(100 * float(np.mean(vals)), 2),
                                     "std": round(100 * float(np.std(vals)), 2), "seeds": len(vals)}
    return out


def summarise_rows(cells: dict, targets, conditions, metrics=METRICS) -> dict:
    """``{row: summarise(...)}`` of cells keyed ``<row>/<target>/seed<n>`` (the flagship benchmarks'
    layout: several heads / designs in one file), rows sorted.

    Args:
        cells: ``{"<row>/<target>/seed<n>": {condition: {metric: value}}}``.
        targets: the targets of every row, or a callable ``row -> targets``.
        conditions, metrics: as :func:`summarise`.

    Example::

        summarise_rows(results["cells"], ("emodb", "casia", "ravdess"), CONDITIONS)["linear"]["mean"]
    """
    rows: dict = {}
    for key, v in cells.items():
        row, _, rest = key.partition("/")
        rows.setdefault(row, {})[rest] = v
    return {row: summarise(rows[row], targets(row) if callable(targets) else targets, conditions, metrics)
            for row in sorted(rows)}


def fill_cells(results: dict, rows, seeds, targets, cell, save=None, log=print) -> dict:
    """Compute the missing cells ``<row>/<target>/seed<n>`` of a flagship LOCO benchmark into
    ``results["cells"]`` (the layout :func:`summarise_rows` reads); cells already there are kept.

    Seed outermost: every row gets its first seeds first. After each cell one line is logged (its
    UAR under ``none``, ``adapt10``, ``adapt50``, ``adapt_all``, and its seconds: the cell's own
    ``"seconds"`` when it has one, else the time ``cell`` took) and ``save(results)`` is called.

    Args:
        results: the benchmark's results (``cells`` created when missing).
        rows: the heads / designs; seeds: the seeds (ints).
        targets: the target corpora, or a callable ``row -> targets``.
        cell: ``(row, target, seed) -> {condition: {metric: value}, ...}``.
        save: called with ``results`` after each cell (``None``: not saved).
        log: where the line goes.

    Example (``emotion_speech_loco.run``)::

        fill_cells(results, heads, range(5), CORPORA, lambda h, t, s: loco_cell(x, y, corpus, t, h, s, k), save)
    """
    cells = results.setdefault("cells", {})
    for seed in seeds:
        for row in rows:
            for target in (targets(row) if callable(targets) else targets):
                key = f"{row}/{target}/seed{seed}"
                if key in cells:
                    continue
                t0 = time.time()
                cells[key] = c = cell(row, target, seed)
                log(f"{key:28s} UAR none {100 * c['none']['uar']:5.1f}  adapt10 {100 * c['adapt10']['uar']:5.1f}  "
                    f"adapt50 {100 * c['adapt50']['uar']:5.1f}  all {100 * c['adapt_all']['uar']:5.1f}   "
                    f"({c.get('seconds', time.time() - t0):.0f} s)")
                if save:
                    save(results)
    return results


def run_experiment(cfg, model_dir, *, strategy=None, seeds=None, data_root=".", verbose=0, log=print) -> dict:
    """The ``loco`` runner of ``python -m emozoo.train`` (see the module docstring)."""
    from emozoo.train.strategies import require_single_device
    require_single_device(strategy, "loco")
    row = dict(cfg.model.params)
    if row.get("learner") not in LEARNERS:
        raise ExperimentError(f"loco experiment {cfg.name}: model.params.learner must be one of {list(LEARNERS)}, "
                              f"got {row.get('learner')!r}")
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    x, y, corpus, speaker, classes = load_tables(cfg.data, data_root, cache_dir=Path(data_root) / "runs" / "loco"
                                                 / "tables")
    k, corpora = len(classes), tuple(cfg.data.corpora)
    n_seeds = int(seeds or cfg.trainer.seeds)
    cells_path = model_dir / "cells.json"
    cells = json.loads(cells_path.read_text()) if cells_path.exists() else {}
    conditions = conditions_of(row)
    log(f"[emozoo.train] {cfg.name}: leave-one-corpus-out over {list(corpora)} x {n_seeds} seed(s), "
        f"classes {list(classes)}, features {cfg.data.features} {list(x.shape[1:])} -> {model_dir}")
    for s in range(n_seeds):
        seed = cfg.trainer.seed + s
        for target in corpora:
            key = f"{target}/seed{seed}"
            if key in cells:
                continue
            t0 = time.time()
            cells[key] = loco_cell(row, x, y, corpus, speaker, target, seed, k)
            cells[key]["seconds"] = round(time.time() - t0, 1)
            _atomic_json(cells_path, cells)
            log(f"  {key:18s} UAR " + "  ".join(f"{c} {100 * cells[key][c]['uar']:.1f}" for c in conditions)
                + f"  [{cells[key]['seconds']}s]")
    done = {kk: v for kk, v in cells.items() if int(kk.split("seed")[1]) < cfg.trainer.seed + n_seeds}
    summary = {"experiment": cfg.name, "protocol": "leave-one-corpus-out", "corpora": list(corpora),
               "features": cfg.data.features, "row": row, "classes": list(classes),
               "seeds": sorted({int(kk.split("seed")[1]) for kk in done}),
               "n_clips": {c: int((corpus == c).sum()) for c in corpora}, "conditions": list(conditions),
               "loco": summarise(done, corpora, conditions), "strategy": "default", "replicas": 1}
    if "mean" in summary["loco"]:
        m = summary["loco"]["mean"]["none"]
        # the generic summary key (mean over targets, no adaptation), as other runners write it
        summary["test"] = {"uar": {"mean": m["uar"]["mean"] / 100, "std": m["uar"]["std"] / 100},
                           "accuracy": {"mean": m["wa"]["mean"] / 100, "std": m["wa"]["std"] / 100},
                           "macro_f1": {"mean": m["macro_f1"]["mean"] / 100, "std": m["macro_f1"]["std"] / 100}}
        log(f"[emozoo.train] {cfg.name}: mean LOCO UAR " + ", ".join(
            f"{c} {summary['loco']['mean'][c]['uar']['mean']:.1f} +- {summary['loco']['mean'][c]['uar']['std']:.1f}"
            for c in conditions))
    _atomic_json(model_dir / "summary.json", summary)
    return summary
