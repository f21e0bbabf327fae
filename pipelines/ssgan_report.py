"""Assemble the ``ssgan`` section of benchmarks/RESULTS.md from the measured JSON files::

    python pipelines/ssgan_report.py            # writes benchmarks/results/ssgan_section.md
    python pipelines/ssgan_report.py --write    # ... and replaces the ssgan section of benchmarks/RESULTS.md

Reads ``benchmarks/results/ssgan_{speech,face,multimodal,ablation_unlabelled,ablation_normalisation}.md``
(written by ``pipelines/ssgan_table.py``) and ``ssgan_bench.json`` (``benchmarks/bench_ssgan.py``).
"""
from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RES = REPO / "benchmarks" / "results"

PARTS = [
    ("speech", "Uni-modal acoustic (Tables II/IV shape): RAVDESS labelled fraction; the rest of the RAVDESS "
               "training clips + EmoDB + CASIA unlabelled, "
               "Fbank 128-frame crops (2x2-pooled), conv D/G, 4 classes"),
    ("face", "Uni-modal visual (Tables II/IV shape): FER2013, labelled fraction of a 4000-face training pool, the "
             "rest of the pool unlabelled, 48x48 faces, conv D/G, 7 classes, tested on PrivateTest (3589)"),
    ("face_dface", "Uni-modal visual on the paper's visual features (Tables II/IV shape): Dface embeddings (336) of "
                   "CK+, labelled fraction of 5 subject folds, the other training images and JAFFE unlabelled, dense "
                   "D/G, 6 classes"),
    ("speech_whisper", "Uni-modal acoustic on the Whisper-base backbone (issue 20): the speech setting's split with "
                       "the Whisper-base states (mean over the 7 layer rows, 512) in place of Fbank crops, dense D/G, "
                       "4 classes"),
    ("face_mobilenet", "Uni-modal visual on the face backbone (issue 20): the CK+ setting with the face MobileNet "
                       "embedding (1024) in place of Dface, dense D/G, 6 classes"),
    ("multimodal", "Multimodal (Table VI shape): RAVDESS audio-visual features (MFCC 259 + AU 35), dense D/G per "
                   "modality, C on the concatenation, 4 classes"),
]


def _json(stem):
    p = RES / f"{stem}.json"
    return json.loads(p.read_text()) if p.exists() else None


def main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true",
                    help="also replace the <!-- BEGIN ssgan --> ... <!-- END ssgan --> section of benchmarks/RESULTS.md")
    args = ap.parse_args(argv)
    out = ["Semi-supervised CT-GAN (Liang, Chen, Jin 2019; docs/methods/ssgan.md). CPU preset (D 16-32-64 / G "
           "64-32-16 conv, or dense 256-128 / 128-256; 300 steps of batch 32 labelled + 32 unlabelled, Adam 2e-4, "
           "S_D = S_G = 1, lambda = 1, model selection on validation UAR every 25 steps), unlabelled data "
           "self-normalised. Mean +- std over folds/seeds (n in each JSON); MAF1 (usual) = mean per-class F1, "
           "MAF1 (eq. 8) = harmonic mean of UAR and mean precision. Test scores in %.", ""]
    for stem, title in PARTS:
        r = _json(f"ssgan_{stem}")
        if r is None:
            continue
        n = sorted({row["n"] for row in r["rows"]})
        out += [f"**{title}.** `python pipelines/ssgan_table.py --setting {stem}` "
                f"({'/'.join(map(str, n))} {'seeds' if stem == 'face' else 'subject folds' if stem.startswith('face_') else 'actor folds'}; "
                f"`benchmarks/results/ssgan_{stem}.json`)", "", (RES / f"ssgan_{stem}.md").read_text().strip(), ""]
    for stem, title, png in (
            ("ablation_unlabelled", "Ablation V-A, amount of unlabelled data (MSSGAN, RAVDESS AV, 10 % labelled)",
             "docs/methods/ssgan_unlabelled.png"),
            ("ablation_normalisation", "Ablation V-B, normalisation of the unlabelled data (SSGAN dense, RAVDESS "
             "eGeMAPS 20 % labelled; the rest of the RAVDESS training clips + EmoDB + CASIA unlabelled)", "docs/methods/ssgan_normalisation.png")):
        r = _json(f"ssgan_{stem}")
        if r is None:
            continue
        arg = stem.split("_")[1]
        out += [f"**{title}.** `python pipelines/ssgan_table.py --ablation {arg} --folds {r['folds']}` "
                f"({r['folds']} actor folds; curve `{png}`)", "", (RES / f"ssgan_{stem}.md").read_text().strip(), ""]
    b = _json("ssgan_bench")
    if b:
        c = b["cases"]
        cells = [f"{k} {1000 * v['seconds_per_step']:.0f} ms/step" for k, v in c.items() if "seconds_per_step" in v]
        if "inference_cpu_conv" in c:
            cells.append(f"inference (CPU-preset D) {c['inference_cpu_conv']['clips_per_second']:.0f} crops/s")
        out += [f"**Speed** (`python benchmarks/bench_ssgan.py --skip-paper`, one thread pinned to one core of "
                f"{b['cpu']}, shared machine, load average {b.get('load_average_1_5_15', '?')}): "
                + "; ".join(cells) + ".", ""]
    (RES / "ssgan_section.md").write_text("\n".join(out).rstrip() + "\n")
    print("\n".join(out))
    if args.write:
        from emozoo.utils import replace_marked_section
        replace_marked_section(REPO / "benchmarks" / "RESULTS.md", "ssgan", "\n".join(out))


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(REPO))
    main()
