"""t-SNE of the utterance representations r_i coloured by speaker, CI (lambda = 0) vs DANN.

    python pipelines/dann_iemocap_table.py      # the Table 2 runs (runs/dann_iemocap_text_<ts>_{ci,dann}/)
    python pipelines/dann_tsne.py [--setting ts_1234] [--points 1500]

Computes ``r_i`` of every turn of every IEMOCAP conversation (sessions 1-5) with the seed-0 CI and
DANN models of the Table 2 run (their ``seed_0/<fold>/model.weights.h5`` in the trainer's run folders), draws the same random ``--points`` turns of both with t-SNE
(sklearn, perplexity 30, PCA init) side by side, coloured by speaker (10 speakers; circles =
female, crosses = male), and writes

* ``docs/methods/dann_tsne.png``;
* ``benchmarks/results/dann_tsne.json``: how much speaker identity ``r_i`` carries, measured on
  all turns: 5-fold accuracy of a logistic-regression speaker probe (chance 0.1) and the
  silhouette score of the speaker clusters (cosine), CI vs DANN; and the emotion probe accuracy
  on the labelled training turns as a reference;
* ``runs/dann_iemocap_tsne/projector_<variant>/``: TensorBoard projector files (speaker, session,
  label) for ``tensorboard --logdir runs/dann_iemocap_tsne``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CLASSES = ("neutral", "happy", "angry", "sad")


def probe(x, labels, seed=0) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    return float(cross_val_score(clf, x, labels, cv=5).mean())


def seed0_embeddings(runs_dir: Path, setting: str, variant: str) -> dict:
    """``r_i`` of every turn (sessions 1-5) of the seed-0 model of ``dann/iemocap/text/<setting>/<variant>``,
    rebuilt from its run folder (config + ``seed_0/model.weights.h5``)."""
    from emozoo.models.dann import dann_task as T
    from emozoo.report import run_dir

    folder = run_dir(f"dann/iemocap/text/{setting}/{variant}", runs_dir)
    if not (folder / "config.json").exists():
        raise SystemExit(f"{folder} is missing: run python pipelines/dann_iemocap_table.py first")
    model, fold, _ = T.load_trained(folder, 0, root=ROOT)
    return T.embeddings(model, fold.train)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--setting", default="ts_1234")
    ap.add_argument("--points", type=int, default=1500)
    ap.add_argument("--runs-dir", default=str(ROOT / "runs"), help="the Table 2 run folders' parent")
    ap.add_argument("--projector-dir", default=str(ROOT / "runs/dann_iemocap_tsne"))
    ap.add_argument("--png", default=str(ROOT / "docs/methods/dann_tsne.png"))
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/dann_tsne.json"))
    args = ap.parse_args(argv)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE
    from sklearn.metrics import silhouette_score

    data = {v: seed0_embeddings(Path(args.runs_dir), args.setting, v) for v in ("ci", "dann")}
    if not np.array_equal(data["ci"]["clip_id"], data["dann"]["clip_id"]):
        raise SystemExit("CI and DANN embeddings are of different turns")
    spk = data["ci"]["speaker"]
    speakers = sorted(set(spk))
    rng = np.random.default_rng(0)
    idx = np.sort(rng.permutation(len(spk))[:args.points])
    stats = {"setting": args.setting, "turns": int(len(spk)), "points_plotted": int(len(idx)),
             "command": "python pipelines/dann_tsne.py" + (f" --setting {args.setting}" if args.setting != "ts_1234" else "")}
    fig, axes = plt.subplots(1, 2, figsize=(13, 6))
    cmap = plt.get_cmap("tab10")
    from emozoo.train.tensorboard_utils import write_projector
    for ax, v in zip(axes, ("ci", "dann")):
        r = data[v]["r"]
        y = data[v]["y"]
        lab = y >= 0
        stats[v] = {"speaker_probe_accuracy": probe(r, spk),
                    "speaker_silhouette_cosine": float(silhouette_score(r, spk, metric="cosine")),
                    "emotion_probe_accuracy_train_turns": probe(r[lab], y[lab])}
        emb = TSNE(n_components=2, init="pca", perplexity=30, random_state=0).fit_transform(r[idx])
        for k, s in enumerate(speakers):
            m = spk[idx] == s
            ax.scatter(emb[m, 0], emb[m, 1], s=7, color=cmap(k),
                       marker="o" if s.endswith("F") else "x", label=s, alpha=0.7, linewidths=0.8)
        title = "CI (lambda = 0)" if v == "ci" else "DANN (lambda = 1)"
        ax.set_title(f"{title}: speaker probe acc {stats[v]['speaker_probe_accuracy']:.2f}, "
                     f"silhouette {stats[v]['speaker_silhouette_cosine']:.3f}", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        write_projector(Path(args.projector_dir) / f"projector_{v}", r,
                        {"speaker": list(spk), "session": [s[3:5] for s in spk],
                         "label": [CLASSES[i] if i >= 0 else "unlabelled" for i in y]})
    axes[1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, title="speaker")
    fig.suptitle(f"IEMOCAP {args.setting.upper()} r_i of {len(idx)} random turns (sessions 1-5), t-SNE, seed 0",
                 fontsize=11)
    fig.tight_layout()
    Path(args.png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.png, dpi=90)
    Path(args.out).write_text(json.dumps(stats, indent=1))
    print(json.dumps(stats, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
