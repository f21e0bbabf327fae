"""The semi-supervised experiments of Liang, Chen, Jin 2019 on the corpora we have.

Data assembly, training with model selection on validation UAR, the baselines, and scoring:

==============  ===================================================================================
speech          labelled corpus RAVDESS (24 actors, 4 classes): k = 5 actor folds (test actors,
                validation actors, the rest train); a labelled *fraction* of the training clips
                (stratified per class) keeps its labels; the unlabelled pool is the other speech
                corpora (EmoDB + CASIA, every clip, labels never read). Input: centre 128-frame
                crops of the 128-bin log-Mel (``fbank``) store, 2x2 average-pooled to 64x64 in
                the CPU preset (conv G/D).
face            FER2013 48x48 grey faces: per seed a pool of ``pool`` training images, a labelled
                fraction of it (stratified), the rest of the pool unlabelled (the rest of FER2013
                train, as the issue asks); validation: ``valid_size`` PublicTest faces; test: the
                whole PrivateTest (3589).
multimodal      RAVDESS audio-visual features (MFCC functionals 259 + OpenFace AUs 35, one pair per
                clip; dense G/D per modality, MFSBase/MSSGAN): actor folds as for speech; the
                training clips outside the labelled fraction are the unlabelled pool (no other AV
                corpus here).
functionals     the dense variant on a functionals store (eGeMAPS): as ``speech``, used by the
                normalisation ablation.
face_dface      the paper's visual features: Dface embeddings (336, ``tfrecords/{ckplus,jaffe}_dface``,
                the zoo's FER2013 DenseNet) of CK+ (labelled fraction of 5 subject folds) with the
                rest of the training subjects' images and all of JAFFE unlabelled; dense G/D,
                6 classes.
==============  ===================================================================================

Models per run (same data, folds, seed): ``fsbase`` (D as a plain classifier on the labelled
part), ``ssbase`` (FSBase's best weights, then pseudo-labels: unlabelled samples FSBase predicts
with probability >= ``ssbase_threshold`` join the labelled set, fine-tuned with model selection
on validation UAR), ``ssgan`` (Algorithm 1). For two modalities the same give ``mfsbase`` and
``mssgan``.

Normalisation of the unlabelled data (sec. V-B): ``none`` (statistics of the labelled training
set applied to labelled/validation/test, the unlabelled data left raw), ``self`` (labelled and
unlabelled data each with their own statistics), ``shift`` (labelled statistics applied to
both), ``combine`` (statistics of labelled + unlabelled applied to all).

Training runs on the one trainer (issue 19): :class:`SSGANTask` is the model ``ssgan``'s Task, so
``python -m emozoo.train --experiment ssgan/...`` (and ``pipelines/ssgan_table.py``) go through
:func:`emozoo.train.trainer.run_experiment` (seeds x folds, strategy, resume, reports); model
selection is the trainer's :class:`~emozoo.train.callbacks.ModelSelection` (:func:`fit_selected`).
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from emozoo.errors import SchemaError, SplitError
from emozoo.evaluation.metrics import classification_report

SETTINGS = ("speech", "face", "multimodal", "functionals", "face_dface")
NORMALISATIONS = ("none", "self", "shift", "combine")
CACHE = Path("tfrecords/ssgan_cache")


# --------------------------------------------------------------------------------------- data
@dataclasses.dataclass
class Pool:
    """Arrays of one source: inputs (one array per modality), labels (-1 unlabelled), speakers."""

    x: list
    y: np.ndarray
    speaker: np.ndarray

    def __len__(self):
        return len(self.y)

    def take(self, idx) -> "Pool":
        idx = np.asarray(idx, np.int64)
        return Pool([a[idx] for a in self.x], self.y[idx], self.speaker[idx])

    @staticmethod
    def concat(pools: Sequence["Pool"]) -> "Pool":
        return Pool([np.concatenate([p.x[m] for p in pools]) for m in range(len(pools[0].x))],
                    np.concatenate([p.y for p in pools]), np.concatenate([p.speaker for p in pools]))


def _cached(name: str, build):
    path = CACHE / f"{name}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    data = build()
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")   # per process: workers may build one entry at once
    np.savez(tmp, **data)
    os.replace(tmp, path)
    return data


def pool_frames(x: np.ndarray, pool: int) -> np.ndarray:
    """``[N, T, F]`` -> ``[N, T/pool, F/pool]`` average pooling (the CPU preset's input reduction)."""
    if pool <= 1:
        return x
    n, t, f = x.shape
    return x.reshape(n, t // pool, pool, f // pool, pool).mean(axis=(2, 4))


def load_frames(corpus: str, feature: str = "fbank", *, width: int = 128, pool: int = 2,
                store_pattern: str = "tfrecords/{corpus}_{feature}") -> Pool:
    """Centre ``width``-frame crops of a frame-level store (zero-padded when shorter), pooled."""
    store = store_pattern.format(corpus=corpus, feature=feature)

    def build():
        import tensorflow as tf

        from emozoo.data.tfrecord import read_store
        from emozoo.features.fbank import crop_frames
        if not Path(store, "spec.json").exists():
            raise SchemaError(f"no frame-level store {store}: build it with `python -m emozoo.extract --corpus "
                              f"{corpus} --features {feature} --label-set 4class --out {store}`")
        xs, ys, spk = [], [], []
        for ex in read_store(store, features=[feature, "label", "speaker"]):
            xs.append(crop_frames(ex[feature], width, mode="center").numpy())
            ys.append(int(ex["label"]))
            spk.append(ex["speaker"].numpy().decode())
        del tf
        return {"x": pool_frames(np.stack(xs).astype(np.float32), pool), "y": np.asarray(ys, np.int64),
                "speaker": np.asarray(spk)}
    d = _cached(f"{corpus}_{feature}_w{width}_p{pool}", build)
    return Pool([d["x"]], d["y"], d["speaker"])


def load_functionals(corpus: str, feature: str = "egemaps") -> Pool:
    """One vector per clip of ``tfrecords/<corpus>_<feature>``; layer-wise backbone states
    (``whisper_base`` ``[7, 512]``) enter as the mean over their rows."""
    from emozoo.data.tfrecord import load_spec
    from emozoo.train.data import existing_store, load_table

    store = existing_store(f"tfrecords/{corpus}_{feature}", feature, corpus=corpus)
    shape = next((f.shape for f in load_spec(str(store)).features if f.name == feature), ())
    if len(shape) == 2:                                             # layer-wise states [R, D]
        from emozoo.backbones.probe import load_layered
        t = load_layered({corpus: str(store)}, feature)
        speakers = np.asarray([s.split("/", 1)[-1] for s in t.speaker]).astype(str)
        return Pool([t.x.mean(1).astype(np.float32)], np.asarray(t.y, np.int64), speakers)
    t = load_table(str(store), feature)
    return Pool([t.x.astype(np.float32)], t.y.astype(np.int64), np.asarray(t.meta["speaker"]).astype(str))


def load_fer2013(split: str, data_dir: str | None = None) -> Pool:
    """FER2013 ``train``/``valid``/``test`` as ``[N, 48, 48]`` grey 0..255 and 7basic labels."""
    def build():
        from emozoo.data.corpora.base import load_manifest
        from emozoo.data.image import load_image
        from emozoo.data.labels import get_label_set
        classes = get_label_set("7basic").classes
        rows = [r for r in load_manifest("fer2013", data_dir=data_dir) if r.split == split]
        if not rows:
            raise SplitError(f"fer2013 has no {split!r} rows under the data directory")
        x = np.stack([load_image(r.path, grey=True, size=48)[..., 0] for r in rows]).astype(np.uint8)
        return {"x": x, "y": np.asarray([classes.index(r.emotion) for r in rows], np.int64)}
    d = _cached(f"fer2013_{split}", build)
    return Pool([d["x"].astype(np.float32)], d["y"], np.asarray(["fer"] * len(d["y"])))


def load_ravdess_av(data_dir: str | None = None) -> Pool:
    """RAVDESS AV features: ``[mfcc 259, au 35]`` per clip, 4class labels (-1 for other emotions)."""
    from emozoo.data.corpora.base import load_manifest
    from emozoo.data.corpora.ravdess_av import load_features
    from emozoo.data.labels import get_label_set
    classes = get_label_set("4class").classes
    rows = list(load_manifest("ravdess_av", data_dir=data_dir))
    data = load_features(rows[0].path)
    idx = np.asarray([r.extras["index"] for r in rows])
    y = np.asarray([classes.index(r.emotion) if r.emotion in classes else -1 for r in rows], np.int64)
    return Pool([data["X_audio_mfcc"][idx].astype(np.float32), data["X_visual_au"][idx].astype(np.float32)],
                y, np.asarray([r.speaker for r in rows]))


# -------------------------------------------------------------------------------------- splits
def speaker_folds(speakers: np.ndarray, k: int = 5, seed: int = 0) -> list[dict]:
    """``k`` speaker-disjoint folds: fold f tests speaker group f, validates on group f+1, trains on the rest."""
    spk = np.unique(speakers)
    if len(spk) < 3 or k < 3 or k > len(spk):
        raise SplitError(f"speaker folds need 3 <= k <= #speakers, got k={k} for {len(spk)} speakers")
    rng = np.random.default_rng(seed)
    groups = np.array_split(rng.permutation(spk), k)
    folds = []
    for f in range(k):
        test, valid = set(groups[f]), set(groups[(f + 1) % k])
        folds.append({"test": np.flatnonzero(np.isin(speakers, list(test))),
                      "valid": np.flatnonzero(np.isin(speakers, list(valid))),
                      "train": np.flatnonzero(~np.isin(speakers, list(test | valid)))})
    return folds


def labelled_fraction(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified ``(labelled, rest)`` positions: ``round(fraction * n_c)`` (>= 1) of every class."""
    if not 0 < fraction <= 1:
        raise SplitError(f"labelled fraction must be in (0, 1], got {fraction}")
    rng = np.random.default_rng(seed)
    lab = []
    for c in np.unique(y[y >= 0]):
        pos = np.flatnonzero(y == c)
        lab.append(rng.permutation(pos)[:max(1, int(round(fraction * len(pos))))])
    lab = np.sort(np.concatenate(lab))
    return lab, np.setdiff1d(np.arange(len(y)), lab)


def subsample(n: int, count: int, seed: int) -> np.ndarray:
    return np.sort(np.random.default_rng(seed).permutation(n)[:max(0, min(n, int(count)))])


# ------------------------------------------------------------------------------- normalisation
def _stats(arrays, axes):
    a = np.concatenate(arrays) if len(arrays) > 1 else arrays[0]
    mean = a.mean(axis=axes, keepdims=True)[0]
    std = a.std(axis=axes, keepdims=True)[0]
    return mean.astype(np.float32), np.where(std < 1e-6, 1.0, std).astype(np.float32)


def normalise(labelled: Pool, unlabelled: Pool | None, others: Sequence[Pool], strategy: str,
              axes_per_modality: Sequence[tuple]) -> tuple[Pool, Pool | None, list, list]:
    """The four strategies of sec. V-B; returns normalised copies and the ``(mean, std)`` per
    modality that labelled/validation/test data (and the exported model) use."""
    if strategy not in NORMALISATIONS:
        raise SchemaError(f"normalisation must be one of {NORMALISATIONS}, got {strategy!r}")
    lab_x, unl_x, oth_x, stats = [], [], [[] for _ in others], []
    for m, axes in enumerate(axes_per_modality):
        ls = _stats([labelled.x[m]], axes)
        if strategy == "combine" and unlabelled is not None and len(unlabelled):
            ls = _stats([labelled.x[m], unlabelled.x[m]], axes)
        stats.append(ls)
        lab_x.append((labelled.x[m] - ls[0]) / ls[1])
        for i, o in enumerate(others):
            oth_x[i].append((o.x[m] - ls[0]) / ls[1])
        if unlabelled is not None:
            if strategy == "none":
                unl_x.append(unlabelled.x[m])
            elif strategy == "self":
                us = _stats([unlabelled.x[m]], axes) if len(unlabelled) else ls
                unl_x.append((unlabelled.x[m] - us[0]) / us[1])
            else:
                unl_x.append((unlabelled.x[m] - ls[0]) / ls[1])
    unl = None if unlabelled is None else Pool(unl_x, unlabelled.y, unlabelled.speaker)
    return (Pool(lab_x, labelled.y, labelled.speaker), unl,
            [Pool(x, o.y, o.speaker) for x, o in zip(oth_x, others)], stats)


# ------------------------------------------------------------------------------------ training
def _inputs(x: list):
    return x[0] if len(x) == 1 else tuple(x)


def predict_proba(model, x: list, batch: int = 256) -> np.ndarray:
    import tensorflow as tf
    n = len(x[0])
    out = [tf.nn.softmax(model(_inputs([a[i:i + batch] for a in x]), training=False)).numpy()
           for i in range(0, n, batch)]
    return np.concatenate(out)


def _uar(model, pool: Pool, classes) -> float:
    pred = predict_proba(model, pool.x).argmax(-1)
    return classification_report(pool.y, pred, classes)["uar"]


def _dataset(labelled: Pool, unlabelled: Pool | None, batch: int, unlabelled_batch: int, seed: int,
             distributed: bool = False):
    """Global batches ``{"x", "y"[, "u"]}``: the labelled and unlabelled streams, each shuffled with
    its own seed and batched with ``drop_remainder``. Under a strategy (``distributed``) Keras splits
    every global batch over the replicas (sharded by data across workers), so a replica sees its
    part of the batch the single-device run trains on."""
    import tensorflow as tf

    def stream(pool: Pool, with_y: bool, b: int, s: int):
        t = (_inputs(pool.x), pool.y) if with_y else _inputs(pool.x)
        return (tf.data.Dataset.from_tensor_slices(t).repeat()
                .shuffle(min(len(pool), 20_000), seed=s, reshuffle_each_iteration=True).batch(b, drop_remainder=True))
    lab = stream(labelled, True, batch, seed)
    if unlabelled is None or not len(unlabelled):
        ds = lab.map(lambda x, y: {"x": x, "y": y})
    else:
        unl = stream(unlabelled, False, unlabelled_batch, seed + 1)
        ds = tf.data.Dataset.zip((lab, unl)).map(lambda a, u: {"x": a[0], "y": a[1], "u": u})
    if distributed:
        opts = tf.data.Options()
        opts.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        ds = ds.with_options(opts)
    from emozoo.train.data import finalize
    return finalize(ds, prefetch=2)   # tf.data autotuning off: no stall when fit ends (issue 21)


def _skip_symbolic_build(model, strategy) -> None:
    """Before a distributed ``fit`` Keras builds the model symbolically from a batch it takes from a
    first iterator of the dataset, then starts a new one: that would call the model on the dict
    batch, and a new iterator of the reshuffling stream has another order than the single-device
    run's. Every part of the model is built in ``__init__``, so only the two optimisers are left;
    they are built here, in the strategy's scope, and the symbolic build is skipped."""
    import types
    with strategy.scope():
        model.d_optimizer.build(model.discriminator_variables)
        if model.generators:
            model.g_optimizer.build(model.generator_variables)
    model.built = True
    model._maybe_symbolic_build = types.MethodType(lambda self, iterator=None, data_batch=None: None, model)


class _ValidationUAR:
    """Keras callback (built lazily: this module must not import Keras at import time) that scores
    validation UAR after every "epoch" of ``eval_every`` steps and puts it into the epoch's logs as
    ``val_uar``, in front of :class:`~emozoo.train.callbacks.ModelSelection`; it also records the
    ``curve`` (``[step, val UAR, loss]``) and ``history`` (step, val UAR and every training loss,
    means over the ``eval_every`` steps before it) of the result."""

    def __new__(cls, valid, classes, eval_every: int, log=None):
        import keras

        class ValidationUAR(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.curve, self.history = [], []

            def on_epoch_end(self, epoch, logs=None):
                logs = logs if logs is not None else {}
                u = _uar(self.model, valid, classes)
                step = (epoch + 1) * eval_every
                self.curve.append([step, round(u, 4)] + ([round(float(logs.get("loss", 0)), 4)] if logs else []))
                self.history.append({"step": step, "val_uar": float(u), **{k: float(v) for k, v in logs.items()}})
                logs["val_uar"] = float(u)          # the same dict reaches ModelSelection next
                if log:
                    log(f"    step {step}: val UAR {100 * u:.1f} " + " ".join(
                        f"{k} {float(v):.3f}" for k, v in logs.items() if k != "val_uar"))

        return ValidationUAR()


def fit_selected(model, labelled: Pool, unlabelled: Pool | None, valid: Pool, classes, selection_dir, *,
                 steps: int, eval_every: int, batch: int, unlabelled_batch: int, seed: int, log=None,
                 strategy=None) -> dict:
    """Train ``model`` for ``steps`` batches with the trainer's model selection
    (:class:`emozoo.train.callbacks.ModelSelection` in ``selection_dir``): one Keras "epoch" is
    ``eval_every`` steps, after which validation UAR is scored; the weights of the best one are
    kept (SSGAN's rule, sec. IV-C: best validation UAR, the first of equal values, no early stop:
    ``tie_break=""``, ``patience=0``) and loaded back into ``model`` at the end.

    ``model`` was built and compiled in ``strategy.scope()`` when a (distributed) ``strategy`` is
    given: ``batch``/``unlabelled_batch`` are then global batches, split over the replicas. Every
    worker selects in its own ``selection_dir`` (a non-chief worker's lies under its ``.workers``
    folder) so that all of them continue from the same weights. Returns ``best_val_uar``,
    ``best_step``, ``curve``, ``history`` and the fit's ``seconds``.
    """
    import shutil

    from emozoo.train.callbacks import ModelSelection
    from emozoo.train.strategies import is_distributed
    selection_dir = Path(selection_dir)
    if selection_dir.exists():                   # an interrupted earlier attempt: selection starts afresh
        shutil.rmtree(selection_dir)
    ds = _dataset(labelled, unlabelled, batch, unlabelled_batch, seed, distributed=is_distributed(strategy))
    if is_distributed(strategy):
        _skip_symbolic_build(model, strategy)
    score_valid = _ValidationUAR(valid, classes, eval_every, log)
    select = ModelSelection(selection_dir, monitor="val_uar", patience=0, tie_break="")
    t0 = time.time()
    model.fit(ds, steps_per_epoch=eval_every, epochs=max(1, steps // eval_every), callbacks=[score_valid, select],
              verbose=0, shuffle=False)   # the stream is shuffled in _dataset
    model.load_weights(select.weights_path)
    return {"best_val_uar": float(select.state["best"]), "best_step": (select.state["best_epoch"] + 1) * eval_every,
            "curve": score_valid.curve, "history": score_valid.history, "seconds": round(time.time() - t0, 1)}

def score(model, test: Pool, classes) -> dict:
    """The full :func:`~emozoo.evaluation.metrics.classification_report` of ``model`` on ``test``."""
    prob = predict_proba(model, test.x)
    return classification_report(test.y, prob.argmax(-1).astype(np.int64), classes)


def pseudo_label(model, unlabelled: Pool, threshold: float) -> Pool:
    """SSBase: the unlabelled samples FSBase classifies with probability >= ``threshold``, labelled
    with its prediction."""
    prob = predict_proba(model, unlabelled.x)
    keep = np.flatnonzero(prob.max(-1) >= threshold)
    p = unlabelled.take(keep)
    return Pool(p.x, prob[keep].argmax(-1).astype(np.int64), p.speaker)


# ------------------------------------------------------------------------------------- one run
@dataclasses.dataclass
class RunSpec:
    """One run: the setting, the labelled fraction, the fold/seed, and the training budget."""

    setting: str = "speech"
    fraction: float = 0.2
    fold: int = 0
    seed: int = 0
    models: tuple = ("fsbase", "ssbase", "ssgan")
    normalisation: str = "self"
    unlabelled_ratio: float = -1.0       # -1: the whole pool; r >= 0: r x the labelled count
    steps: int = 250
    eval_every: int = 25
    ssbase_steps: int = 100
    ssbase_threshold: float = 0.9
    batch: int = 32
    unlabelled_batch: int = 32
    model: dict = dataclasses.field(default_factory=dict)   # SemiSupervisedGAN kwargs (modalities' sizes)
    labelled_corpus: str = "ravdess"
    unlabelled_corpora: tuple = ("emodb", "casia")
    feature: str = "fbank"
    pool: int = 2
    folds: int = 5
    ct_form: str = "reference"           # CT form of the SSGAN (emozoo.losses.consistency): reference | euclidean
    unlabelled_with_rest: bool = True    # the training clips outside the labelled fraction join the unlabelled
                                         # pool (the paper's pool is in-domain-heavy); False: other corpora only
    face_pool: int = 4000
    valid_size: int = 600


def assemble(spec: RunSpec, data_dir: str | None = None):
    """``(labelled, unlabelled, valid, test, classes, modalities, axes)`` of one run."""
    from emozoo.data.labels import get_label_set
    s = spec.setting
    if s not in SETTINGS:
        raise SplitError(f"setting must be one of {SETTINGS}, got {s!r}")
    classes = get_label_set({"face": "7basic", "face_dface": "6basic"}.get(s, "4class")).classes
    if s == "face":
        train, valid_all = load_fer2013("train", data_dir), load_fer2013("valid", data_dir)
        test = load_fer2013("test", data_dir)
        pool = train.take(subsample(len(train), spec.face_pool, 1000 + spec.seed))
        lab, rest = labelled_fraction(pool.y, spec.fraction, spec.seed)
        labelled, unl = pool.take(lab), pool.take(rest)
        unl = Pool(unl.x, np.full(len(unl), -1), unl.speaker)
        valid = valid_all.take(subsample(len(valid_all), spec.valid_size, 7))
        mods = [{"name": "face", "shape": (48, 48), "variant": "conv"}]
        axes = [(0, 1, 2)]
    else:
        if s == "speech":
            src = load_frames(spec.labelled_corpus, spec.feature, pool=spec.pool)
            others = [load_frames(c, spec.feature, pool=spec.pool) for c in spec.unlabelled_corpora]
            mods = [{"name": spec.feature, "shape": tuple(src.x[0].shape[1:]), "variant": "conv"}]
            axes = [(0, 1)]
        elif s in ("functionals", "face_dface"):
            src = load_functionals(spec.labelled_corpus, spec.feature)
            others = [load_functionals(c, spec.feature) for c in spec.unlabelled_corpora]
            mods = [{"name": spec.feature, "shape": (src.x[0].shape[1],), "variant": "dense"}]
            axes = [(0,)]
        else:
            src, others = load_ravdess_av(data_dir), []
            mods = [{"name": "mfcc", "shape": (src.x[0].shape[1],), "variant": "dense"},
                    {"name": "au", "shape": (src.x[1].shape[1],), "variant": "dense"}]
            axes = [(0,), (0,)]
        folds = speaker_folds(src.speaker, spec.folds, seed=0)
        f = folds[spec.fold % len(folds)]
        tr = src.take(f["train"])
        valid = src.take(f["valid"]).take(np.flatnonzero(src.y[f["valid"]] >= 0))
        test = src.take(f["test"]).take(np.flatnonzero(src.y[f["test"]] >= 0))
        lab, rest = labelled_fraction(tr.y, spec.fraction, spec.seed)   # rest: other classes' clips too
        labelled = tr.take(lab)
        unl = Pool.concat(others + ([tr.take(rest)] if spec.unlabelled_with_rest else [])) if others \
            else tr.take(rest)
        unl = Pool(unl.x, np.full(len(unl), -1), unl.speaker)
    if spec.unlabelled_ratio >= 0:
        want = int(round(spec.unlabelled_ratio * len(labelled)))
        if want > len(unl):
            raise SplitError(f"unlabelled ratio {spec.unlabelled_ratio} asks for {want} unlabelled samples, the pool "
                             f"has {len(unl)}")
        unl = unl.take(subsample(len(unl), want, 500 + spec.seed))
    mods = [{**m, **spec.model.get(m["name"], spec.model.get(m["variant"], {}))} for m in mods]
    return labelled, unl, valid, test, classes, mods, axes


def run_fold(spec: RunSpec, fold_dir: str | os.PathLike, strategy=None, *, data_dir: str | None = None,
             log=print) -> tuple[dict, dict]:
    """Train and score every model of ``spec.models`` on the fold/seed of ``spec``: the body of
    :meth:`SSGANTask.train_fold` (no cache, no loop: the trainer owns those).

    Every model is selected on validation UAR in its own folder ``fold_dir/<model>/``
    (:func:`fit_selected`) and its selected weights are saved as ``fold_dir/<model>.weights.h5``.
    ``strategy``: a ``tf.distribute.Strategy`` (``None``: the default one); the models are built
    and compiled in its scope and trained on global batches of ``spec.batch`` labelled +
    ``spec.unlabelled_batch`` unlabelled rows (losses scaled by the global batch, see
    :class:`~emozoo.models.ssgan.ssgan_model.SemiSupervisedGAN`). Returns ``(result, models)``:
    the fold's result (without the trainer's fields) and ``{name: trained model}``.
    """
    import keras

    from emozoo.models.ssgan.ssgan_model import SemiSupervisedGAN
    from emozoo.train.strategies import scope
    fold_dir = Path(fold_dir)
    labelled, unl, valid, test, classes, mods, axes = assemble(spec, data_dir)
    labelled, unl, (valid, test), stats = normalise(labelled, unl, [valid, test], spec.normalisation, axes)
    common = {k: v for k, v in spec.model.items() if k not in {m["name"] for m in mods} | {"conv", "dense"}}
    common.setdefault("ct_form", spec.ct_form)
    result = {"spec": json.loads(json.dumps(dataclasses.asdict(spec))), "classes": list(classes),
              "sizes": {"labelled": len(labelled), "unlabelled": len(unl) if unl is not None else 0,
                        "valid": len(valid), "test": len(test)}, "models": {}}
    log(f"[ssgan] {spec.setting} frac {spec.fraction} fold {spec.fold} seed {spec.seed}: {result['sizes']}")
    kw = dict(steps=spec.steps, eval_every=spec.eval_every, batch=spec.batch,
              unlabelled_batch=spec.unlabelled_batch, classes=classes, strategy=strategy)
    fs, models = None, {}
    for name in spec.models:
        keras.utils.set_random_seed(1000 * spec.seed + 17 * spec.fold + 3)
        t0 = time.time()
        if name in ("fsbase", "mfsbase"):
            with scope(strategy):
                fs = SemiSupervisedGAN(len(classes), mods, mode="fsbase", **common)
                fs.compile()
            sel = fit_selected(fs, labelled, None, valid, selection_dir=fold_dir / name, seed=spec.seed, **kw)
            model = fs
        elif name == "ssbase":
            if fs is None:
                raise SplitError("ssbase fine-tunes FSBase: list fsbase before ssbase in models")
            pseudo = pseudo_label(fs, unl, spec.ssbase_threshold)
            with scope(strategy):
                model = SemiSupervisedGAN(len(classes), mods, mode="fsbase", **common)
                model.compile()
            model.set_weights(fs.get_weights())
            sel0 = _uar(model, valid, classes)
            if len(pseudo):
                sel = fit_selected(model, Pool.concat([labelled, pseudo]), None, valid, selection_dir=fold_dir / name,
                                   seed=spec.seed, **{**kw, "steps": spec.ssbase_steps})
                if sel["best_val_uar"] < sel0:          # selection on validation UAR: keep FSBase's weights
                    model.set_weights(fs.get_weights())
                    sel["best_val_uar"], sel["best_step"] = sel0, 0
            else:
                sel = {"best_val_uar": sel0, "best_step": 0, "curve": [], "history": [], "seconds": 0.0}
            sel["pseudo_labelled"] = int(len(pseudo))
        elif name in ("ssgan", "mssgan"):
            with scope(strategy):
                model = SemiSupervisedGAN(len(classes), mods, mode="ssgan", **common)
                model.compile()
            sel = fit_selected(model, labelled, unl, valid, selection_dir=fold_dir / name, seed=spec.seed, **kw)
        else:
            raise SplitError(f"unknown model {name!r}: fsbase, ssbase, ssgan, mfsbase, mssgan")
        r = {**sel, "test": score(model, test, classes), "seconds_total": round(time.time() - t0, 1)}
        result["models"][name] = r
        log(f"  {name}: val UAR {100 * r['best_val_uar']:.1f} (step {r['best_step']}), test UAR "
            f"{100 * r['test']['uar']:.1f} F1 {100 * r['test']['macro_f1']:.1f} [{r['seconds_total']}s]")
        models[name] = model
    result["stats"] = [[s[0].tolist(), s[1].tolist()] for s in stats] if spec.setting != "speech" else \
        [[s[0].reshape(-1).tolist(), s[1].reshape(-1).tolist()] for s in stats]
    result["modalities"] = {n: json.loads(json.dumps(m.get_config()["modalities"])) for n, m in models.items()}
    fold_dir.mkdir(parents=True, exist_ok=True)
    for n, m in models.items():        # the selected weights (the zoo export reuses them)
        m.save_weights(fold_dir / f"{n}.weights.h5")
    return result, models


def spec_of(cfg) -> RunSpec:
    """The :class:`RunSpec` a registered ``ssgan/...`` experiment carries in ``model.params.run``
    (``--override model.params.run.steps=100`` etc. reach it)."""
    run = dict(cfg.model.params.get("run", {}))
    fields = {f.name for f in dataclasses.fields(RunSpec)}
    unknown = sorted(set(run) - fields)
    if unknown:
        raise SplitError(f"{cfg.name}: model.params.run has fields RunSpec does not know: {unknown}; "
                         f"it has {sorted(fields)}")
    return RunSpec(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in run.items()})


@dataclasses.dataclass
class SSGANFold:
    """One fold of an SSGAN experiment: speaker/subject fold ``index`` of ``spec.folds`` (the face
    setting's FER2013 splits are fixed: its "folds" are repeats that differ by seed only). The data
    are assembled when the fold is trained (:func:`assemble`)."""

    index: int

    @property
    def name(self) -> str:
        return f"fold{self.index}"

    slug = name


class SSGANTask:
    """The semi-supervised CT-GAN (Liang, Chen, Jin 2019) as a :class:`emozoo.train.task.Task`:
    ``python -m emozoo.train --experiment ssgan/...`` runs it inside the one trainer's loop
    (:func:`emozoo.train.trainer.run_experiment`: seeds x folds, ``--strategy``, resume of folds
    with a ``result.json``, pooled reports, the summary with one row per model).

    * :meth:`build_folds`: the ``spec.folds`` folds ``fold0 .. fold<k-1>`` (``data.folds`` keeps
      some of them) and the setting's classes;
    * :meth:`train_fold`: trainer seed ``s`` and fold ``k`` train :class:`RunSpec` ``fold=k,
      seed=s + k`` (with ``trainer.seed = 0`` and one trainer seed: fold k with seed k, as the
      tables were made) through :func:`run_fold`: every model of ``spec.models`` (e.g. FSBase,
      SSBase, SSGAN) selected on validation UAR in ``<fold>/<model>/``, weights
      ``<fold>/<model>.weights.h5``, and on the chief ``<fold>/result.json`` with ``models:
      {name: {best_val_uar, best_step, curve, history, seconds_total, [pseudo_labelled], test}}``
      and ``test``, the report of the last model (the semi-supervised one), which the trainer
      pools over the folds.

    Example:

    ```python
    from emozoo.experiments import get_experiment
    from emozoo.train.trainer import run_experiment
    summary = run_experiment(get_experiment("ssgan/face_dface/frac10"), "runs/ssgan_face_dface_frac10")
    summary["models"]["ssgan"]["uar"]["mean"]
    ```
    """

    def __init__(self):
        self.log = print

    def build_folds(self, cfg, *, data_root=".", log=print):
        from emozoo.data.labels import get_label_set
        spec = spec_of(cfg)
        self.log = log
        if spec.setting not in SETTINGS:
            raise SplitError(f"setting must be one of {SETTINGS}, got {spec.setting!r}")
        if spec.folds < 1:
            raise SplitError(f"{cfg.name}: model.params.run.folds must be >= 1, got {spec.folds}")
        folds = [SSGANFold(k) for k in range(spec.folds)]
        if cfg.data.folds:
            bad = [i for i in cfg.data.folds if not 0 <= int(i) < spec.folds]
            if bad:
                raise SplitError(f"data.folds {bad} out of range: {cfg.name} has {spec.folds} folds")
            folds = [folds[int(i)] for i in cfg.data.folds]
        classes = get_label_set({"face": "7basic", "face_dface": "6basic"}.get(spec.setting, "4class")).classes
        log(f"[ssgan] {cfg.name}: {spec.setting}, labelled fraction {spec.fraction:g}, models {list(spec.models)}, "
            f"{spec.steps} steps")
        return folds, tuple(classes)

    def train_fold(self, cfg, fold, fold_index, classes, seed, fold_dir, strategy, *, is_chief=True, verbose=0):
        from emozoo.utils import write_json_atomic
        t0 = time.time()
        k = fold.index if isinstance(fold, SSGANFold) else int(fold_index)
        spec = dataclasses.replace(spec_of(cfg), fold=k, seed=int(seed) + k)
        result, _ = run_fold(spec, fold_dir, strategy, log=self.log)
        last = result["models"][spec.models[-1]]
        epoch = last["best_step"] // spec.eval_every - 1
        result = {"fold": fold.name, "fold_index": k, "seed": spec.seed, "trainer_seed": int(seed), **result,
                  "test": last["test"], "best_epoch": epoch, "best_val_uar": last["best_val_uar"],
                  "seconds": round(time.time() - t0, 2)}
        if is_chief:
            write_json_atomic(Path(fold_dir) / "result.json", result)
        return result
