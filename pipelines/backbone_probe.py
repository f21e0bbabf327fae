"""Backbone probe tables (issue 18 section 5): LR per layer, learned layer weighting, BSL head.

Speech: EmoDB / CASIA / RAVDESS (4 classes), LOSO per corpus, the 6 cross-corpus directions and
leave-one-corpus-out, for every feature given (stores ``tfrecords/<corpus>_<feature>``, built by
``python -m emozoo.extract --corpus C --features F --label-set 4class``). Resumable: results
accumulate in the JSON file; ``--report`` prints the Markdown table from it.

    python pipelines/backbone_probe.py --features is10,whisper_tiny_en,whisper_base --seeds 3
    python pipelines/backbone_probe.py --report

Faces (stores built with --label-set 6basic for JAFFE / CK+48, all 7 classes for FER2013):

    python pipelines/backbone_probe.py --corpora jaffe,ckplus --features dface,face_mobilenet --seeds 3 \
        --protocols "loso:jaffe,kfold:ckplus:10,cross:jaffe->ckplus,cross:ckplus->jaffe" \
        --json benchmarks/results/backbone_probe_face.json
    python pipelines/backbone_probe.py --corpora fer2013 --features dface,face_mobilenet --seeds 3 \
        --protocols "split:train->test" --json benchmarks/results/backbone_probe_fer2013.json
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from emozoo.backbones import probe  # noqa: E402
from emozoo.utils import write_json_atomic  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--features", default="is10,whisper_tiny_en,whisper_base")
ap.add_argument("--corpora", default=",".join(probe.SPEECH_CORPORA))
ap.add_argument("--seeds", type=int, default=3)
ap.add_argument("--heads", default="lr_rows,wsum_linear,wsum_bsl")
ap.add_argument("--protocols", default="", help="comma-separated subset (default: all)")
ap.add_argument("--tfrecords", default="tfrecords")
ap.add_argument("--json", default="benchmarks/results/backbone_probe_speech.json")
ap.add_argument("--report", action="store_true", help="only print the tables from --json")
args = ap.parse_args()

path = Path(args.json)
results = json.loads(path.read_text()) if path.exists() else {}
corpora = args.corpora.split(",")
protocols = args.protocols.split(",") if args.protocols else probe.speech_protocols(corpora)

if not args.report:
    tables = {}
    for feature in args.features.split(","):
        t = probe.load_layered({c: f"{args.tfrecords}/{c}_{feature}" for c in corpora}, feature)
        print(f"{feature}: {len(t)} labelled clips, rows x dims {t.x.shape[1:]}, classes {t.classes}", flush=True)
        tables[feature] = probe.corpus_znorm(t)
    probe.run_table(tables, protocols, range(args.seeds), results, heads=args.heads.split(","),
                    save=lambda r: write_json_atomic(path, r), log=lambda m: print(m, flush=True))

summary = probe.summarise(results)
order = list(dict.fromkeys(p for per in results.values() for p in per))
print("\nUAR % (4 classes; LR: best layer / row mean; weighted heads: mean +- std over seeds)\n")
print("| protocol | feature | LR, best single layer (picked on this test: optimistic) | LR on the layer mean | "
      "wsum + linear | wsum + BSL |")
print("|---|---|---|---|---|---|")
for protocol in order:
    for feature, per in summary.items():
        r = per.get(protocol)
        if not r:
            continue
        best = max(r["lr_by_layer"].items(), key=lambda kv: kv[1]) if "lr_by_layer" in r else None
        cells = [f"{best[1]:.1f} (layer {best[0]})" if best and len(r["lr_by_layer"]) > 1
                 else (f"{best[1]:.1f}" if best else "-"),
                 f"{r['lr_mean']:.1f}" if "lr_mean" in r else "-"]
        for h in probe.HEADS:
            cells.append(f"{r[h]['mean']:.1f} ± {r[h]['std']:.1f}" if h in r else "-")
        print(f"| {protocol} | {feature} | " + " | ".join(cells) + " |")


# means over protocol families (only complete ones: every protocol of the family present)
import numpy as np  # noqa: E402

families = {"mean of the 6 cross-corpus directions": [p for p in order if p.startswith("cross:")],
            "mean leave-one-corpus-out": [p for p in order if p.startswith("loco:")],
            "mean LOSO (3 corpora)": [p for p in order if p.startswith("loso:")]}
print("\n| feature | head | " + " | ".join(families) + " |")
print("|---|---|" + "---|" * len(families))
for feature, per in summary.items():
    for head in ("lr_mean", *probe.HEADS):
        cells = []
        label = "LR on the layer mean (one-row features: LR)" if head == "lr_mean" else head
        for fam, protos in families.items():
            vals = [per.get(p, {}).get(head) for p in protos]
            if head == "lr_mean":   # a one-row feature (IS10): its only layer
                vals = [v if v is not None else (per.get(p, {}).get("lr_by_layer", {}).get("0")
                                                 if len(per.get(p, {}).get("lr_by_layer", {})) == 1 else None)
                        for v, p in zip(vals, protos)]
            vals = [v["mean"] if isinstance(v, dict) else v for v in vals]
            if protos and all(v is not None for v in vals) and all(
                    not isinstance(per.get(p, {}).get(head), dict) or per[p][head]["seeds"] >= args.seeds
                    for p in protos):
                cells.append(f"{np.mean(vals):.1f}")
            else:
                cells.append("-")
        if any(c != "-" for c in cells):
            print(f"| {feature} | {label} | " + " | ".join(cells) + " |")
