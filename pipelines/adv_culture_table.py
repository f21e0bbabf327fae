"""Regenerate the cross-culture adversarial tables (Liang et al. 2019, Tables 2-4) and Fig. 2.

    python pipelines/adv_culture_table.py                 # IS10 speech tables, CPU preset, 5 seeds, ~30 min on 2 cores
    python pipelines/adv_culture_table.py --features dface                  # the face tables (JAFFE vs CK+48)
    python pipelines/adv_culture_table.py --features all     # every table: IS10, eGeMAPS, Dface

Every experiment of the tables (the groups ``adv_culture/table{2,3,4}/<features>``, see
``python -m emozoo.train --list``) is trained and scored by the one trainer,
:func:`emozoo.train.trainer.run_experiment`, exactly as
``python -m emozoo.train --experiment adv_culture/table3/is10 --seeds 5 --override trainer.epochs=10
trainer.tensorboard=false`` does, into the same run folders (``<runs-dir>/<experiment with / as _>``):
either command resumes the other's finished folds. The trainer's summaries carry ACC (WA), macro-F1
and UAR per test culture (predictions pooled over the folds of each seed; ``test_by_corpus`` for
the multi-culture setting). This script only lays them out and writes

* ``benchmarks/results/adv_culture.json``: every experiment's per-culture summary (mean +- std over
  seeds, the per-seed values) and the run folders they came from;
* ``docs/methods/adv_culture_table.md``: the three tables in the paper's shape with the paper's
  numbers (CHEAVD 2.0 / AFEW: other corpora, for reference only);
* ``docs/methods/adv_culture_tsne.png`` (Fig. 2): t-SNE of G's output, BSL vs ADV, coloured by
  culture, plus a linear-probe culture accuracy on z, and TensorBoard projector logs under
  ``runs/adv_culture_tsne/``; the models are the cross-culture runs' own (seed 0, the fold's
  ``best.weights.h5`` in the run folders above), not retrained.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from emozoo.experiments import apply_overrides, get_experiment  # noqa: E402
from emozoo.models.adv_culture import adv_culture_experiments as E  # noqa: E402
from emozoo.utils import write_json_atomic  # noqa: E402

METRICS = ("accuracy", "macro_f1", "uar")
NAMES = {"emodb": "EmoDB (de)", "casia": "CASIA (zh)", "ravdess": "RAVDESS (en)",
         "jaffe": "JAFFE (ja)", "ckplus": "CK+48 (en-US)"}
# The paper's rows (CHEAVD 2.0 Chinese / AFEW English test sets): ACC, MAF1, per feature.
PAPER = {
    "is10": {
        "mono": {"CHEAVD 2.0": (56.33, 55.16), "AFEW": (52.12, 52.04)},
        "cross": {"AFEW -> CHEAVD 2.0": {"bsl": (41.27, 40.96), "adv": (42.36, 41.24)},
                  "CHEAVD 2.0 -> AFEW": {"bsl": (47.17, 46.95), "adv": (50.88, 49.84)}},
        "multi": {"CHEAVD 2.0": {"bsl": (52.39, 50.83), "adv": (54.65, 53.53)},
                  "AFEW": {"bsl": (51.24, 50.58), "adv": (53.32, 52.88)}},
    },
    "dface": {
        "mono": {"CHEAVD 2.0": (64.76, 61.59), "AFEW": (60.80, 60.55)},
        "cross": {"AFEW -> CHEAVD 2.0": {"bsl": (51.68, 51.82), "adv": (53.89, 52.64)},
                  "CHEAVD 2.0 -> AFEW": {"bsl": (54.96, 52.81), "adv": (59.29, 58.54)}},
        "multi": {"CHEAVD 2.0": {"bsl": (62.57, 59.89), "adv": (65.03, 62.62)},
                  "AFEW": {"bsl": (60.00, 59.04), "adv": (61.50, 60.83)}},
    },
}
PAPER["egemaps"] = PAPER["is10"]   # the paper has no eGeMAPS row: its IS10 rows are shown


def experiments(settings, features="is10"):
    f = dict(features=features)
    C = E.corpora_of(features)
    names = []
    if "mono" in settings:
        names += [E.experiment_name("mono", "bsl", corpus=c, **f) for c in C]
    if "cross" in settings:
        names += [E.experiment_name("cross", m, source=a, target=b, **f)
                  for a in C for b in C if a != b for m in ("bsl", "adv")]
    if "multi" in settings:
        names += [E.experiment_name("multi", m, **f) for m in ("bsl", "adv")]
    if "ablation" in settings:   # not in the paper: G's objective pushes C to uniform (domain confusion)
        names += [E.experiment_name("cross", "adv_confusion", source=a, target=b, **f)
                  for a in C for b in C if a != b]
        names += [E.experiment_name("multi", "adv_confusion", **f)]
    return names


LABEL = {"bsl": "BSL", "adv": "ADV", "adv_confusion": "ADV-conf (ablation)"}
MODELS = ("bsl", "adv", "adv_confusion")


def _atomic_json(path: Path, obj) -> None:
    write_json_atomic(path, obj, indent=1)


def test_cultures(cfg) -> list[str]:
    """The cultures an experiment is tested on: the target (cross), the corpus (mono), every corpus (multi)."""
    return [cfg.data.target] if cfg.data.target else list(cfg.data.corpora)


def per_culture(summary: dict, cfg) -> dict:
    """``{culture: {metric: {mean, std, values}}}`` of a trainer summary (``summary.json``)."""
    if "test_by_corpus" in summary:
        return {c: summary["test_by_corpus"][c] for c in test_cultures(cfg)}
    (culture,) = test_cultures(cfg)
    return {culture: summary["test"]}


def run_seconds(model_dir: Path) -> float:
    """Training + scoring time of every fold of a run folder (its ``result.json`` files)."""
    return float(sum(json.loads(p.read_text()).get("seconds", 0.0) for p in model_dir.glob("seed_*/*/result.json")))


def _cell(s, key):
    return f"{100 * s[key]['mean']:.2f} ± {100 * s[key]['std']:.2f}"


def markdown(summary: dict, meta: dict, features: str = "is10") -> str:
    F = dict(features=features)
    C = E.corpora_of(features)
    face = E.modality_of(features) == "face"
    paper = PAPER[features]
    label = {"is10": "IS10", "egemaps": "eGeMAPS", "dface": "Dface"}.get(features, features)
    who = "subject" if face else "speaker"
    classes = ("6 emotions JAFFE and CK+48 share (anger, disgust, fear, happy, sadness, surprise)" if face
               else "4 classes (neutral, happy, angry, sad)")
    plabel = "Dface" if face else "IS10"
    L = [f"Measured with `{meta['command']}` ({meta['seeds']} seeds, {meta['epochs']} epochs, batch "
         f"{meta['batch_size']}, {meta['date']}; training + scoring time summed over the runs: "
         f"{meta['seconds']:.0f} s on {meta['cpus']} CPU cores). Mean ± std (ddof=1) over seeds, %; "
         "predictions pooled over the folds of each seed. ACC = weighted accuracy, MAF1 = macro-F1, "
         f"UAR = unweighted average recall. {label} features, {classes}. "
         f"Paper rows ({plabel}): Liang et al. 2019 on CHEAVD 2.0 (Chinese) and AFEW (English) video corpora, "
         "their official test sets: different corpora, speakers, sizes and class balance; for "
         "reference only, not comparable number for number.", ""]
    # Table 2
    L += [f"**Table 2: mono-culture** ({who}-independent k folds inside each culture, BSL network)", "",
          "| Feature | " + " | ".join(f"{NAMES[c]} ACC | MAF1 | UAR" for c in C) + " |",
          "|---|" + "---|---|---|" * len(C)]
    row = []
    for c in C:
        s = summary.get(E.experiment_name("mono", "bsl", corpus=c, **F), {}).get(c)
        row += [_cell(s, k) if s else "-" for k in METRICS]
    L.append(f"| {label} (ours) | " + " | ".join(row) + " |")
    L += ["", f"| Paper ({plabel}) | CHEAVD 2.0 ACC | MAF1 | AFEW ACC | MAF1 |", "|---|---|---|---|---|",
          f"| {plabel} | {paper['mono']['CHEAVD 2.0'][0]} | {paper['mono']['CHEAVD 2.0'][1]} | "
          f"{paper['mono']['AFEW'][0]} | {paper['mono']['AFEW'][1]} |", ""]
    # Table 3
    L += ["**Table 3: cross-culture** (emotion labels of the source only; C sees source + unlabelled "
          "target; tested on all of the target)", "",
          "| Train -> test | model | ACC | MAF1 | UAR | mono-culture ACC of the target (upper bound) |",
          "|---|---|---|---|---|---|"]
    gains = []
    for a in C:
        for b in C:
            if a == b:
                continue
            mono = summary.get(E.experiment_name("mono", "bsl", corpus=b, **F), {}).get(b)
            for m in MODELS:
                s = summary.get(E.experiment_name("cross", m, source=a, target=b, **F), {}).get(b)
                if not s:
                    continue
                L.append(f"| {NAMES[a]} -> {NAMES[b]} | {LABEL[m]} | " + " | ".join(_cell(s, k) for k in METRICS)
                         + f" | {_cell(mono, 'accuracy') if mono and m == 'bsl' else ''} |")
            sb = summary.get(E.experiment_name("cross", "bsl", source=a, target=b, **F), {}).get(b)
            sa = summary.get(E.experiment_name("cross", "adv", source=a, target=b, **F), {}).get(b)
            if sa and sb:
                gains.append({k: 100 * (sa[k]["mean"] - sb[k]["mean"]) for k in METRICS})
    if gains:
        L.append(f"| **mean ADV - BSL over the {len(gains)} directions** | | " + " | ".join(
            f"{sum(g[k] for g in gains) / len(gains):+.2f}" for k in METRICS) + " | |")
    conf = []
    for a in C:
        for b in C:
            sb = summary.get(E.experiment_name("cross", "bsl", source=a, target=b, **F), {}).get(b)
            sc = summary.get(E.experiment_name("cross", "adv_confusion", source=a, target=b, **F), {}).get(b)
            if a != b and sb and sc:
                conf.append({k: 100 * (sc[k]["mean"] - sb[k]["mean"]) for k in METRICS})
    if conf:
        L.append(f"| **mean ADV-conf - BSL over the {len(conf)} directions** | | " + " | ".join(
            f"{sum(g[k] for g in conf) / len(conf):+.2f}" for k in METRICS) + " | |")
    L += ["", f"| Paper ({plabel}) | model | ACC | MAF1 |", "|---|---|---|---|"]
    for d, v in paper["cross"].items():
        for m in ("bsl", "adv"):
            L.append(f"| {d} | {m.upper()} | {v[m][0]} | {v[m][1]} |")
    # Table 4
    L += ["", f"**Table 4: multi-culture** ({'both' if len(C) == 2 else f'all {len(C)}'} cultures labelled, smaller ones upsampled; "
          f"{who} {E.MULTI_K[E.modality_of(features)]}-fold inside every corpus; tested per culture)", "",
          "| Model | " + " | ".join(f"{NAMES[c]} ACC | MAF1 | UAR" for c in C) + " |",
          "|---|" + "---|---|---|" * len(C)]
    for m in MODELS:
        s = summary.get(E.experiment_name("multi", m, **F), {})
        if s:
            L.append(f"| {LABEL[m]} | " + " | ".join(_cell(s[c], k) if c in s else "-" for c in C
                                                     for k in METRICS) + " |")
    L += ["", f"| Paper ({plabel}) | CHEAVD 2.0 ACC | MAF1 | AFEW ACC | MAF1 |", "|---|---|---|---|---|"]
    for m in ("bsl", "adv"):
        p = paper["multi"]
        L.append(f"| {m.upper()} | {p['CHEAVD 2.0'][m][0]} | {p['CHEAVD 2.0'][m][1]} | "
                 f"{p['AFEW'][m][0]} | {p['AFEW'][m][1]} |")
    return "\n".join(L) + "\n"


def tsne_figure(source: str, target: str, out_png: Path, runs_dir: Path, root: Path, projector_dir: Path | None,
                max_points: int = 600, seed: int = 0, variants=("bsl", "adv"), features: str = "is10") -> dict:
    """Fig. 2: G's output of the cross-culture setting ``source -> target``, BSL vs ADV, by culture.

    Nothing is retrained: each variant's model is the table's own run of
    ``adv_culture/cross/<source>_to_<target>/<features>/<variant>`` (``<runs_dir>/<experiment with / as _>``,
    seed ``seed``), rebuilt from its ``config.json`` with the fold's ``best.weights.h5``
    (:func:`emozoo.models.adv_culture.adv_culture_runs.load_trained`); a missing run is an error naming the
    command that trains it."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.manifold import TSNE
    from sklearn.model_selection import cross_val_score

    from emozoo.models.adv_culture.adv_culture_runs import load_trained

    info = {"source": source, "target": target, "seed": seed, "features": features, "runs": {}}
    loaded = {}
    for mode in variants:          # every run first: a missing one fails before any figure work
        name = E.experiment_name("cross", mode, source=source, target=target, features=features)
        model_dir = Path(runs_dir) / name.replace("/", "_")
        loaded[mode] = load_trained(model_dir, seed, root=root, experiment=name)
        info["runs"][mode] = os.path.relpath(loaded[mode][4] / "best.weights.h5", REPO)
    info["epochs"] = loaded[variants[0]][3].trainer.epochs
    fig, axes = plt.subplots(1, len(variants), figsize=(4 * len(variants), 3.6), dpi=72)
    for ax, mode in zip(axes, variants):
        model, fold, classes, cfg, _ = loaded[mode]
        cultures = list(model.culture_names)
        x = np.concatenate([fold.train.x, fold.test.x]).astype(np.float32)       # source rows, then the target's
        y = np.concatenate([fold.train.y, fold.test.y])
        corpus = np.concatenate([fold.train.meta["corpus"], fold.test.meta["corpus"]]).astype(str)
        c = model.culture_index(corpus)
        rng = np.random.default_rng(seed)
        idx = np.concatenate([rng.permutation(np.flatnonzero(c == k))[:max_points // 2] for k in (0, 1)])
        z = np.asarray(model.embed({"features": x[idx], "culture": c[idx]}))
        probe = float(cross_val_score(LogisticRegression(max_iter=2000), z, c[idx], cv=5).mean())
        info[mode] = {"culture_probe_accuracy": probe, "points": int(len(idx))}
        emb = TSNE(n_components=2, init="pca", perplexity=30, random_state=seed).fit_transform(z)
        for k, colour in ((0, "tab:blue"), (1, "tab:orange")):
            sel = c[idx] == k
            ax.scatter(emb[sel, 0], emb[sel, 1], s=5, c=colour, alpha=0.6, label=NAMES[cultures[k]])
        ax.set_title(f"{LABEL[mode]}: linear culture probe on z {100 * probe:.0f}%", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        if projector_dir is not None:
            from emozoo.train.tensorboard_utils import write_projector
            write_projector(projector_dir / mode, z, {
                "culture": [cultures[k] for k in c[idx]], "corpus": list(corpus[idx]),
                "label": [classes[v] for v in y[idx]]})
    axes[0].legend(fontsize=8, markerscale=3, loc="best")
    fig.suptitle(f"t-SNE of G's output, cross-culture {NAMES[source]} -> {NAMES[target]}", fontsize=10)
    fig.tight_layout()
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=72)
    plt.close(fig)
    info["png"] = str(out_png)
    return info


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=E.CPU_PRESET["seeds"])
    ap.add_argument("--epochs", type=int, help="default: the CPU preset of the modality "
                                               f"({E.EPOCHS['speech']} speech, {E.EPOCHS['face']} face)")
    ap.add_argument("--settings", default="mono,cross,multi",
                    help="comma list of mono, cross, multi, ablation (ablation: ADV with the domain-confusion "
                         "generator objective, not in the paper; adds ~8 min on 2 cores)")
    ap.add_argument("--features", default="is10", choices=E.FEATURES + E.FACE_FEATURES + ("all",),
                    help="feature stores (tfrecords/<corpus>_<features>); dface = the face cultures JAFFE and "
                         "CK+48; all = is10, egemaps and dface one after the other (every table of the method)")
    ap.add_argument("--out", help="results JSON (default benchmarks/results/adv_culture[_<features>].json)")
    ap.add_argument("--markdown", help="tables (default docs/methods/adv_culture_table[_<features>].md)")
    ap.add_argument("--tsne", help="Fig. 2 PNG ('' to skip; default docs/methods/adv_culture_tsne.png for is10, "
                                   "docs/methods/adv_culture_tsne_dface.png for dface, skipped for egemaps)")
    ap.add_argument("--tsne-pair", help="source,target of Fig. 2 (default casia,ravdess; jaffe,ckplus for dface)")
    ap.add_argument("--root", default=str(REPO), help="folder the store paths (tfrecords/...) resolve against")
    ap.add_argument("--runs-dir", default=str(REPO / "runs"),
                    help="the trainer's run folders (<runs-dir>/<experiment with / as _>; finished folds are kept "
                         "and skipped, as with python -m emozoo.train)")
    args = ap.parse_args(argv)
    if args.features == "all":
        if args.out or args.markdown or args.tsne or args.tsne_pair:
            ap.error("--features all writes the default files of each feature; drop --out/--markdown/--tsne(-pair)")
        return max(run(argparse.Namespace(**{**vars(args), "features": f}), ap.get_default("settings"))
                   for f in E.FEATURES + E.FACE_FEATURES)
    return run(args, ap.get_default("settings"))


def run(args, default_settings: str) -> int:
    """One feature's tables (``args`` as parsed by :func:`main`, ``args.features`` one feature)."""
    suffix = "" if args.features == "is10" else f"_{args.features}"
    args.out = args.out or str(REPO / f"benchmarks/results/adv_culture{suffix}.json")
    args.markdown = args.markdown or str(REPO / f"docs/methods/adv_culture_table{suffix}.md")
    if args.tsne is None:
        args.tsne = {"is10": str(REPO / "docs/methods/adv_culture_tsne.png"),
                     "dface": str(REPO / "docs/methods/adv_culture_tsne_dface.png")}.get(args.features, "")
    face = E.modality_of(args.features) == "face"
    args.tsne_pair = args.tsne_pair or ("jaffe,ckplus" if face else "casia,ravdess")
    args.epochs = args.epochs or E.EPOCHS[E.modality_of(args.features)]

    from emozoo.errors import EmozooError
    from emozoo.train.trainer import run_experiment

    out = Path(args.out)
    runs_dir = Path(args.runs_dir)
    names = experiments(args.settings.split(","), args.features)
    results = {"config": {"epochs": args.epochs, "seeds": args.seeds, "batch_size": E.CPU_PRESET["batch_size"]},
               "features": args.features, "summary": {}, "run_dirs": {}}
    t0 = time.time()
    try:
        for name in names:
            cfg = apply_overrides(get_experiment(name), [f"trainer.epochs={args.epochs}", "trainer.tensorboard=false"])
            model_dir = runs_dir / name.replace("/", "_")
            summary = run_experiment(cfg, model_dir, seeds=args.seeds, data_root=args.root, log=lambda *a: None)
            results["summary"][name] = per_culture(summary, cfg)
            results["run_dirs"][name] = os.path.relpath(model_dir, REPO)
            print(f"[{time.time() - t0:6.0f}s] {name}: " + ", ".join(
                f"{c} ACC {100 * v['accuracy']['mean']:.1f} UAR {100 * v['uar']['mean']:.1f}"
                for c, v in results["summary"][name].items()), flush=True)
        results["seconds"] = sum(run_seconds(runs_dir / n.replace("/", "_")) for n in names)
        default = default_settings
        command = ("python pipelines/adv_culture_table.py"
                   + (f" --features {args.features}" if args.features != "is10" else "")
                   + (f" --settings {args.settings}" if args.settings != default else ""))
        meta = {"command": command, "seeds": args.seeds, "epochs": args.epochs, "cpus": os.cpu_count(),
                "batch_size": E.CPU_PRESET["batch_size"], "date": time.strftime("%Y-%m-%d", time.gmtime()),
                "seconds": results["seconds"]}
        results["meta"] = meta
        md = markdown(results["summary"], meta, args.features)
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(md)
        print(md)
        if args.tsne:
            src, tgt = args.tsne_pair.split(",")
            variants = ("bsl", "adv") + (("adv_confusion",) if "ablation" in args.settings else ())
            results["tsne"] = tsne_figure(src, tgt, Path(args.tsne), runs_dir, Path(args.root),
                                          REPO / "runs" / f"adv_culture_tsne{suffix}", variants=variants,
                                          features=args.features)
            print("Fig. 2:", json.dumps(results["tsne"]))
        _atomic_json(out, results)
    except EmozooError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
