"""Face MobileNet: frozen vs fine-tuned last blocks on JAFFE, CK+48 and FER2013 (issue 18 section 5).

    # 1. trunk caches (resumable; FER2013, whole images, no MTCNN: 12 MobileNet blocks per image)
    python pipelines/face_finetune.py --build jaffe,ckplus,fer2013 --blocks 1
    # 2. frozen vs fine-tuned, 3 seeds (results accumulate in the JSON; rerun to resume)
    python pipelines/face_finetune.py --run "loso:jaffe,kfold:ckplus:10,split:train->test" --blocks 1 --seeds 3
    python pipelines/face_finetune.py --report

Protocols as :func:`emozoo.backbones.probe.splits`: ``loso:jaffe`` (10 subjects), ``kfold:ckplus:10``
(subject folds, as the probe table), ``split:train->test`` on FER2013 (PublicTest = split ``valid``
picks each phase's epoch, PrivateTest = ``test`` is reported once). JAFFE and CK+48 use the 6 shared
emotions (``6basic``), FER2013 its 7 classes. All the work is in
:mod:`emozoo.backbones.face.finetune`.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

LABEL_SETS = {"jaffe": "6basic", "ckplus": "6basic", "fer2013": ""}
# FER2013's 48x48 images are aligned face crops already: the whole image goes in (no MTCNN, the
# slowest step); JAFFE / CK+48 take the face_mobilenet store's MTCNN crop
CROPS = {"fer2013": "none"}
# fixed schedules where no validation split exists (chosen before any run, never on a test fold)
SMALL = dict(frozen_epochs=30, epochs=15, batch_size=32)
LARGE = dict(frozen_epochs=30, epochs=4, batch_size=64)


def cache_dir(root: Path, corpus: str, blocks: int) -> Path:
    return root / "cache" / f"{corpus}_face_mobilenet_top{blocks}"


def build(corpora, blocks, root: Path) -> None:
    from emozoo.backbones.face.finetune import build_trunk_cache
    from emozoo.data.corpora import get_reader
    from emozoo.data.labels import get_label_set

    for corpus in corpora:
        manifest = get_reader(corpus)().read()
        ls = LABEL_SETS.get(corpus, "")
        classes = None
        if ls:
            manifest = manifest.with_label_set(ls)
            classes = tuple(sorted(get_label_set(ls).classes))
        build_trunk_cache(manifest, cache_dir(root, corpus, blocks), blocks=blocks, label_set=ls, classes=classes,
                          crop=CROPS.get(corpus, "mtcnn"))


def run(protocols, blocks, seeds, root: Path, out: Path) -> dict:
    import numpy as np

    from emozoo.backbones.face.finetune import fine_tune, open_cache
    from emozoo.backbones.probe import LayeredTable, splits
    from emozoo.utils import write_json_atomic

    results = json.loads(out.read_text()) if out.exists() else {}
    for protocol in protocols:
        kind, _, arg = protocol.partition(":")
        corpus = "fer2013" if kind == "split" else arg.split(":")[0]
        cache = open_cache(cache_dir(root, corpus, blocks))
        table = LayeredTable(np.zeros((len(cache), 1, 1), np.float32), cache.y, cache.corpus, cache.speaker,
                             cache.classes, cache.split)
        x = cache.load()
        x = np.asarray(x)  # one read of the memory map
        sched = LARGE if kind == "split" else SMALL
        for seed in seeds:
            key = f"{protocol}|top{blocks}|seed{seed}"
            if key in results:
                print(f"{key}: done already", file=sys.stderr)
                continue
            folds = []
            for fold, tr, te in splits(table, protocol):
                valid = np.flatnonzero(cache.split == "valid") if kind == "split" else None
                r = fine_tune(cache, tr, te, valid_idx=valid, x=x, seed=seed, verbose=kind == "split", **sched)
                folds.append({"fold": fold, "n_test": int(len(te)), **r})
                print(f"{key} {fold}: frozen UAR {r['frozen']['uar']:.1f} acc {r['frozen']['acc']:.1f} | "
                      f"fine-tuned UAR {r['fine_tuned']['uar']:.1f} acc {r['fine_tuned']['acc']:.1f} "
                      f"({r['seconds']} s)", file=sys.stderr, flush=True)
            results[key] = {"protocol": protocol, "blocks": blocks, "seed": seed, "schedule": sched,
                            "folds": folds, **pooled(folds)}
            write_json_atomic(out, results)
    return results


def pooled(folds) -> dict:
    """Mean over folds of UAR / accuracy (each fold weighted equally, as the probe table)."""
    import numpy as np
    return {phase: {m: float(np.mean([f[phase][m] for f in folds])) for m in ("uar", "acc")}
            for phase in ("frozen", "fine_tuned")}


def report(out: Path) -> str:
    import numpy as np

    results = json.loads(out.read_text())
    groups = {}
    for r in results.values():
        groups.setdefault((r["protocol"], r["blocks"]), []).append(r)
    lines = ["| protocol | blocks fine-tuned | seeds | frozen UAR | fine-tuned UAR | frozen acc | fine-tuned acc |",
             "|---|---|---|---|---|---|---|"]
    for (protocol, blocks), rs in sorted(groups.items()):
        def ms(phase, m):
            v = [r[phase][m] for r in rs]
            return f"{np.mean(v):.1f} ± {np.std(v):.1f}"
        lines.append(f"| {protocol} | {blocks} | {len(rs)} | {ms('frozen', 'uar')} | {ms('fine_tuned', 'uar')} | "
                     f"{ms('frozen', 'acc')} | {ms('fine_tuned', 'acc')} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", help="comma-separated corpora whose trunk caches to build (jaffe, ckplus, fer2013)")
    p.add_argument("--run", help="comma-separated protocols")
    p.add_argument("--blocks", type=int, default=1)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--tfrecords", default=str(REPO / "tfrecords"))
    p.add_argument("--json", default=str(REPO / "benchmarks/results/face_finetune.json"))
    p.add_argument("--report", action="store_true")
    a = p.parse_args(argv)
    root, out = Path(a.tfrecords), Path(a.json)
    if a.build:
        build([c.strip() for c in a.build.split(",") if c.strip()], a.blocks, root)
    if a.run:
        run([q.strip() for q in a.run.split(",") if q.strip()], a.blocks, range(a.seeds), root, out)
    if a.report or not (a.build or a.run):
        print(report(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
