"""Accuracy of the Whisper int8 default path on EmoDB: cosine to float32 per layer, LOCO with LR (issue 21).

    EMOZOO_DATA_DIR=/work/shared/data python benchmarks/whisper_int8_emodb.py --save

1. Every EmoDB clip of ``tfrecords/emodb_whisper_base`` (its ``manifest.jsonl``: 535 clips) is
   encoded with both precisions of :class:`emozoo.backbones.whisper.extractor.WhisperPooler`
   (``int8``: LiteRT dynamic-range int8 on XNNPACK; ``float32``: the Keras port); per layer the
   cosine between the two pooled ``[512]`` vectors: min, 1st percentile, median, and the
   clips under 0.999. The float32 values are also compared with the store (written by the
   lead's extraction, float32): max abs difference.
2. LOCO with LR (:func:`emozoo.backbones.probe.evaluate_protocol`, head ``lr``, fixed C = 1, every
   corpus z-normalised with its own statistics), on the ``tfrecords/{emodb,casia,ravdess}_whisper_base``
   stores (4 classes), once as stored (float32) and once with EmoDB's rows replaced by the int8
   features: ``loco:emodb`` (EmoDB the test corpus) and, for completeness, ``loco:casia`` /
   ``loco:ravdess`` (EmoDB in the training set); each layer's row and the mean of the rows.

Writes ``benchmarks/results/whisper_int8_emodb.json``. About 2-4 minutes on 2 cores.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results" / "whisper_int8_emodb.json"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stores", default="tfrecords", help="folder of the <corpus>_whisper_base stores")
    p.add_argument("--limit", type=int, default=0, help="only the first N EmoDB clips (a quick check)")
    p.add_argument("--save", action="store_true")
    args = p.parse_args(argv)
    import numpy as np

    from emozoo.backbones import probe
    from emozoo.backbones.whisper.backbone import WhisperBackbone
    from emozoo.backbones.whisper.extractor import WhisperPooler
    from emozoo.data.audio import load_audio
    from emozoo.data.tfrecord import read_store

    load_before, t0 = os.getloadavg(), time.time()
    stores = {c: str(REPO / args.stores / f"{c}_whisper_base") for c in probe.SPEECH_CORPORA}
    manifest = [json.loads(line) for line in Path(stores["emodb"], "manifest.jsonl").read_text().splitlines()]
    if args.limit:
        manifest = manifest[:args.limit]
    data_dir = os.environ.get("EMOZOO_DATA_DIR")
    stored = {ex["clip_id"].decode(): ex["whisper_base"]
              for ex in read_store(stores["emodb"], features=["clip_id", "whisper_base"]).as_numpy_iterator()}

    backbone = WhisperBackbone.from_preset("whisper_base")
    poolers = {p: WhisperPooler(backbone, precision=p) for p in ("int8", "float32")}
    feats = {"int8": {}, "float32": {}}
    seconds = {"int8": 0.0, "float32": 0.0}
    for row in manifest:
        path = Path(row["path"])
        if data_dir and not path.exists():
            path = Path(data_dir) / "emodb" / "wav" / path.name
        wave, _ = load_audio(path, target_rate=16000)
        for prec, pooler in poolers.items():
            t = time.perf_counter()
            feats[prec][row["clip_id"]] = pooler(wave)
            seconds[prec] += time.perf_counter() - t
    ids = [r["clip_id"] for r in manifest]
    q = np.stack([feats["int8"][i] for i in ids]).astype(np.float64)
    f = np.stack([feats["float32"][i] for i in ids]).astype(np.float64)
    cos = (q * f).sum(-1) / (np.linalg.norm(q, axis=-1) * np.linalg.norm(f, axis=-1))    # [N, 7]
    store_diff = float(max(np.abs(feats["float32"][i] - stored[i]).max() for i in ids if i in stored))
    cosine = [{"layer": layer, "min": round(float(cos[:, layer].min()), 6),
               "p01": round(float(np.percentile(cos[:, layer], 1)), 6),
               "median": round(float(np.median(cos[:, layer])), 6),
               "clips_below_0.999": int((cos[:, layer] < 0.999).sum())} for layer in range(cos.shape[1])]
    worst = ids[int(np.argmin(cos.min(axis=1)))]
    print(f"{len(ids)} EmoDB clips; encode seconds int8 {seconds['int8']:.1f}, float32 {seconds['float32']:.1f}; "
          f"float32 vs store max |diff| {store_diff:.2e}; worst clip {worst}")
    for c in cosine:
        print(c)

    loco = []
    if not args.limit:
        base = probe.load_layered(stores, "whisper_base")
        emodb_ids = [ex["clip_id"].decode() for ex in read_store(stores["emodb"], features=["clip_id", "label"])
                     .as_numpy_iterator() if ex["label"] >= 0]
        swapped = base.x.copy()
        rows_emodb = np.flatnonzero(base.corpus == "emodb")
        assert len(rows_emodb) == len(emodb_ids)
        assert np.array_equal(base.x[rows_emodb], np.stack([stored[i] for i in emodb_ids])), "store order"
        swapped[rows_emodb] = np.stack([feats["int8"][i] for i in emodb_ids])
        tables = {"float32": probe.corpus_znorm(base),
                  "int8_emodb": probe.corpus_znorm(probe.LayeredTable(swapped, base.y, base.corpus, base.speaker,
                                                                      base.classes, base.split))}
        for protocol in ("loco:emodb", "loco:casia", "loco:ravdess"):
            for row in list(range(base.x.shape[1])) + [None]:
                res = {k: probe.evaluate_protocol(t, protocol, "lr", row=row) for k, t in tables.items()}
                loco.append({"protocol": protocol, "row": "mean" if row is None else row,
                             **{f"uar_{k}": round(100 * v["uar"], 2) for k, v in res.items()},
                             **{f"wa_{k}": round(100 * v["wa"], 2) for k, v in res.items()}})
                print(loco[-1])
    load_after = os.getloadavg()
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}; {time.time() - t0:.0f} s")
    if args.save:
        RESULTS.write_text(json.dumps({
            "command": "python benchmarks/whisper_int8_emodb.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "clips": len(ids), "encode_seconds": {k: round(v, 1) for k, v in seconds.items()},
            "float32_vs_store_max_abs_diff": store_diff, "worst_clip": worst,
            "loadavg_before": [round(x, 2) for x in load_before], "loadavg_after": [round(x, 2) for x in load_after],
            "cosine_int8_vs_float32": cosine, "loco_lr": loco}, indent=1) + "\n")
        print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
