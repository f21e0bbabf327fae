"""EmoBox-compatible evaluation: train and test an emozoo speech model on EmoBox's folds.

``python -m emozoo.evaluate --protocol emobox --corpus emodb --experiment emobox/emodb/compare/paper``

For each EmoBox fold (:func:`emozoo.data.emobox.emobox_folds`) and seed:

1. model selection inside the training side only: a validation part is drawn from the fold's
   training entries the way the fold draws its test part (:func:`validation_rows`): held-out
   *speakers* when the fold's train and test speakers are disjoint (CASIA, RAVDESS), a stratified
   random share of *clips* when they are not (EmoDB: every speaker is in every test fold);
2. the model is trained on the rest with early stopping on validation UAR
   (:func:`emozoo.train.trainer.train_fold`, the ``python -m emozoo.train`` loop);
3. with ``refit`` (default) the model is retrained on the fold's whole training side for the
   selected number of epochs, and this model is tested;
4. the fold is scored exactly as EmoBox scores it (:func:`emozoo.evaluation.metrics.emobox_scores`:
   UA, WA, macro-F1) and the corpus score is the mean over folds (EmoBox's convention).

Entries without a clip in our copy (RAVDESS: 16) are reported in ``emobox_missing.json`` and in
the summary, never dropped in silence. The same routine runs our speaker-independent protocols
(``--protocol loso`` / ``speaker_kfold``) on the same clips and label set, for the comparison table.

Experiments ``emobox/<corpus>/<feature>/<size>`` (features ``is10``, ``egemaps``, ``compare``;
sizes :data:`SIZES`) are registered here: the BSL baseline network (Liang et al. 2019, sec. 4.2)
on a native-label-set store ``tfrecords/<corpus>_all`` (built by the command in
:data:`STORE_COMMAND`).
"""
from __future__ import annotations

import dataclasses
import json
import os
import random
import time
from pathlib import Path

import numpy as np

from emozoo.data.emobox import CORPORA, corpus_info, emobox_folds, format_missing, missing_report
from emozoo.data.manifest import Manifest
from emozoo.errors import ExperimentError, SchemaError, SplitError
from emozoo.evaluation.metrics import EMOBOX_SCALARS, emobox_fold_average, emobox_scores
from emozoo.experiments import (DataConfig, ExperimentConfig, ModelConfig, OptimizerConfig, TrainerConfig,
                                register_experiment)

FEATURES = ("is10", "egemaps", "compare")
#: model sizes tried: the paper's BSL network and a smaller and a wider one.
SIZES = {
    "small": dict(generator_units=[256], classifier_units=[128], dropout=0.5),
    "paper": dict(generator_units=[512, 256], classifier_units=[500], dropout=0.5),
    "wide": dict(generator_units=[1024, 512], classifier_units=[500], dropout=0.5),
}
STORE_COMMAND = ("python -m emozoo.extract --corpus {corpus} --features is10,egemaps,compare "
                 "--label-set {label_set} --out tfrecords/{corpus}_all")
#: EmoBox paper (Ma et al. 2024), Table 4, UA %: wav2vec 2.0 base and the best encoder per corpus.
EMOBOX_REFERENCE = {
    "emodb": {"wav2vec 2.0 base": 82.06, "best": ("WavLM large", 92.58)},
    "casia": {"wav2vec 2.0 base": 39.56, "best": ("Whisper large v3", 59.58)},
    "ravdess": {"wav2vec 2.0 base": 54.33, "best": ("Whisper large v3", 75.32)},
}


def _register(corpus: str, feature: str, size: str, speaker_norm: bool = False) -> None:
    name = f"emobox/{corpus}/{feature}/{size}" + ("/spknorm" if speaker_norm else "")
    info = CORPORA[corpus]

    @register_experiment(name)
    def factory():
        return ExperimentConfig(
            name=name, model=ModelConfig("baseline", dict(SIZES[size])),
            data=DataConfig(corpora=(corpus,), features=feature, stores={corpus: f"tfrecords/{corpus}_all"},
                            protocol="emobox", valid_speakers=1, label_set=info.label_set,
                            protocol_kwargs={"speaker_norm": True} if speaker_norm else {}),
            # CPU preset: Adam 1e-3 (the BSL recipe's 1e-4 needs more than 60 epochs on these corpora),
            # at most 60 epochs, early stopping on validation UAR (patience 10)
            optimizer=OptimizerConfig("adam", 1e-3),
            trainer=TrainerConfig(epochs=60, batch_size=32, patience=10, min_epochs=10, seeds=3,
                                  tensorboard=False),
            description=f"BSL network ({size}), {feature}, EmoBox folds of {corpus}, all {info.label_set} classes"
                        + (", per-speaker z-normalisation" if speaker_norm else ""))


for _c in CORPORA:
    for _f in FEATURES:
        for _s in SIZES:
            _register(_c, _f, _s)
            _register(_c, _f, _s, speaker_norm=True)


def _speakers(m: Manifest) -> set:
    return {r.speaker for r in m}


def validation_rows(train: Manifest, test: Manifest, seed: int) -> tuple[Manifest, str]:
    """A validation part of ``train`` drawn like ``test`` was drawn from the corpus.

    Speaker-disjoint fold: ``round(S_train * S_test / (S_train + S_test))`` (at least 1) training
    speakers, drawn with ``seed``. Otherwise a class-stratified random share of the training clips
    equal to the test side's share of the fold.
    """
    tr_spk, te_spk = _speakers(train), _speakers(test)
    rng = random.Random(seed)
    if tr_spk and te_spk and not (tr_spk & te_spk) and len(tr_spk) >= 2:
        n = max(1, round(len(tr_spk) * len(te_spk) / (len(tr_spk) + len(te_spk))))
        order = sorted(tr_spk)
        rng.shuffle(order)
        held = set(order[:n])
        return train.filter(lambda r: r.speaker in held), f"speakers {sorted(held)}"
    share = len(test) / max(1, len(train) + len(test))
    picked = set()
    by_class: dict[str, list] = {}
    for r in train:
        by_class.setdefault(r.emotion, []).append(r.clip_id)
    for emo in sorted(by_class):
        ids = sorted(by_class[emo])
        rng.shuffle(ids)
        picked.update(ids[:max(1, round(share * len(ids)))])
    return train.filter(lambda r: r.clip_id in picked), f"stratified {100 * share:.0f}% of the training clips"


@dataclasses.dataclass
class EvalFold:
    """A fold to train and score: its clips, and EmoBox's entries without a clip (if any)."""

    index: int
    name: str
    train: Manifest
    test: Manifest
    missing: dict = dataclasses.field(default_factory=dict)


def speaker_normalise(table, rows: Manifest):
    """Per-speaker z-normalisation of the features (``x - mean_s) / std_s``) with each speaker's
    statistics over that speaker's clips in ``rows`` (the fold: training and test clips).

    Uses the test speakers' features but never their labels (speaker-level normalisation, as
    the culture-specific z-normalisation of Liang et al. 2019 sec. 4.2 one level down);
    a feature constant within a speaker is only centred.
    """
    from emozoo.train.data import FeatureTable
    index = _table_index(table)
    by_spk: dict[str, list] = {}
    for r in rows:
        i = index.get((r.corpus, r.clip_id.lower()))
        if i is not None:
            by_spk.setdefault(r.speaker, []).append(i)
    x = table.x.copy()
    for spk, idx in by_spk.items():
        idx = np.asarray(sorted(set(idx)))
        mu, sd = table.x[idx].mean(0), table.x[idx].std(0)
        x[idx] = (table.x[idx] - mu) / np.where(sd > 1e-8, sd, 1.0)
    return FeatureTable(table.store, x.astype(np.float32), table.y, table.meta, table.classes)


def _table_index(table) -> dict:
    return {(co, c.lower()): i for i, (c, co) in enumerate(zip(table.meta["clip_id"], table.meta["corpus"]))}


def _take(table, index, m: Manifest, classes):
    from emozoo.train.data import FeatureTable
    idx = []
    for r in m:
        i = index.get((r.corpus, r.clip_id.lower()))
        if i is None:
            raise SchemaError(f"clip {r.corpus}/{r.clip_id} is in the partition but not in store {table.store}: "
                              "rebuild the store from the same corpus copy")
        idx.append(i)
    t = table.take(idx)
    want = np.asarray([classes.index(r.emotion) for r in m], np.int64)
    if len(want) and not np.array_equal(t.y, want):
        bad = int(np.argmax(t.y != want))
        raise SchemaError(f"store {table.store} labels clip {m[bad].clip_id} {classes[t.y[bad]]!r}, the partition "
                          f"{m[bad].emotion!r}")
    return FeatureTable(t.store, t.x, t.y, t.meta, t.classes)


def protocol_folds(protocol: str, corpus: str, *, data_dir=None, emobox_dir=None, k: int = 6,
                   seed: int = 0, manifest: Manifest | None = None) -> tuple[list[EvalFold], tuple, dict]:
    """``emobox`` folds, or our speaker-independent ``loso`` / ``speaker_kfold`` folds of the same clips.

    Returns the folds, the class names and the missing-entry report (EmoBox only).
    """
    from emozoo.data import protocols
    folds, classes = emobox_folds(corpus, root=emobox_dir, data_dir=data_dir, manifest=manifest)
    if protocol == "emobox":
        return ([EvalFold(f.index, f.name, f.train, f.test, {s: [e.key for e in v] for s, v in f.missing.items()})
                 for f in folds], classes, missing_report(folds))
    clips = Manifest(list(folds[0].train) + list(folds[0].test), name=corpus)   # every matched clip, EmoBox label
    if protocol == "loso":
        splits = protocols.leave_one_speaker_out(clips)
    elif protocol == "speaker_kfold":
        splits = protocols.speaker_kfold(clips, k=min(k, len(clips.speakers())), seed=seed)
    else:
        raise SplitError(f"protocol {protocol!r}: use emobox, loso or speaker_kfold")
    return [EvalFold(i + 1, s.name, s.train, s.test) for i, s in enumerate(splits)], classes, {}


class _BestInMemory:
    """Early stopping on validation UAR keeping the best weights in memory (no per-epoch disk writes:
    the grid of this protocol trains a few hundred small models on a shared CPU)."""

    def __new__(cls, *a, **kw):
        import keras

        class Impl(keras.callbacks.Callback):
            def __init__(self, x, y, k, patience, min_epochs):
                super().__init__()
                self.x, self.y, self.k = keras.ops.convert_to_tensor(x), y, k
                self.patience, self.min_epochs = patience, min_epochs
                self.best, self.best_epoch, self.wait, self.weights = -1.0, -1, 0, None

            def on_epoch_end(self, epoch, logs=None):
                from emozoo.evaluation.metrics import uar
                pred = keras.ops.convert_to_numpy(self.model(self.x, training=False)).argmax(-1)
                value = uar(self.y, pred.astype(np.int64), self.k)
                if value > self.best + 1e-9:
                    self.best, self.best_epoch, self.wait = value, epoch, 0
                    self.weights = [w.copy() for w in self.model.get_weights()]
                else:
                    self.wait += 1
                if self.patience and self.wait >= self.patience and epoch + 1 >= self.min_epochs:
                    self.model.stop_training = True

        return Impl(*a, **kw)


def _fit(cfg: ExperimentConfig, fold, index: int, classes, seed: int) -> dict:
    """Train the experiment's model on ``fold.train`` (selection on ``fold.valid`` if any, else
    ``cfg.trainer.epochs`` epochs), return ``best_epoch``, ``best_val_uar`` and test predictions.

    The same recipe as :func:`emozoo.train.trainer.train_fold` (seeded init, z-normalisation fitted
    on the training side, Adam, optional class weighting, model selection on validation UAR), with
    the best weights held in memory.
    """
    import keras
    from emozoo.models import build_model
    from emozoo.train.trainer import class_weights, make_optimizer
    tr = cfg.trainer
    keras.utils.set_random_seed(seed * 1009 + index)
    k = len(classes)
    model = build_model(cfg.model.name, num_classes=k, input_dim=fold.train.x.shape[1], **cfg.model.params)
    if hasattr(model, "fit_normalization"):
        model.fit_normalization(fold.train.x)
    model.compile(optimizer=make_optimizer(cfg.optimizer))
    w = class_weights(fold.train.y, k) if tr.class_weighting == "balanced" else None
    cbs = []
    if fold.valid is not None and len(fold.valid):
        sel = _BestInMemory(fold.valid.x, fold.valid.y, k, tr.patience, tr.min_epochs)
        cbs.append(sel)
    model.fit(fold.train.x, fold.train.y, sample_weight=w, batch_size=tr.batch_size, epochs=tr.epochs,
              shuffle=True, verbose=0, callbacks=cbs)
    out = {"best_epoch": tr.epochs - 1, "best_val_uar": None}
    if cbs:
        model.set_weights(sel.weights)
        out.update(best_epoch=sel.best_epoch, best_val_uar=sel.best)
    if fold.test is not None and len(fold.test):
        prob = keras.ops.convert_to_numpy(keras.ops.softmax(model.predict(fold.test.x, batch_size=512, verbose=0)))
        out["y_true"], out["y_pred"] = fold.test.y, prob.argmax(-1).astype(np.int64)
        out["clip_id"] = fold.test.meta["clip_id"]
    keras.backend.clear_session()
    return out


def run_fold(cfg: ExperimentConfig, ef: EvalFold, table, classes, seed: int, out: Path, *,
             refit: bool = True) -> dict:
    """Select (validation inside the training side), optionally refit on the whole training side, score."""
    from emozoo.train.data import Fold
    done = out / "fold.json"
    if done.exists():
        return json.loads(done.read_text())
    t0 = time.time()
    out.mkdir(parents=True, exist_ok=True)
    if cfg.data.protocol_kwargs.get("speaker_norm"):
        table = speaker_normalise(table, Manifest(list(ef.train) + list(ef.test)))
    index = _table_index(table)
    valid_m, how = validation_rows(ef.train, ef.test, seed * 7919 + ef.index)
    ids = {r.clip_id for r in valid_m}
    fit_m = ef.train.filter(lambda r: r.clip_id not in ids)
    sel_fold = Fold(f"{ef.name}/select", _take(table, index, fit_m, classes), _take(table, index, valid_m, classes),
                    _take(table, index, ef.test, classes) if not refit else None,
                    {"train": len(fit_m), "valid": len(valid_m), "test": len(ef.test)})
    sel = _fit(cfg, sel_fold, ef.index, classes, seed)
    result = {"fold": ef.name, "seed": seed, "validation": how, "selected_epochs": sel["best_epoch"] + 1,
              "best_val_uar": sel["best_val_uar"], "sizes": {"train": len(ef.train), "test": len(ef.test),
                                                              "fit": len(fit_m), "valid": len(valid_m)},
              "missing": ef.missing}
    if refit:
        epochs = max(1, int(sel["best_epoch"]) + 1)
        rcfg = dataclasses.replace(cfg, trainer=dataclasses.replace(cfg.trainer, epochs=epochs, patience=0))
        full = Fold(f"{ef.name}/refit", _take(table, index, ef.train, classes), None,
                    _take(table, index, ef.test, classes), {"train": len(ef.train), "test": len(ef.test)})
        res = _fit(rcfg, full, ef.index, classes, seed)
    else:
        res = sel
    if "y_true" in res:
        result["emobox"] = emobox_scores(res["y_true"], res["y_pred"], len(classes))
        np.savez(out / "predictions.npz", y_true=res["y_true"], y_pred=res["y_pred"],
                 clip_id=np.asarray(res["clip_id"], dtype=str), classes=np.asarray(classes, dtype=str))
    result["seconds"] = round(time.time() - t0, 1)
    done.write_text(json.dumps(result, indent=1))
    return result


def run_protocol(cfg: ExperimentConfig, corpus: str, model_dir: str | os.PathLike, *, protocol: str = "emobox",
                 seeds: int | None = None, refit: bool = True, data_dir=None, emobox_dir=None,
                 store: str | None = None, folds: tuple = (), manifest: Manifest | None = None, log=print) -> dict:
    """Run every fold x seed of ``protocol`` for ``cfg`` on ``corpus``; write and return the summary.

    ``manifest``: the corpus's clips (default: our reader of ``corpus``).
    """
    from emozoo.train.data import load_table
    if corpus not in CORPORA:
        raise SplitError(f"--protocol emobox covers {sorted(CORPORA)}, not {corpus!r}")
    info = corpus_info(corpus)
    model_dir = Path(model_dir)
    eval_folds, classes, missing = protocol_folds(protocol, corpus, data_dir=data_dir, emobox_dir=emobox_dir,
                                                  manifest=manifest)
    if folds:
        eval_folds = [f for f in eval_folds if f.index in set(int(i) for i in folds)]
    store = store or cfg.data.store_for(corpus)
    # one command, the one that builds the EmoBox store (all classes, three feature sets)
    table = load_table(store, cfg.data.features,
                       command=STORE_COMMAND.format(corpus=corpus, label_set=info.label_set))
    if tuple(table.classes) != tuple(classes):
        raise SchemaError(f"store {store} has classes {table.classes}; EmoBox's {corpus} uses all {len(classes)} "
                          f"classes {classes}: build it with "
                          + STORE_COMMAND.format(corpus=corpus, label_set=info.label_set))
    config = {"experiment": cfg.name, "corpus": corpus, "protocol": protocol, "refit": refit,
              "store": str(store), "config": cfg.to_json()}
    cfile = model_dir / "config.json"
    if cfile.exists() and json.loads(cfile.read_text()) != json.loads(json.dumps(config)):
        raise ExperimentError(f"{model_dir} holds a run of another config; use another --model-dir")
    model_dir.mkdir(parents=True, exist_ok=True)
    cfile.write_text(json.dumps(config, indent=1))
    if missing:
        (model_dir / "emobox_missing.json").write_text(json.dumps(missing, indent=1))
        log("[emobox] " + format_missing(corpus, missing))
    n_seeds = int(seeds or cfg.trainer.seeds)
    per_seed = []
    for s in range(n_seeds):
        seed = cfg.trainer.seed + s
        results = []
        for ef in eval_folds:
            r = run_fold(cfg, ef, table, classes, seed, model_dir / f"seed_{seed}" / f"fold_{ef.index}",
                         refit=refit)
            e = r["emobox"]
            log(f"  {cfg.name} seed {seed} {ef.name}: epochs {r['selected_epochs']} (val UAR "
                f"{100 * (r['best_val_uar'] or 0):.1f}), UA {100 * e['ua']:.2f} WA {100 * e['wa']:.2f} "
                f"F1 {100 * e['macro_f1']:.2f} [{r['seconds']}s]")
            results.append(r)
        avg = emobox_fold_average([r["emobox"] for r in results])
        per_seed.append({"seed": seed, "fold_average": avg, "folds": [
            {"fold": r["fold"], **{k: r["emobox"][k] for k in EMOBOX_SCALARS}, "selected_epochs": r["selected_epochs"],
             "best_val_uar": r["best_val_uar"], "validation": r["validation"], "test_size": r["sizes"]["test"]}
            for r in results]})
    summary = {"experiment": cfg.name, "corpus": corpus, "protocol": protocol, "classes": list(classes),
               "refit": refit, "seeds": [p["seed"] for p in per_seed], "folds": [f.name for f in eval_folds],
               "per_seed": per_seed, "missing": missing}
    for k in EMOBOX_SCALARS:
        vals = np.asarray([p["fold_average"][k]["mean"] for p in per_seed])
        per_fold = np.asarray([p["fold_average"][k]["folds"] for p in per_seed])   # seeds x folds
        summary[k] = {"mean": float(vals.mean()), "std": float(vals.std(ddof=1)) if len(vals) > 1 else 0.0,
                      "values": vals.tolist(), "fold_mean": per_fold.mean(0).tolist(),
                      "fold_std": (per_fold.std(0, ddof=1) if len(vals) > 1 else np.zeros(per_fold.shape[1])).tolist()}
    summary["mean_val_uar"] = float(np.mean([f["best_val_uar"] or 0.0 for p in per_seed for f in p["folds"]]))
    (model_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    log(f"[emobox] {cfg.name} {protocol}: " + "  ".join(
        f"{k.upper()} {100 * summary[k]['mean']:.2f} +- {100 * summary[k]['std']:.2f}" for k in EMOBOX_SCALARS))
    return summary
