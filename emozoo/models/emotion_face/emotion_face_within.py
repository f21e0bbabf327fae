"""Within-corpus figures of an ``emotion_face`` design (issue 20's face goals).

Protocols (as ``pipelines/face_finetune.py`` and :func:`emozoo.backbones.probe.splits`):

* ``fer2013``: FER2013's 7 classes, trained on ``train`` (Training), stage-1 epochs chosen on
  ``valid`` (PublicTest), scored once on ``test`` (PrivateTest); the embeddings normalised with
  FER2013 train's statistics. Goal: accuracy >= 74 %.
* ``loso:jaffe``: JAFFE, 6 basic emotions, leave-one-subject-out (10 folds). Goal: >= 70 %.
* ``kfold:ckplus:10``: CK+48, 6 basic emotions, 10 subject-independent folds. Goal: >= 97 %.

For JAFFE and CK+48 the corpus is z-normalised with the statistics of all its faces (labels
unused: the deployed model's ``adapt``, as the backbone probe table); scores are the mean over
folds. A design is trained per fold exactly as in the LOCO benchmark
(:func:`~.emotion_face_loco.loco_cell`): ``frozen`` = the linear head on the pretrained embedding;
``top1`` = block 13 fine-tuned on the fold's training faces first.

Command::

    python -m emozoo.models.emotion_face.emotion_face_within --design frozen --seeds 3

writes ``benchmarks/results/emotion_face_within.json`` (resumable per protocol and seed).
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from emozoo.models.emotion_face.emotion_face_data import FER7, REPO, SHARED6, FaceTrunks
from emozoo.models.emotion_face.emotion_face_head import (embed, fine_tune_block, linear_probabilities, normalise,
                                                          schedule_for, statistics, train_linear)
from emozoo.models.emotion_face.emotion_face_loco import STAGE1_CAP, capped, log, pooled_embeddings, scores

PROTOCOLS = ("fer2013", "loso:jaffe", "kfold:ckplus:10")
GOALS = {"fer2013": ("accuracy", 74.0), "loso:jaffe": ("accuracy", 70.0), "kfold:ckplus:10": ("accuracy", 97.0)}
RESULTS = REPO / "benchmarks" / "results" / "emotion_face_within.json"


def _embeddings(design, trunks, pooled, train, valid, seed, k):
    if design == "frozen":
        return pooled, None
    rows = capped(trunks.y, trunks.corpus, train, STAGE1_CAP, seed)
    sched = schedule_for(len(rows))
    block, info = fine_tune_block(trunks.gather, trunks.y, rows, pooled, k, valid_idx=valid, seed=seed, log=log,
                                  **sched)
    return embed(block, trunks.gather, len(trunks)), {**info, "faces": int(len(rows)), "schedule": sched}


def run_protocol(design: str, protocol: str, seed: int, tables: dict) -> dict:
    """Scores of ``design`` on ``protocol`` for one seed (percent; folds averaged)."""
    from emozoo.backbones.probe import LayeredTable, splits

    if protocol == "fer2013":
        trunks, pooled = tables["fer7"]
        k = len(FER7)
        train, valid, test = (np.flatnonzero(trunks.split == s) for s in ("train", "valid", "test"))
        emb, info = _embeddings(design, trunks, pooled, train, valid, seed, k)
        stats = statistics(emb[train])
        head = train_linear(normalise(emb[train], *stats), trunks.y[train], k, seed=seed)
        s = scores(trunks.y[test], linear_probabilities(head, normalise(emb[test], *stats)), k)
        return {"accuracy": round(100 * s["wa"], 2), "uar": round(100 * s["uar"], 2),
                "macro_f1": round(100 * s["macro_f1"], 2), "n_test": int(len(test)), "stage1": info}
    trunks, pooled = tables["six"]
    k = len(SHARED6)
    corpus = protocol.split(":")[1]
    table = LayeredTable(np.zeros((len(trunks), 1, 1), np.float32), trunks.y, trunks.corpus, trunks.speaker,
                         SHARED6, trunks.split)
    folds = []
    for fold, tr, te in splits(table, protocol):
        emb, info = _embeddings(design, trunks, pooled, tr, None, seed, k)
        inside = trunks.corpus == corpus
        stats = statistics(emb[inside])
        head = train_linear(normalise(emb[tr], *stats), trunks.y[tr], k, seed=seed)
        s = scores(trunks.y[te], linear_probabilities(head, normalise(emb[te], *stats)), k)
        folds.append({"fold": fold, "n_test": int(len(te)), "accuracy": 100 * s["wa"], "uar": 100 * s["uar"],
                      "macro_f1": 100 * s["macro_f1"]})
    return {m: round(float(np.mean([f[m] for f in folds])), 2) for m in ("accuracy", "uar", "macro_f1")} | \
        {"folds": folds}


def summarise(results: dict) -> dict:
    out = {}
    for key, r in results.get("cells", {}).items():
        design, protocol, _seed = key.split("|")
        out.setdefault(design, {}).setdefault(protocol, []).append(r)
    summary = {}
    for design, per in out.items():
        summary[design] = {}
        for protocol, rs in per.items():
            metric, goal = GOALS[protocol]
            acc = [r["accuracy"] for r in rs]
            summary[design][protocol] = {
                **{m: {"mean": round(float(np.mean([r[m] for r in rs])), 2),
                       "std": round(float(np.std([r[m] for r in rs])), 2)} for m in ("accuracy", "uar", "macro_f1")},
                "seeds": len(rs), "goal_accuracy": goal, "goal_met": bool(np.mean(acc) >= goal)}
    return summary


def markdown(results: dict) -> str:
    lines = ["| design | protocol | seeds | accuracy | UAR | macro-F1 | goal (accuracy) | met |",
             "|---|---|---|---|---|---|---|---|"]
    for design, per in results.get("summary", {}).items():
        for protocol in PROTOCOLS:
            if protocol not in per:
                continue
            s = per[protocol]
            lines.append(f"| {design} | {protocol} | {s['seeds']} | {s['accuracy']['mean']:.1f} ± {s['accuracy']['std']:.1f}"
                         f" | {s['uar']['mean']:.1f} ± {s['uar']['std']:.1f} | {s['macro_f1']['mean']:.1f} ± "
                         f"{s['macro_f1']['std']:.1f} | >= {s['goal_accuracy']:.0f} % | {'yes' if s['goal_met'] else 'no'} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--design", default="frozen", choices=("frozen", "top1"))
    ap.add_argument("--protocols", default=",".join(PROTOCOLS))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--report", action="store_true")
    args = ap.parse_args(argv)
    out = Path(args.out)
    results = json.loads(out.read_text()) if out.exists() else {}
    if args.report:
        print(markdown(results))
        return 0
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    protocols = [p.strip() for p in args.protocols.split(",") if p.strip()]
    tables = {}
    if "fer2013" in protocols:
        t = FaceTrunks(("fer2013",), FER7)
        tables["fer7"] = (t, pooled_embeddings(t))
    if any(p != "fer2013" for p in protocols):
        t = FaceTrunks(("jaffe", "ckplus"), SHARED6)
        tables["six"] = (t, pooled_embeddings(t))
    cells = results.setdefault("cells", {})
    results.setdefault("commands", {})[args.design] = (f"python -m emozoo.models.emotion_face.emotion_face_within "
                                                       f"--design {args.design} --seeds {args.seeds}")
    for seed in range(args.seeds):
        for protocol in protocols:
            key = f"{args.design}|{protocol}|seed{seed}"
            if key in cells:
                continue
            cells[key] = run_protocol(args.design, protocol, seed, tables)
            log(f"{key}: accuracy {cells[key]['accuracy']:.1f} UAR {cells[key]['uar']:.1f}")
            results["summary"] = summarise(results)
            tmp = out.with_suffix(".tmp")
            tmp.write_text(json.dumps(results, indent=1))
            os.replace(tmp, out)
    results["summary"] = summarise(results)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1))
    os.replace(tmp, out)
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
