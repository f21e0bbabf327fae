"""Leave-one-corpus-out benchmark of ``emotion_speech`` heads, with and without adaptation.

For every target corpus T of EmoDB, CASIA, RAVDESS (4 classes, every labelled clip of the
``tfrecords/<corpus>_whisper_base`` stores), a head (:data:`~.emotion_speech_head.HEADS`) is
trained on the two other corpora (each z-normalised with its own statistics) and scored on every
labelled clip of T (UAR, WA, macro-F1) under these normalisations of T:

* ``none``: the statistics of the training corpora pooled (what the shipped model does without
  adaptation);
* ``adapt10``, ``adapt50``: statistics of 10 / 50 clips of T drawn at random (per seed; labels
  unused), as ``model.adapt(clips)`` does;
* ``adapt_all``: statistics of every clip of T (``predict(..., adapt="batch")`` on the whole corpus).

A control head ``<head>+pooledtrain`` is trained on the two corpora normalised with their pooled
statistics (no per-corpus normalisation anywhere in training); it is not a candidate for the
published model (:func:`choose_head` skips it), it shows what per-corpus training costs or gains
when the model is not adapted.

5 seeds (initialisation, mini-batches, dropout, and the draw of the adaptation clips). The head
of the published model is chosen by this benchmark only: the head with the highest LOCO UAR
averaged over the three targets and the four normalisations (:func:`choose_head`).

Command::

    python -m emozoo.models.emotion_speech.emotion_speech_loco --seeds 5     # results + figure

writes ``benchmarks/results/emotion_speech_loco.json`` (resumable: finished cells are kept) and
``benchmarks/results/emotion_speech_adaptation.png`` (LOCO UAR vs adaptation clips per target).
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from emozoo.models.emotion_speech.emotion_speech_head import (HEADS, head_probabilities, normalise, per_group_normalise,
                                                              statistics, train_head)

CORPORA = ("emodb", "casia", "ravdess")
FEATURE = "whisper_base"
CONDITIONS = ("none", "adapt10", "adapt50", "adapt_all")
REPO = Path(__file__).resolve().parents[3]
RESULTS = REPO / "benchmarks" / "results" / "emotion_speech_loco.json"
FIGURE = REPO / "benchmarks" / "results" / "emotion_speech_adaptation.png"


def load_table(repo: Path = REPO, cache: Path | None = None):
    """``(x[N, 7, 512], y, corpus, classes)`` of every labelled clip of the three stores.

    Cached in ``runs/emotion_speech/table.npz`` (git-ignored) after the first read.
    """
    from emozoo.backbones.probe import load_layered

    cache = Path(cache) if cache else repo / "runs" / "emotion_speech" / "table.npz"
    if cache.exists():
        d = np.load(cache, allow_pickle=False)
        return d["x"], d["y"], d["corpus"], tuple(str(c) for c in d["classes"])
    t = load_layered({c: str(repo / "tfrecords" / f"{c}_{FEATURE}") for c in CORPORA}, FEATURE)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, x=t.x, y=t.y, corpus=t.corpus, speaker=t.speaker, classes=np.array(t.classes))
    return t.x, t.y, t.corpus, tuple(t.classes)


def scores(y_true, probs, k: int) -> dict:
    from emozoo.evaluation import metrics

    cm = metrics.confusion_matrix(np.asarray(y_true), np.asarray(probs).argmax(1), k)
    return {"uar": round(float(metrics.uar(cm=cm)), 4), "wa": round(float(metrics.accuracy(cm=cm)), 4),
            "macro_f1": round(float(metrics.macro_f1(cm=cm)), 4), "confusion": cm.tolist()}


def loco_cell(x, y, corpus, target: str, head: str, seed: int, k: int) -> dict:
    """One head, one target corpus, one seed: scores under every normalisation of :data:`CONDITIONS`."""
    tr, te = corpus != target, corpus == target
    recipe, _, variant = head.partition("+")
    if variant not in ("", "pooledtrain"):
        raise ValueError(f"unknown head variant {head!r}: <head> or <head>+pooledtrain")
    # default: every training corpus z-normalised with its own statistics; "+pooledtrain": the
    # training corpora normalised with their pooled statistics (the no-adaptation control)
    ztr = normalise(x[tr], *statistics(x[tr])) if variant else per_group_normalise(x[tr], corpus[tr])
    module = train_head(ztr, y[tr], k, head=recipe, seed=seed)
    xt, yt = x[te], y[te]
    rng = np.random.default_rng(1000 + seed)
    stats = {"none": statistics(x[tr]), "adapt_all": statistics(xt)}
    for n in (10, 50):
        stats[f"adapt{n}"] = statistics(xt[rng.choice(len(xt), size=n, replace=False)])
    out = {c: scores(yt, head_probabilities(module, normalise(xt, *stats[c])), k) for c in CONDITIONS}
    out["layer_weights"] = [round(float(v), 4) for v in module.layer_weights().numpy()]
    return out


def run(heads, seeds, results: dict, save=None, log=print) -> dict:
    x, y, corpus, classes = load_table()
    k = len(classes)
    results.setdefault("classes", list(classes))
    results.setdefault("n_clips", {c: int((corpus == c).sum()) for c in CORPORA})
    from emozoo.evaluation.loco import fill_cells

    return fill_cells(results, heads, seeds, CORPORA, lambda h, t, s: loco_cell(x, y, corpus, t, h, s, k), save, log)


def summarise(results: dict) -> dict:
    """``{head: {target|"mean": {condition: {metric: {mean, std, seeds}}}}}`` (percent): per head,
    :func:`emozoo.evaluation.loco.summarise` of its cells (mean over targets per seed, then mean +- std
    over the seeds that cover every target)."""
    from emozoo.evaluation.loco import summarise_rows

    return summarise_rows(results.get("cells", {}), CORPORA, CONDITIONS)


def choose_head(summary: dict) -> tuple[str, dict]:
    """The head with the highest LOCO UAR averaged over targets and the four normalisations."""
    crit = {h: round(float(np.mean([s["mean"][c]["uar"]["mean"] for c in CONDITIONS])), 2)
            for h, s in summary.items() if "mean" in s and "+" not in h}
    if not crit:
        raise ValueError("no head has LOCO results on every target")
    return max(crit, key=crit.get), crit


def probe_rows(repo: Path = REPO) -> dict:
    """LOCO UAR of the backbone probe's logistic-regression rows (per-corpus z-norm), when it has them."""
    path = repo / "benchmarks" / "results" / "backbone_probe_speech.json"
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    out = {}
    for feature in ("is10", "whisper_base"):
        for target in CORPORA:
            e = data.get(feature, {}).get(f"loco:{target}", {})
            for key in ("lr_row0", "lr_mean") if feature == "is10" else ("lr_mean",):
                if key in e:
                    out.setdefault(f"{feature}_{key}", {})[target] = {m: round(100 * e[key][m], 2)
                                                                      for m in ("uar", "wa", "macro_f1")}
    return out


def plot(summary: dict, head: str, out: Path = FIGURE, n_clips: dict | None = None) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, target in enumerate(CORPORA + ("mean",)):
        s = summary[head][target]
        counts = n_clips or {}
        n_all = int(round(np.mean(list(counts.values())))) if target == "mean" and counts else counts.get(target, 0)
        xs = [0, 10, 50, n_all or 300]
        ys = [s[c]["uar"]["mean"] for c in CONDITIONS]
        es = [s[c]["uar"]["std"] for c in CONDITIONS]
        style = dict(color="black", lw=2.2, ls="--") if target == "mean" else dict(color=f"C{i}", lw=1.6)
        label = ("mean of the 3 targets" + (f" (all: {n_all} on average)" if n_all else "")) if target == "mean" \
            else target + (f" (all = {n_all})" if n_all else "")
        ax.errorbar(xs, ys, yerr=es, marker="o", capsize=3, label=label,
                    **style)
    ax.set_xscale("symlog", linthresh=10)
    ax.set_xticks([0, 10, 50, 100, 300, 1000])
    ax.set_xticklabels(["0 (pooled)", "10", "50", "100", "300", "1000"])
    ax.set_xlabel("unlabelled target clips used to adapt the normalisation")
    ax.set_ylabel("LOCO UAR (%), mean +- std over seeds")
    ax.set_title(f"emotion_speech ({head} head on Whisper base): leave-one-corpus-out")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--heads", default=",".join(HEADS), help=f"comma-separated heads of {sorted(HEADS)}")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--heads-only", action="store_true", help="skip the IS10 + logistic-regression rows")
    args = ap.parse_args(argv)
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {}
    results["command"] = "python -m emozoo.models.emotion_speech.emotion_speech_loco --seeds 5"

    def save(r):
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(r, indent=1))
        os.replace(tmp, out)

    run([h.strip() for h in args.heads.split(",") if h.strip()], range(args.seeds), results, save)
    if "is10_lr" not in results and not args.heads_only:
        results["is10_lr"] = is10_rows(range(args.seeds))
    results["summary"] = summarise(results)
    head, crit = choose_head(results["summary"])
    results["chosen_head"] = {"head": head, "criterion": "LOCO UAR, mean over the 3 targets and the 4 normalisations",
                              "values": crit}
    results["probe_rows"] = probe_rows()
    save(results)
    plot(results["summary"], head, Path(args.out).with_name("emotion_speech_adaptation.png"), results["n_clips"])
    for h, s in results["summary"].items():
        if "mean" in s:
            print(h, {c: f"{s['mean'][c]['uar']['mean']:.1f}+-{s['mean'][c]['uar']['std']:.1f}" for c in CONDITIONS})
    print(f"chosen head: {head} {crit}")
    return 0



def markdown(results: dict) -> str:
    """The LOCO table (UAR / WA / macro-F1, mean +- std over seeds) of every head and normalisation."""
    names = {"none": "no adaptation (pooled training stats)", "adapt10": "adapt, 10 target clips",
             "adapt50": "adapt, 50 target clips", "adapt_all": "adapt, all target clips"}
    lines = ["| head | normalisation of the target | " + " | ".join(f"{t} UAR" for t in CORPORA)
             + " | mean UAR | mean WA | mean macro-F1 |", "|---|---|" + "---|" * (len(CORPORA) + 3)]
    for head, s in results["summary"].items():
        if "mean" not in s:
            continue
        for c in CONDITIONS:
            cells = [f"{s[t][c]['uar']['mean']:.1f} ± {s[t][c]['uar']['std']:.1f}" for t in CORPORA]
            cells += [f"{s['mean'][c][m]['mean']:.1f} ± {s['mean'][c][m]['std']:.1f}" for m in ("uar", "wa", "macro_f1")]
            lines.append(f"| {head} | {names[c]} | " + " | ".join(cells) + " |")
    names_is10 = {"none": names["none"], "adapt10": names["adapt10"] + " (draws: mean ± std over seeds)",
                  "adapt50": names["adapt50"] + " (draws: mean ± std over seeds)", "adapt_all": names["adapt_all"]}
    for c in CONDITIONS if "is10_lr" in results else ():
        r = results["is10_lr"]
        cells = [f"{r[t][c]['uar']['mean']:.1f}" + (f" ± {r[t][c]['uar']['std']:.1f}" if r[t][c]["uar"]["std"] else "")
                 for t in CORPORA]
        lines.append(f"| IS10 + logistic regression (1 fit) | {names_is10[c]} | " + " | ".join(cells)
                     + f" | {r['mean'][c]['uar']:.1f} | {r['mean'][c]['wa']:.1f} | {r['mean'][c]['macro_f1']:.1f} |")
    for row, per in results.get("probe_rows", {}).items():
        if len(per) == len(CORPORA):
            vals = [per[t]["uar"] for t in CORPORA]
            lines.append(f"| probe {row} (1 fit) | adapt, all target clips | " + " | ".join(f"{v:.1f}" for v in vals)
                         + f" | {np.mean(vals):.1f} | {np.mean([per[t]['wa'] for t in CORPORA]):.1f} | "
                         f"{np.mean([per[t]['macro_f1'] for t in CORPORA]):.1f} |")
    return "\n".join(lines)


def is10_rows(seeds=range(5), repo: Path = REPO) -> dict:
    """The IS10 + logistic-regression baseline under the same protocol and normalisations.

    Per target: one L-BFGS logistic regression (:func:`emozoo.backbones.probe.fit_logistic`,
    C = 1, class-balanced) on the two other corpora's IS10 functionals, each corpus z-normalised
    with its own statistics; the target normalised as in :func:`loco_cell` (the 10 / 50 clip draws
    repeated per seed; the fit is deterministic). Returns ``{target: {condition: {metric: {mean, std}}}}``.
    """
    from emozoo.backbones.probe import fit_logistic

    cache = repo / "runs" / "emotion_speech" / "table_is10.npz"
    if cache.exists():
        d = np.load(cache, allow_pickle=False)
        x, y, corpus, k = d["x"], d["y"], d["corpus"], int(d["k"])
    else:
        from emozoo.backbones.probe import load_layered
        t = load_layered({c: str(repo / "tfrecords" / f"{c}_is10") for c in CORPORA}, "is10")
        x, y, corpus, k = t.x, t.y, t.corpus, len(t.classes)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, x=x, y=y, corpus=corpus, k=k)
    out = {}
    for target in CORPORA:
        tr, te = corpus != target, corpus == target
        w = fit_logistic(per_group_normalise(x[tr], corpus[tr])[:, 0], y[tr], k)
        xt, yt = x[te], y[te]

        def probs(stats):
            z = normalise(xt, *stats)[:, 0].astype(np.float64)
            return z @ w[:-1] + w[-1]
        cells = {"none": [scores(yt, probs(statistics(x[tr])), k)], "adapt_all": [scores(yt, probs(statistics(xt)), k)]}
        for seed in seeds:
            rng = np.random.default_rng(1000 + seed)
            for n in (10, 50):
                cells.setdefault(f"adapt{n}", []).append(
                    scores(yt, probs(statistics(xt[rng.choice(len(xt), size=n, replace=False)])), k))
        out[target] = {c: {m: {"mean": round(100 * float(np.mean([v[m] for v in cells[c]])), 2),
                               "std": round(100 * float(np.std([v[m] for v in cells[c]])), 2)}
                           for m in ("uar", "wa", "macro_f1")} for c in CONDITIONS}
    out["mean"] = {c: {m: round(float(np.mean([out[t][c][m]["mean"] for t in CORPORA])), 2)
                       for m in ("uar", "wa", "macro_f1")} for c in CONDITIONS}
    return out


if __name__ == "__main__":
    raise SystemExit(main())
