"""Leave-one-corpus-out benchmark of ``emotion_face`` designs, with and without adaptation.

JAFFE (Japanese posers), CK+48 (mostly Euro-American) and FER2013 (web faces) on their 6 shared
classes (:data:`~.emotion_face_data.SHARED6`: FER2013's neutral and CK+'s contempt are left out).
For every target corpus T, a design is trained on the two others (each z-normalised with its own
statistics) and scored on every labelled 6-class face of T (FER2013: all three splits, 29 689
faces) under these normalisations of T's embeddings:

* ``none``: the statistics of the training corpora pooled (the shipped model without adaptation);
* ``adapt10`` ... ``adapt100``: statistics of 10, 20, 50, 100 faces of T drawn at random per seed
  (labels unused), as ``model.adapt(images)`` does; ``adaptN_mean``: the mean of those faces only,
  with the deviation of the training corpora pooled;
* ``adapt_all``: statistics of every face of T (``predict(..., adapt="batch")`` on the corpus).

Designs (fixed before any run; :data:`CANDIDATES`):

* ``frozen``: the pretrained face MobileNet's 1024-d embedding (blocks 1-13 frozen) + the linear
  head (:func:`~.emotion_face_head.train_linear`);
* ``top1``: block 13 fine-tuned on the training corpora first (stage 1,
  :func:`~.emotion_face_head.fine_tune_block`: class-balanced cross-entropy; at most
  :data:`STAGE1_CAP` faces per class and corpus, a class-balanced subsample drawn per seed, so that
  FER2013 fits the CPU budget), then the linear head on every training face's embedding;
* reference rows, not candidates: ``dface`` (the Dface embedding of the ``tfrecords/*_dface``
  stores + the linear head; JAFFE and CK+ only, so each is trained on the other one alone) and
  ``frozen_1corpus`` (the frozen MobileNet trained the same way, on the other of JAFFE / CK+ alone:
  the row to compare ``dface`` with).

3 seeds by default (initialisation, mini-batches, dropout, the stage-1 subsample, the adaptation
draws). Choices made by this benchmark only, with rules fixed before the ``top1`` runs:

* the design of the published model: the candidate with the highest LOCO UAR averaged over the
  three targets and the two ends of deployment, no adaptation and adaptation on all target faces
  (:func:`choose`);
* how ``adapt`` uses N faces (:func:`adapt_rule`): the deviation too from the smallest count at
  which adapting mean and deviation scores at least as well as the mean alone (chosen design,
  mean LOCO UAR), the mean alone below it; and the fewest faces it accepts: the smallest count
  whose better variant is not below no adaptation. (A smoke run of the frozen design showed why
  the rule is needed: the deviation of 1024 ReLU6-pooled dimensions from 10 faces makes the UAR
  fall to chance: dimensions nearly constant over 10 faces get a tiny deviation.)

Command::

    python -m emozoo.models.emotion_face.emotion_face_loco --seeds 3        # results + figure (~50 min, 1 core)

writes ``benchmarks/results/emotion_face_loco.json`` (resumable: finished cells are kept) and the
grouped-bar figure ``benchmarks/results/emotion_face_loco.png``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from emozoo.models.emotion_face.emotion_face_data import CORPORA, REPO, SHARED6, FaceTrunks
from emozoo.models.emotion_face.emotion_face_head import (embed, fine_tune_block, linear_probabilities, normalise,
                                                          per_group_normalise, pretrained_top_block, schedule_for,
                                                          statistics, train_linear)

CANDIDATES = ("frozen", "top1")
REFERENCES = ("dface", "frozen_1corpus")
ADAPT_COUNTS = (10, 20, 50, 100)
#: ``adaptN``: mean and deviation of N target faces; ``adaptN_mean``: their mean only, the deviation
#: of the training corpora pooled (the shipped one).
CONDITIONS = ("none",) + tuple(f"adapt{n}{v}" for n in ADAPT_COUNTS + ("_all",) for v in ("", "_mean"))
CONDITION_NAMES = {"none": "no adaptation (pooled training stats)",
                   **{f"adapt{n}": f"adapt, {n} target faces" for n in ADAPT_COUNTS},
                   **{f"adapt{n}_mean": f"adapt the mean only, {n} target faces" for n in ADAPT_COUNTS},
                   "adapt_all": "adapt, all target faces", "adapt_all_mean": "adapt the mean only, all target faces"}
STAGE1_CAP = 1000
RESULTS = REPO / "benchmarks" / "results" / "emotion_face_loco.json"
FIGURE = REPO / "benchmarks" / "results" / "emotion_face_loco.png"
RUNS = REPO / "runs" / "emotion_face"


def log(msg: str) -> None:
    print(time.strftime("%H:%M:%S ") + msg, file=sys.stderr, flush=True)


def scores(y_true, probs, k: int) -> dict:
    from emozoo.evaluation import metrics

    cm = metrics.confusion_matrix(np.asarray(y_true), np.asarray(probs).argmax(1), k)
    return {"uar": round(float(metrics.uar(cm=cm)), 4), "wa": round(float(metrics.accuracy(cm=cm)), 4),
            "macro_f1": round(float(metrics.macro_f1(cm=cm)), 4), "confusion": cm.tolist()}


def pooled_embeddings(trunks: FaceTrunks, cache_dir: Path = RUNS) -> np.ndarray:
    """The pretrained embeddings ``[N, 1024]`` of every row (block 13 on the cached trunk), cached in
    ``runs/emotion_face/pretrained_<digest>.npy`` (git-ignored) keyed by the rows."""
    key = hashlib.sha256("\n".join(trunks.clip_id.tolist() + trunks.corpus.tolist()).encode()).hexdigest()[:12]
    path = Path(cache_dir) / f"pretrained_{key}.npy"
    if path.exists():
        return np.load(path, allow_pickle=False)
    t0 = time.time()
    emb = embed(pretrained_top_block(), trunks.gather, len(trunks))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, emb, allow_pickle=False)
    log(f"pretrained embeddings of {len(trunks)} faces in {time.time() - t0:.0f} s -> {path}")
    return emb


def capped(y, corpus, rows, cap: int, seed: int) -> np.ndarray:
    """At most ``cap`` of ``rows`` per (corpus, class), drawn at random with ``seed``; sorted."""
    rng = np.random.default_rng(5000 + seed)
    out = []
    for c in np.unique(corpus[rows]):
        for k in np.unique(y[rows]):
            r = rows[(corpus[rows] == c) & (y[rows] == k)]
            out.append(r if len(r) <= cap else rng.choice(r, size=cap, replace=False))
    return np.sort(np.concatenate(out))


def evaluate_head(emb, y, corpus, train, test, seed: int, k: int) -> dict:
    """Linear head on ``emb[train]`` (per-corpus z-norm), scored on ``emb[test]`` under :data:`CONDITIONS`."""
    head = train_linear(per_group_normalise(emb[train], corpus[train]), y[train], k, seed=seed)
    xt, yt = emb[test], y[test]
    rng = np.random.default_rng(1000 + seed)
    stats = {"none": statistics(emb[train]), "adapt_all": statistics(xt)}
    for n in ADAPT_COUNTS:
        stats[f"adapt{n}"] = statistics(xt[rng.choice(len(xt), size=n, replace=False)])
    for n in ADAPT_COUNTS + ("_all",):
        stats[f"adapt{n}_mean"] = (stats[f"adapt{n}"][0], stats["none"][1])
    return {c: scores(yt, linear_probabilities(head, normalise(xt, *stats[c])), k) for c in CONDITIONS}


class Context:
    """The tables a run needs, loaded once: the trunk rows, their pretrained embeddings, Dface."""

    def __init__(self):
        self.trunks = FaceTrunks(CORPORA, SHARED6)
        self.pooled = pooled_embeddings(self.trunks)
        self._dface = None

    @property
    def dface(self):
        if self._dface is None:
            from emozoo.backbones.probe import load_layered
            t = load_layered({c: str(REPO / "tfrecords" / f"{c}_dface") for c in ("jaffe", "ckplus")}, "dface")
            if tuple(t.classes) != SHARED6:
                raise ValueError(f"the dface stores have classes {t.classes}, expected {SHARED6}")
            self._dface = (t.x[:, 0], t.y, t.corpus)
        return self._dface


def loco_cell(ctx: Context, design: str, target: str, seed: int) -> dict:
    """One design, one target corpus, one seed: scores under every normalisation of :data:`CONDITIONS`."""
    t0 = time.time()
    k = len(SHARED6)
    if design == "dface":
        x, y, corpus = ctx.dface
        out = evaluate_head(x, y, corpus, corpus != target, corpus == target, seed, k)
    else:
        y, corpus = ctx.trunks.y, ctx.trunks.corpus
        if design == "frozen_1corpus":
            train = (corpus != target) & (corpus != "fer2013")
            out = evaluate_head(ctx.pooled, y, corpus, train, corpus == target, seed, k)
        elif design == "frozen":
            out = evaluate_head(ctx.pooled, y, corpus, corpus != target, corpus == target, seed, k)
        elif design == "top1":
            train_rows = np.flatnonzero(corpus != target)
            rows = capped(y, corpus, train_rows, STAGE1_CAP, seed)
            sched = schedule_for(len(rows))
            log(f"top1/{target}/seed{seed}: stage 1 on {len(rows)} faces ({sched})")
            block, info = fine_tune_block(ctx.trunks.gather, y, rows, ctx.pooled, k, seed=seed, log=log, **sched)
            emb = embed(block, ctx.trunks.gather, len(y))
            out = evaluate_head(emb, y, corpus, corpus != target, corpus == target, seed, k)
            out["stage1"] = {**info, "faces": int(len(rows)), "schedule": sched}
        else:
            raise ValueError(f"unknown design {design!r}; known: {CANDIDATES + REFERENCES}")
    out["seconds"] = round(time.time() - t0, 1)
    return out


def targets_of(design: str) -> tuple:
    return ("jaffe", "ckplus") if design in REFERENCES else CORPORA


def run(designs, seeds, results: dict, save=None) -> dict:
    ctx = Context()
    results.setdefault("classes", list(SHARED6))
    results.setdefault("n_faces", {c: int((ctx.trunks.corpus == c).sum()) for c in CORPORA})
    from emozoo.evaluation.loco import fill_cells

    return fill_cells(results, designs, seeds, targets_of, lambda d, t, s: loco_cell(ctx, d, t, s), save, log)


def summarise(results: dict) -> dict:
    """``{design: {target|"mean": {condition: {metric: {mean, std, seeds}}}}}`` (percent): per design,
    :func:`emozoo.evaluation.loco.summarise` of its cells (mean over targets per seed, then mean +- std
    over the seeds that cover every target)."""
    from emozoo.evaluation.loco import summarise_rows

    return summarise_rows(results.get("cells", {}), targets_of, CONDITIONS)


CHOICE_CONDITIONS = ("none", "adapt_all")


def choose(summary: dict) -> tuple[str, dict]:
    """The candidate with the highest LOCO UAR averaged over the 3 targets and :data:`CHOICE_CONDITIONS`."""
    crit = {d: round(float(np.mean([s["mean"][c]["uar"]["mean"] for c in CHOICE_CONDITIONS])), 2)
            for d, s in summary.items() if d in CANDIDATES and "mean" in s}
    if not crit:
        raise ValueError("no candidate design has LOCO results on every target")
    return max(crit, key=crit.get), crit


def adapt_rule(summary: dict, design: str) -> dict:
    """``{"min_faces", "std_from"}`` of ``design`` (see the module doc; counts of :data:`ADAPT_COUNTS`).

    ``std_from``: the smallest count at which mean + deviation >= mean only (``None``: never, the
    mean only is adapted); ``min_faces``: the smallest count whose variant (by that rule) is
    >= no adaptation (the largest count when none is).
    """
    s = summary[design]["mean"]

    def uar(c):
        return s[c]["uar"]["mean"]
    std_from = next((n for n in ADAPT_COUNTS if uar(f"adapt{n}") >= uar(f"adapt{n}_mean")), None)

    def used(n):
        return f"adapt{n}" if std_from is not None and n >= std_from else f"adapt{n}_mean"
    min_faces = next((n for n in ADAPT_COUNTS if uar(used(n)) >= uar("none")), ADAPT_COUNTS[-1])
    return {"min_faces": int(min_faces), "std_from": std_from,
            "uar": {str(n): uar(used(n)) for n in ADAPT_COUNTS}}


def markdown(results: dict) -> str:
    """The LOCO table (UAR per target; mean UAR / WA / macro-F1), mean ± std over seeds."""
    lines = ["| design | normalisation of the target | " + " | ".join(f"{t} UAR" for t in CORPORA)
             + " | mean UAR | mean WA | mean macro-F1 |", "|---|---|" + "---|" * (len(CORPORA) + 3)]
    for design in CANDIDATES + REFERENCES:
        s = results["summary"].get(design)
        if not s or "mean" not in s:
            continue
        for c in CONDITIONS:
            cells = [f"{s[t][c]['uar']['mean']:.1f} ± {s[t][c]['uar']['std']:.1f}" if t in s else "-" for t in CORPORA]
            cells += [f"{s['mean'][c][m]['mean']:.1f} ± {s['mean'][c][m]['std']:.1f}" for m in ("uar", "wa", "macro_f1")]
            name = design + (" (reference; mean of JAFFE, CK+)" if design in REFERENCES else "")
            lines.append(f"| {name} | {CONDITION_NAMES[c]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(summary: dict, out: Path = FIGURE, chosen: str | None = None, n_faces: dict | None = None) -> None:
    """Left: grouped bars per target (and the mean), UAR of each design without adaptation, adapted on
    50 faces and on all faces. Right: mean LOCO UAR against the number of adaptation faces."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(CORPORA) + ["mean"]
    bars = [(d, c) for d in CANDIDATES for c in ("none", "adapt50", "adapt_all")] + \
           [(d, c) for d in REFERENCES for c in ("none", "adapt_all")]
    bars = [(d, c) for d, c in bars if d in summary]
    width = 0.84 / max(1, len(bars))
    colours = {"frozen": "C0", "top1": "C1", "dface": "C2", "frozen_1corpus": "C7"}
    alpha = {"none": 0.35, "adapt50": 0.65, "adapt_all": 1.0}
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [2.2, 1]})
    for j, (d, c) in enumerate(bars):
        xs, ys, es = [], [], []
        for i, g in enumerate(groups):
            s = summary[d].get(g)
            if s is None:
                continue
            xs.append(i - 0.42 + width * (j + 0.5))
            ys.append(s[c]["uar"]["mean"])
            es.append(s[c]["uar"]["std"])
        label = f"{d}{' (chosen)' if d == chosen else ''}{' (ref.)' if d in REFERENCES else ''}: {CONDITION_NAMES[c]}"
        ax.bar(xs, ys, width, yerr=es, capsize=2, color=colours.get(d, "C3"), alpha=alpha[c], label=label,
               hatch="//" if d in REFERENCES else None, edgecolor="black", linewidth=0.4)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([f"target {g}" if g != "mean" else "mean of the targets\n(references: JAFFE, CK+)"
                        for g in groups])
    ax.axhline(100 / 6, color="grey", lw=0.8, ls=":")
    ax.set_ylabel("LOCO UAR (%), 6 classes, mean ± std over seeds")
    ax.set_title("emotion_face: leave-one-corpus-out (dotted: chance)")
    ax.set_ylim(0, 100)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=6.5, ncol=2, loc="upper left")
    for d in CANDIDATES + REFERENCES:
        if d not in summary or "mean" not in summary[d]:
            continue
        s = summary[d]["mean"]
        xs = [0, *ADAPT_COUNTS, 400]
        for v, ls, mk in (("", "-", "o"), ("_mean", ":", "s")):
            conds = ["none"] + [f"adapt{n}{v}" for n in ADAPT_COUNTS] + [f"adapt_all{v}"]
            ax2.errorbar(xs, [s[c]["uar"]["mean"] for c in conds], yerr=[s[c]["uar"]["std"] for c in conds],
                         marker=mk, capsize=3, color=colours.get(d, "C3"), ls=ls, ms=4,
                         label=d + (" (chosen)" if d == chosen else "") + (": mean and deviation" if not v
                                                                           else ": mean only"))
    ax2.set_xscale("symlog", linthresh=10)
    ax2.set_xticks([0, 10, 20, 50, 100, 400])
    ax2.set_xticklabels(["0\n(pooled)", "10", "20", "50", "100", "all"])
    ax2.axhline(100 / 6, color="grey", lw=0.8, ls=":")
    ax2.set_xlabel("unlabelled target faces used to adapt the normalisation")
    ax2.set_ylabel("mean LOCO UAR (%)")
    ax2.set_title("adaptation")
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--designs", default=",".join(CANDIDATES + REFERENCES),
                    help=f"comma-separated designs of {CANDIDATES + REFERENCES}")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="TensorFlow threads (intra- and inter-op)")
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--report", action="store_true", help="print the markdown table of the JSON and exit")
    args = ap.parse_args(argv)
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {}
    if args.report:
        print(markdown(results))
        return 0
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    results["command"] = "python -m emozoo.models.emotion_face.emotion_face_loco --seeds 3"

    def save(r):
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(r, indent=1))
        os.replace(tmp, out)

    designs = [d.strip() for d in args.designs.split(",") if d.strip()]
    # cheap designs first, so that the table has every row early
    designs = sorted(designs, key=lambda d: d == "top1")
    run(designs, range(args.seeds), results, save)
    results["summary"] = summarise(results)
    try:
        design, crit = choose(results["summary"])
        results["chosen"] = {"design": design, "values": crit,
                             "criterion": "LOCO UAR, mean over the 3 targets of no adaptation and adapt_all",
                             "adapt_rule": adapt_rule(results["summary"], design)}
    except ValueError:
        design = None
    save(results)
    plot(results["summary"], out.with_suffix(".png"), design, results.get("n_faces"))
    print(markdown(results))
    if design:
        print(f"chosen design: {design} {crit}; adaptation {results['chosen']['adapt_rule']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
