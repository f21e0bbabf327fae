"""The paper's three settings (sec. 4.2) on feature stores as culture folds (data roles).

The one trainer (``python -m emozoo.train --experiment adv_culture/...``) makes its folds with
:func:`emozoo.train.data.make_folds` and the model's ``prepare_fold`` / ``fold_arrays`` hooks
(:class:`~emozoo.models.adv_culture.adv_culture_model.AdversarialCultureModel`); this module states
the same roles as :class:`CultureFold` objects (:func:`make_culture_folds`, :func:`training_arrays`),
which the leave-one-corpus-out learner builds and trains with :func:`train_fold`.

A *setting* is a registered :class:`emozoo.experiments.ExperimentConfig` whose ``data`` says
which cultures (corpora) play which role:

==============  =================================================================================
mono-culture    ``protocol="speaker_kfold"``, one corpus: speaker-independent k folds inside it,
                the BSL network (G + E) trained and tested within the culture (Table 2).
cross-culture   ``protocol="cross_corpus"``, ``corpora=(A,)``, ``target=B``: E is trained on the
                labels of A only; C (ADV) sees the features of A and of B (B's labels withheld,
                ``y = -1``); tested on B (Table 3). ``protocol_kwargs["transductive"]`` (default
                True): the unlabelled B data is all of B, the test set too (no label of B is
                used at any point). With ``False``, B's speakers are split in two halves: C sees
                one half, the other is tested, and the halves swap (two folds); the rule lives in
                :mod:`emozoo.models.adv_culture.cross_culture_split`.
multi-culture   ``protocol="multi_corpus"``, ``corpora=(A, B, ...)``: k speaker folds inside each
                corpus; train on the training speakers of all corpora with labels, the smaller
                cultures upsampled to the largest; tested on each culture's held-out speakers
                (Table 4). ADV's C separates all cultures (softmax for > 2).
==============  =================================================================================

In every setting the inputs are z-normalised per culture (sec. 3.1), each culture's statistics
fitted on that culture's training-side features only (labelled training speakers and, for the
target culture, its unlabelled features), and BSL and ADV share the data, the normalisation,
the folds and the seed; they differ only by C and the adversarial term. Early fusion: a
``data.features`` of ``"is10+dface"`` concatenates the two stores' vectors clip by clip.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from emozoo.data import protocols
from emozoo.data.manifest import Manifest
from emozoo.errors import SchemaError, SplitError
from emozoo.models.adv_culture.cross_culture_split import TRANSDUCTIVE_DEFAULT, target_splits
from emozoo.train.data import FeatureTable, load_table, table_manifest

SETTINGS = ("mono", "cross", "multi")


@dataclasses.dataclass
class Part:
    """Arrays of one role: features, emotion labels (-1 = withheld), culture indices, corpus names."""

    x: np.ndarray
    y: np.ndarray
    c: np.ndarray
    corpus: np.ndarray

    def __len__(self):
        return len(self.y)

    @staticmethod
    def concat(parts: Sequence["Part"]) -> "Part":
        parts = [p for p in parts if p is not None and len(p)]
        if not parts:
            return Part(np.zeros((0, 0), np.float32), np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, str))
        return Part(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("x", "y", "c", "corpus")))


@dataclasses.dataclass
class CultureFold:
    """One training run of a setting.

    Args:
        name: fold name (``cross/emodb->casia``, ``multi/0``...).
        cultures: culture (corpus) names; index ``i`` is culture label ``i``.
        labelled_cultures: indices whose emotion labels train E (the others are withheld).
        train: labelled training examples (labelled cultures only).
        unlabelled: training-side examples whose labels are withheld (``y = -1``).
        test: per test corpus, its examples with their true labels.
    """

    name: str
    cultures: tuple
    labelled_cultures: tuple
    train: Part
    unlabelled: Part
    test: dict

    def normalisation_data(self):
        """Features and cultures the culture-specific z-normalisation is fitted on (training side only)."""
        p = Part.concat([self.train, self.unlabelled])
        return p.x, p.c


def _feature_names(features: str) -> list[str]:
    names = [f for f in features.split("+") if f]
    if not names:
        raise SchemaError(f"data.features {features!r} names no feature")
    return names


def load_culture_table(data, corpus: str, root: str | os.PathLike = ".") -> FeatureTable:
    """The labelled examples of ``corpus``; several features (``is10+dface``) are early-fused:
    concatenated per clip, keeping clips present in every store."""
    root = Path(root)
    tables = []
    for feat in _feature_names(data.features):
        store = data.stores.get(corpus) if len(_feature_names(data.features)) == 1 else None
        store = store or data.store_pattern.format(corpus=corpus, features=feat)
        path = store if Path(store).is_absolute() else str(root / store)
        tables.append(load_table(path, feat, data.label_set))
    if len(tables) == 1:
        return tables[0]
    keys = [dict(zip(zip(t.meta["clip_id"], t.meta["corpus"]), range(len(t)))) for t in tables]
    common = [k for k in keys[0] if all(k in kk for kk in keys[1:])]
    if not common:
        raise SchemaError(f"{corpus}: the stores of {data.features} share no clip; cannot early-fuse them")
    idx = [np.asarray([kk[k] for k in common]) for kk in keys]
    base = tables[0].take(idx[0])
    x = np.concatenate([t.x[i] for t, i in zip(tables, idx)], axis=1)
    return FeatureTable(f"{base.store}+...", x, base.y, base.meta, base.classes)


def _part(t: FeatureTable, m: Manifest, culture: int, withhold: bool = False) -> Part:
    pos = {(cid, co): i for i, (cid, co) in enumerate(zip(t.meta["clip_id"], t.meta["corpus"]))}
    idx = np.asarray([pos[(r.clip_id, r.corpus)] for r in m], np.int64)
    y = np.full(len(idx), -1, np.int32) if withhold else t.y[idx].astype(np.int32)
    return Part(t.x[idx], y, np.full(len(idx), culture, np.int32), t.meta["corpus"][idx])


def make_culture_folds(data, *, root: str | os.PathLike = ".") -> tuple[list[CultureFold], tuple]:
    """The folds of an ``adv_culture`` experiment's ``data`` config, and the class names."""
    p = data.protocol.lower()
    kw = dict(data.protocol_kwargs)
    seed = int(kw.pop("seed", 0))
    corpora = list(data.corpora) + ([data.target] if p == "cross_corpus" else [])
    if p == "cross_corpus" and not data.target:
        raise SplitError("cross-culture needs data.target (the unlabelled test culture)")
    if len(set(corpora)) != len(corpora):
        raise SplitError(f"a culture appears twice in {corpora}")
    tables = {c: load_culture_table(data, c, root) for c in corpora}
    classes = tables[corpora[0]].classes
    for c, t in tables.items():
        if t.classes != classes:
            raise SchemaError(f"{c} has classes {t.classes}, {corpora[0]} has {classes}")
    manifests = {c: table_manifest(tables[c], c) for c in corpora}
    cultures = tuple(corpora)
    folds = []
    if p in ("speaker_kfold", "mono_culture"):
        if len(corpora) != 1:
            raise SplitError(f"mono-culture takes one corpus, got {corpora}")
        c = corpora[0]
        k = min(int(kw.get("k", 5)), len(manifests[c].speakers()))
        for s in protocols.speaker_kfold(manifests[c], k=k, seed=seed):
            folds.append(CultureFold(f"mono/{c}/{s.name}", cultures, (0,), _part(tables[c], s.train, 0),
                                     Part.concat([]), {c: _part(tables[c], s.test, 0)}))
    elif p == "cross_corpus":
        src, tgt = corpora
        train = _part(tables[src], manifests[src], 0)
        for suffix, unl, tst in target_splits(manifests[tgt], transductive=kw.get("transductive", TRANSDUCTIVE_DEFAULT),
                                              seed=seed):
            folds.append(CultureFold(f"cross/{src}->{tgt}{suffix}", cultures, (0,), train,
                                     _part(tables[tgt], unl, 1, withhold=True), {tgt: _part(tables[tgt], tst, 1)}))
    elif p == "multi_corpus":
        if len(corpora) < 2:
            raise SplitError(f"multi-culture needs >= 2 corpora, got {corpora}")
        k = min([int(kw.get("k", 5))] + [len(manifests[c].speakers()) for c in corpora])
        per = {c: protocols.speaker_kfold(manifests[c], k=k, seed=seed) for c in corpora}
        for i in range(k):
            train = Part.concat([_part(tables[c], per[c][i].train, j) for j, c in enumerate(corpora)])
            test = {c: _part(tables[c], per[c][i].test, j) for j, c in enumerate(corpora)}
            folds.append(CultureFold(f"multi/{i}", cultures, tuple(range(len(corpora))), train, Part.concat([]), test))
    else:
        raise SplitError(f"adv_culture settings use protocol speaker_kfold (mono), cross_corpus (cross) or "
                         f"multi_corpus (multi), not {data.protocol!r}")
    return folds, tuple(classes)


def training_arrays(fold: CultureFold, *, balance: bool = True, seed: int = 0) -> Part:
    """The examples one epoch of training iterates over, the same for BSL and ADV.

    The labelled training examples and the unlabelled ones (``y = -1``). BSL gets the same
    batches: its unlabelled rows are masked out of ``L_emo`` and train nothing, but BSL and ADV
    then make the same number of E/G updates on the same labelled examples, and differ only by
    C and the adversarial term (with labelled-only batches BSL would make 2-5x fewer updates
    per epoch in the cross-culture setting and be under-trained). With ``balance`` each
    culture is upsampled (examples repeated, the remainder drawn without replacement with
    ``seed``) to the largest culture's count, as the paper upsamples AFEW in the multi-culture
    setting; it also gives C balanced cultures.
    """
    data = Part.concat([fold.train, fold.unlabelled])
    if not len(data):
        raise SplitError(f"fold {fold.name}: no training example")
    if not balance:
        return data
    rng = np.random.default_rng(seed)
    counts = {c: int((data.c == c).sum()) for c in np.unique(data.c)}
    top = max(counts.values())
    idx = []
    for c, n in counts.items():
        members = np.flatnonzero(data.c == c)
        reps, extra = divmod(top, n)
        idx.append(np.concatenate([np.tile(members, reps), rng.choice(members, extra, replace=False)]))
    idx = np.concatenate(idx)
    return Part(data.x[idx], data.y[idx], data.c[idx], data.corpus[idx])


def inputs_of(part: Part) -> dict:
    return {"features": part.x, "culture": part.c}


def build_model(fold: CultureFold, classes, model_params: dict, *, learning_rate: float, jit_compile=False,
                steps_per_execution: int = 1):
    """The compiled :class:`AdversarialCultureModel` of ``fold`` with its normalisation fitted."""
    import keras

    from emozoo.models.adv_culture.adv_culture_model import AdversarialCultureModel

    params = dict(model_params)
    params.update(culture_names=list(fold.cultures), labelled_cultures=list(fold.labelled_cultures),
                  num_cultures=len(fold.cultures))
    model = AdversarialCultureModel(num_classes=len(classes), input_dim=int(fold.train.x.shape[1]), **params)
    model.fit_normalization(*fold.normalisation_data())
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), jit_compile=jit_compile,
                  steps_per_execution=steps_per_execution)
    return model


def train_fold(fold: CultureFold, classes, model_params: dict, *, epochs: int, batch_size: int,
               learning_rate: float, seed: int, balance: bool = True, jit_compile=False, callbacks=(),
               verbose: int = 0):
    """Train a fresh model on one fold; returns ``(model, history)``.

    Only the leave-one-corpus-out learner (:class:`emozoo.evaluation.loco.AdvCultureLearner`) still
    trains this way: its committed ADV/BSL rows (``runs/loco_speech_*_{adv,bsl}``) were measured with
    it, and moving it onto :func:`emozoo.train.trainer.train_fold` (other initialisation seed and batch
    order) means re-running those rows (about 37 min of CPU here). Every table, the study, Fig. 2 and
    the zoo recipe train through the one trainer.
    """
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    data = training_arrays(fold, balance=balance, seed=seed)
    model = build_model(fold, classes, model_params, learning_rate=learning_rate, jit_compile=jit_compile)
    ds = (tf.data.Dataset.from_tensor_slices((inputs_of(data), data.y))
          .shuffle(len(data), seed=seed, reshuffle_each_iteration=True).batch(batch_size))
    from emozoo.train.data import finalize
    ds = finalize(ds)   # fixed prefetch, tf.data autotuning off: no stall when fit ends (issue 21)
    hist = model.fit(ds, epochs=epochs, verbose=verbose, callbacks=list(callbacks), shuffle=False)
    return model, hist.history
