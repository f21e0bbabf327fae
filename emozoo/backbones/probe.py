"""Probing pretrained backbones on emotion: linear probes per layer, learned layer weighting, the BSL head.

This is the "first measurement" of the backbones (issue 18, section 5): how much emotion the
frozen features of a backbone carry, under the protocols the zoo chooses models by.

Heads (all trained on frozen, pooled features ``x[N, R, D]``: R rows = layers of the backbone,
1 for a plain vector such as IS10):

- ``lr``: multinomial logistic regression on one row (one layer), L2 penalty ``1 / (C N)``,
  class-balanced weights (the protocols score UAR), fitted with L-BFGS (scipy), fixed ``C = 1``
  (never tuned on a test fold).
- ``wsum_linear``: a learned softmax-weighted sum of the R rows (the SUPERB / EmoBox "weighted
  layer sum") followed by a linear classifier; Adam, full batch, a fixed number of steps.
- ``wsum_bsl``: the same weighted sum followed by the BSL network of Liang et al. 2019 (G: 512-256,
  E: 500, dropout 0.5; :class:`emozoo.models.baseline.BaselineClassifier`'s architecture).

Normalisation: every corpus is z-normalised with its own statistics (mean/std over all of its
clips, labels unused), per row and dimension: seed 000's culture-specific normalisation, which a
deployed model reproduces with unlabelled clips of the new corpus (``adapt``).

Protocols (:func:`splits`), on a table that concatenates several corpora:

- ``loso:<corpus>``: leave-one-speaker-out inside one corpus (the test speaker's clips vs the
  rest of that corpus); scores pooled over all folds (one confusion matrix);
- ``cross:<source>-><target>``: train on every clip of one corpus, test on every clip of another;
- ``loco:<target>``: leave one corpus out: train on all the other corpora, test on it;
- ``split:<train>-><test>``: the corpus's own splits (FER2013: ``split:train->test`` = PrivateTest);
- ``kfold:<corpus>:<k>``: k subject-disjoint folds (subjects sorted, assigned round-robin).

Example::

    table = load_layered({"emodb": "tfrecords/emodb_whisper_base"}, "whisper_base")
    for name, tr, te in splits(table, "loso:emodb"):
        ...
"""
from __future__ import annotations

import dataclasses
from typing import Iterator, Sequence

import numpy as np

from emozoo.errors import SchemaError, SplitError
from emozoo.evaluation import metrics


@dataclasses.dataclass
class LayeredTable:
    """Labelled clips of one or more stores: ``x[N, R, D]``, labels, corpus and speaker per clip."""

    x: np.ndarray
    y: np.ndarray
    corpus: np.ndarray
    speaker: np.ndarray
    classes: tuple
    split: np.ndarray | None = None

    def __len__(self):
        return len(self.y)


def load_layered(stores: dict, feature: str) -> LayeredTable:
    """Read ``feature`` of the labelled examples of each store (``{corpus: store_dir}``).

    A 1-D feature (IS10) becomes ``R = 1``; a 2-D one (layer-wise pooled states) keeps its rows.
    All stores must share the label set.
    """
    from emozoo.data.tfrecord import load_spec, read_store

    xs, ys, corpora, speakers, split, classes = [], [], [], [], [], None
    for corpus, store in stores.items():
        spec = load_spec(store)
        if feature not in spec.names:
            raise SchemaError(f"store {store} has no feature {feature!r}; it has {spec.names}; build it with "
                              f"python -m emozoo.extract --corpus {corpus} --features {feature} --label-set 4class")
        if classes is None:
            classes = tuple(spec.classes)
        elif tuple(spec.classes) != classes:
            raise SchemaError(f"store {store} has classes {spec.classes}, the others {classes}")
        n0 = len(ys)
        for ex in read_store(store, features=[feature, "label", "speaker", "split"]).as_numpy_iterator():
            if ex["label"] < 0:
                continue
            v = np.asarray(ex[feature], np.float32)
            xs.append(v[None] if v.ndim == 1 else v)
            ys.append(int(ex["label"]))
            speakers.append(f"{corpus}/{ex['speaker'].decode('utf-8')}")
            split.append(ex["split"].decode("utf-8"))
        corpora.extend([corpus] * (len(ys) - n0))
        if len(ys) == n0:
            raise SchemaError(f"store {store} has no labelled example")
    shapes = {v.shape for v in xs}
    if len(shapes) != 1:
        raise SchemaError(f"feature {feature!r} has several shapes across clips: {sorted(shapes)[:3]}")
    return LayeredTable(np.stack(xs), np.asarray(ys, np.int64), np.asarray(corpora), np.asarray(speakers), classes,
                        np.asarray(split))


def corpus_znorm(table: LayeredTable, eps: float = 1e-5) -> LayeredTable:
    """Each corpus z-normalised with its own statistics (labels unused), per row and dimension."""
    x = np.empty_like(table.x)
    for c in np.unique(table.corpus):
        m = table.corpus == c
        mu = table.x[m].mean(axis=0, keepdims=True)
        sd = table.x[m].std(axis=0, keepdims=True)
        x[m] = (table.x[m] - mu) / (sd + eps)
    return dataclasses.replace(table, x=x)


def splits(table: LayeredTable, protocol: str) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """``(fold name, train indices, test indices)`` of a protocol (module docstring)."""
    kind, _, arg = protocol.partition(":")
    idx = np.arange(len(table))
    corpora = set(np.unique(table.corpus))

    def need(c):
        if c not in corpora:
            raise SplitError(f"{protocol}: corpus {c!r} is not in the table ({sorted(corpora)})")

    if kind == "loso":
        need(arg)
        inside = table.corpus == arg
        for spk in np.unique(table.speaker[inside]):
            test = inside & (table.speaker == spk)
            yield spk, idx[inside & ~test], idx[test]
    elif kind == "cross":
        src, _, tgt = arg.partition("->")
        need(src), need(tgt)
        yield arg, idx[table.corpus == src], idx[table.corpus == tgt]
    elif kind == "loco":
        need(arg)
        if len(corpora) < 2:
            raise SplitError(f"{protocol}: needs at least two corpora")
        yield arg, idx[table.corpus != arg], idx[table.corpus == arg]
    elif kind == "split":
        a, _, b = arg.partition("->")
        splits_present = set(np.unique(table.split)) if table.split is not None else set()
        if a not in splits_present or b not in splits_present:
            raise SplitError(f"{protocol}: the table's splits are {sorted(splits_present)}")
        yield arg, idx[table.split == a], idx[table.split == b]
    elif kind == "kfold":
        corpus, _, k = arg.partition(":")
        need(corpus)
        inside = table.corpus == corpus
        subjects = np.unique(table.speaker[inside])
        k = int(k or 5)
        if k > len(subjects):
            raise SplitError(f"{protocol}: {len(subjects)} subjects, fewer than {k} folds")
        for f in range(k):
            held = subjects[f::k]
            test = inside & np.isin(table.speaker, held)
            yield f"fold{f}", idx[inside & ~test], idx[test]
    else:
        raise SplitError(f"unknown protocol {protocol!r}: loso:<corpus>, cross:<src>-><tgt>, loco:<corpus>, "
                         "split:<a>-><b> or kfold:<corpus>:<k>")


def _balanced_weights(y: np.ndarray, k: int) -> np.ndarray:
    from emozoo.utils import balanced_sample_weights
    return balanced_sample_weights(y, k).astype(np.float64)


def fit_logistic(x: np.ndarray, y: np.ndarray, k: int, c: float = 1.0, max_iter: int = 500) -> np.ndarray:
    """Multinomial logistic regression (L-BFGS, class-balanced, L2 ``1/(C N)``): ``W[D + 1, K]``."""
    from scipy.optimize import minimize

    x = np.asarray(x, np.float64)
    n, d = x.shape
    xb = np.concatenate([x, np.ones((n, 1))], axis=1)
    onehot = np.eye(k)[y]
    sw = _balanced_weights(y, k)[:, None]
    lam = 1.0 / (c * n)

    def f(wflat):
        w = wflat.reshape(d + 1, k)
        z = xb @ w
        z -= z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        loss = -(sw * onehot * logp).sum() / n + 0.5 * lam * (w[:-1] ** 2).sum()
        g = xb.T @ (sw * (np.exp(logp) - onehot)) / n
        g[:-1] += lam * w[:-1]
        return loss, g.ravel()

    res = minimize(f, np.zeros((d + 1) * k), jac=True, method="L-BFGS-B", options={"maxiter": max_iter})
    return res.x.reshape(d + 1, k)


def predict_logistic(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.argmax(np.asarray(x, np.float64) @ w[:-1] + w[-1], axis=1)


def fit_weighted_head(x: np.ndarray, y: np.ndarray, k: int, hidden: Sequence[int] = (), dropout: float = 0.0,
                      steps: int = 400, learning_rate: float = 1e-3, l2: float = 1e-4, batch_size: int = 256,
                      seed: int = 0):
    """Learned softmax layer weighting + optional hidden layers + linear output; returns ``predict(x)``.

    Mini-batch Adam for a fixed number of steps (class-balanced loss); nothing is chosen on the
    test data. Also returns the learned layer weights (softmax).
    """
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    n, r, d = x.shape
    rng = np.random.default_rng(seed)
    layer_logits = tf.Variable(tf.zeros([r]), name="layer_logits")
    dims = [d, *hidden, k]
    init = tf.keras.initializers.GlorotUniform(seed=seed)
    ws = [tf.Variable(init([a, b]), name=f"w{i}") for i, (a, b) in enumerate(zip(dims[:-1], dims[1:]))]
    bs = [tf.Variable(tf.zeros([b]), name=f"b{i}") for i, b in enumerate(dims[1:])]
    variables = [layer_logits, *ws, *bs]
    opt = tf.keras.optimizers.Adam(learning_rate)
    sw_all = _balanced_weights(y, k).astype(np.float32)

    def forward(xb, training):
        h = tf.einsum("nrd,r->nd", xb, tf.nn.softmax(layer_logits))
        for i, (w, b) in enumerate(zip(ws, bs)):
            h = h @ w + b
            if i < len(ws) - 1:
                h = tf.nn.relu(h)
                if training and dropout:
                    h = tf.nn.dropout(h, dropout, seed=seed + i)
        return h

    @tf.function(jit_compile=False)
    def step(xb, yb, sb):
        with tf.GradientTape() as tape:
            logits = forward(xb, True)
            ce = tf.nn.sparse_softmax_cross_entropy_with_logits(yb, logits)
            loss = tf.reduce_sum(ce * sb) / tf.reduce_sum(sb) + l2 * tf.add_n([tf.reduce_sum(w * w) for w in ws])
        opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    x = x.astype(np.float32)
    for _ in range(steps):
        b = rng.choice(n, size=min(batch_size, n), replace=False)
        step(tf.constant(x[b]), tf.constant(y[b], tf.int32), tf.constant(sw_all[b]))

    def predict(xt):
        out = []
        for i in range(0, len(xt), 1024):
            out.append(forward(tf.constant(xt[i:i + 1024].astype(np.float32)), False).numpy())
        return np.argmax(np.concatenate(out), axis=1)

    return predict, tf.nn.softmax(layer_logits).numpy()


HEADS = {
    "wsum_linear": dict(hidden=(), dropout=0.0, steps=400, learning_rate=3e-3),
    # the BSL network (G 512-256 + E 500, dropout 0.5) of Liang et al. 2019 on the weighted sum
    "wsum_bsl": dict(hidden=(512, 256, 500), dropout=0.5, steps=600, learning_rate=1e-3),
}


def evaluate_protocol(table: LayeredTable, protocol: str, head: str, row: int | None = None, seed: int = 0) -> dict:
    """Train ``head`` on every fold of ``protocol`` and score the pooled test predictions.

    ``head``: ``lr`` (on ``row``; ``None`` = the mean of all rows) or a key of :data:`HEADS`.
    Returns UAR, WA (accuracy), macro-F1, the confusion matrix and the fold count (and the mean
    learned layer weights for the weighted heads).
    """
    k = len(table.classes)
    y_true, y_pred, weights = [], [], []
    for _, tr, te in splits(table, protocol):
        if head == "lr":
            xtr = table.x[tr].mean(axis=1) if row is None else table.x[tr, row]
            xte = table.x[te].mean(axis=1) if row is None else table.x[te, row]
            pred = predict_logistic(fit_logistic(xtr, table.y[tr], k), xte)
        elif head in HEADS:
            predict, lw = fit_weighted_head(table.x[tr], table.y[tr], k, seed=seed, **HEADS[head])
            pred = predict(table.x[te])
            weights.append(lw)
        else:
            raise ValueError(f"unknown head {head!r}: lr or one of {sorted(HEADS)}")
        y_true.append(table.y[te])
        y_pred.append(pred)
    yt, yp = np.concatenate(y_true), np.concatenate(y_pred)
    cm = metrics.confusion_matrix(yt, yp, k)
    out = {"uar": metrics.uar(cm=cm), "wa": metrics.accuracy(cm=cm), "macro_f1": metrics.macro_f1(cm=cm),
           "confusion": cm.tolist(), "folds": len(y_true), "n_test": int(len(yt))}
    if weights:
        out["layer_weights"] = np.mean(weights, axis=0).round(4).tolist()
    return out


SPEECH_CORPORA = ("emodb", "casia", "ravdess")


def speech_protocols(corpora: Sequence[str] = SPEECH_CORPORA) -> list[str]:
    """LOSO in each corpus, the cross-corpus directions, leave-one-corpus-out."""
    return ([f"loso:{c}" for c in corpora]
            + [f"cross:{a}->{b}" for a in corpora for b in corpora if a != b]
            + [f"loco:{c}" for c in corpora])


def run_table(tables: dict, protocols: Sequence[str], seeds: Sequence[int], results: dict, save=None,
              heads: Sequence[str] = ("lr_rows", "wsum_linear", "wsum_bsl"), log=print) -> dict:
    """Fill ``results[feature][protocol][head]`` (resumable: finished entries are kept).

    ``tables``: ``{feature: LayeredTable}`` (already normalised). ``lr_rows`` = the logistic
    probe on every row (layer) and on the mean of the rows; the weighted heads run once per seed.
    ``save(results)`` is called after every finished entry.
    """
    import time

    for feature, table in tables.items():
        for protocol in protocols:
            slot = results.setdefault(feature, {}).setdefault(protocol, {})
            jobs = []
            if "lr_rows" in heads:
                rows = list(range(table.x.shape[1])) + ([None] if table.x.shape[1] > 1 else [])
                jobs += [(f"lr_row{r}" if r is not None else "lr_mean", "lr", r, 0) for r in rows]
            for h in heads:
                if h in HEADS:
                    jobs += [(f"{h}_seed{s}", h, None, s) for s in seeds]
            for key, head, row, seed in jobs:
                if key in slot:
                    continue
                t0 = time.time()
                slot[key] = evaluate_protocol(table, protocol, head, row=row, seed=seed)
                log(f"{feature:16s} {protocol:24s} {key:18s} UAR {100 * slot[key]['uar']:5.1f}  "
                    f"({time.time() - t0:.1f} s)")
                if save is not None:
                    save(results)
    return results


def summarise(results: dict) -> dict:
    """Per feature and protocol: the best LR row, LR on the row mean, weighted heads mean +- std over seeds."""
    out = {}
    for feature, per_protocol in results.items():
        for protocol, entries in per_protocol.items():
            row = {}
            lr_rows = {k: v["uar"] for k, v in entries.items() if k.startswith("lr_row")}
            if lr_rows:
                row["lr_by_layer"] = {k[len("lr_row"):]: round(100 * v, 2) for k, v in sorted(
                    lr_rows.items(), key=lambda kv: int(kv[0][len("lr_row"):]))}
            if "lr_mean" in entries:
                row["lr_mean"] = round(100 * entries["lr_mean"]["uar"], 2)
            for h in HEADS:
                vals = [v["uar"] for k, v in entries.items() if k.startswith(h + "_seed")]
                if vals:
                    row[h] = {"mean": round(100 * float(np.mean(vals)), 2), "std": round(100 * float(np.std(vals)), 2),
                              "seeds": len(vals)}
            out.setdefault(feature, {})[protocol] = row
    return out
