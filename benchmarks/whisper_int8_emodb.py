"""Accuracy of the Whisper int8 default path on EmoDB: cosine to float32 per layer, LOCO with LR (issue 21).

    EMOZOO_DATA_DIR=/work/shared/data python benchmarks/whisper_int8_emodb.py --save

1. Every EmoDB clip of ``tfrecords/emodb_whisper_base`` (its ``manifest.jsonl``: 535 clips) is
   encoded with the precisions of :class:`emozoo.backbones.whisper.extractor.WhisperPooler`
   (``--precisions``, default ``int8,mixed``: LiteRT dynamic-range int8 on XNNPACK with the float
   islands of ``lite.ISLANDS``; and ``float32``: the Keras port); per layer the cosine between the
   pooled ``[512]`` vectors of each quantized precision and float32: min, 1st percentile, median,
   and the clips under 0.999 (named). The float32 values are also compared with the store
   (written by the lead's extraction, float32): max abs difference.
2. LOCO with LR (:func:`emozoo.backbones.probe.evaluate_protocol`, head ``lr``, fixed C = 1, every
   corpus z-normalised with its own statistics), on the ``tfrecords/{emodb,casia,ravdess}_whisper_base``
   stores (4 classes), once as stored (float32) and once per quantized precision with EmoDB's
   rows replaced by its features: ``loco:emodb`` (EmoDB the test corpus) and, for completeness, ``loco:casia`` /
   ``loco:ravdess`` (EmoDB in the training set); each layer's row and the mean of the rows.

Writes ``benchmarks/results/whisper_int8_emodb.json``. About 3-6 minutes on 2 cores.

``--islands 'none;conv;conv|block_0_1/'`` instead measures ad-hoc float islands (``;``-separated
regular expressions on the converted model's weight names, ``none`` = every matmul int8; see
``lite.keep_float``): per pattern the cosine stats per layer and the time to encode the clips,
no LOCO; ``--save`` writes ``benchmarks/results/bench_whisper_int8_islands.json``.
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
    p.add_argument("--precisions", default="int8,mixed", help="quantized precisions to compare with float32")
    p.add_argument("--islands", help="';'-separated float-island patterns to measure instead (see above)")
    p.add_argument("--save", action="store_true")
    args = p.parse_args(argv)
    import numpy as np

    from emozoo.backbones import probe
    from emozoo.backbones.whisper.backbone import WhisperBackbone
    from emozoo.backbones.whisper.extractor import WhisperPooler
    from emozoo.backbones.whisper.lite import FORMAT_REVISION, ISLANDS
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
    quantized = [q for q in args.precisions.split(",") if q]
    poolers = {p: WhisperPooler(backbone, precision=p) for p in quantized + ["float32"]}
    if args.islands:                                   # ad-hoc islands: int8 poolers with other models
        from emozoo.backbones.whisper.lite import LiteEncoder, convert_encoder, keep_float
        full, fp32 = convert_encoder(backbone.encoder), convert_encoder(backbone.encoder, quantize=False)
        quantized, poolers = [], {"float32": poolers["float32"]}
        for pattern in args.islands.split(";"):
            pooler = WhisperPooler(backbone, precision="int8")
            pooler._lite = LiteEncoder(full if pattern == "none" else keep_float(full, fp32, pattern))
            poolers[f"islands:{pattern}"] = pooler
            quantized.append(f"islands:{pattern}")
    feats = {p: {} for p in poolers}
    seconds = {p: 0.0 for p in poolers}
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
    f = np.stack([feats["float32"][i] for i in ids]).astype(np.float64)
    store_diff = float(max(np.abs(feats["float32"][i] - stored[i]).max() for i in ids if i in stored))
    cosines, worst = {}, {}
    for prec in quantized:
        q = np.stack([feats[prec][i] for i in ids]).astype(np.float64)
        cos = (q * f).sum(-1) / (np.linalg.norm(q, axis=-1) * np.linalg.norm(f, axis=-1))    # [N, 7]
        cosines[prec] = [{"layer": layer, "min": round(float(cos[:, layer].min()), 6),
                          "p01": round(float(np.percentile(cos[:, layer], 1)), 6),
                          "median": round(float(np.median(cos[:, layer])), 6),
                          "clips_below_0.999": int((cos[:, layer] < 0.999).sum()),
                          "clip_ids_below_0.999": [ids[i] for i in np.flatnonzero(cos[:, layer] < 0.999)]}
                         for layer in range(cos.shape[1])]
        worst[prec] = ids[int(np.argmin(cos.min(axis=1)))]
        print(f"{prec}: worst clip {worst[prec]} ({cos.min():.5f})")
        for c in cosines[prec]:
            print(c)
    print(f"{len(ids)} EmoDB clips; encode seconds " + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items())
          + f"; float32 vs store max |diff| {store_diff:.2e}")

    loco = []
    if not args.limit and not args.islands:
        base = probe.load_layered(stores, "whisper_base")
        emodb_ids = [ex["clip_id"].decode() for ex in read_store(stores["emodb"], features=["clip_id", "label"])
                     .as_numpy_iterator() if ex["label"] >= 0]
        rows_emodb = np.flatnonzero(base.corpus == "emodb")
        assert len(rows_emodb) == len(emodb_ids)
        assert np.array_equal(base.x[rows_emodb], np.stack([stored[i] for i in emodb_ids])), "store order"
        tables = {"float32": probe.corpus_znorm(base)}
        for prec in quantized:
            swapped = base.x.copy()
            swapped[rows_emodb] = np.stack([feats[prec][i] for i in emodb_ids])
            tables[f"{prec}_emodb"] = probe.corpus_znorm(probe.LayeredTable(swapped, base.y, base.corpus,
                                                                            base.speaker, base.classes, base.split))
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
        target = RESULTS.with_name("bench_whisper_int8_islands.json") if args.islands else RESULTS
        target.write_text(json.dumps({
            "command": "python benchmarks/whisper_int8_emodb.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "clips": len(ids), "encode_seconds": {k: round(v, 1) for k, v in seconds.items()},
            "float32_vs_store_max_abs_diff": store_diff, "worst_clip": worst,
            "loadavg_before": [round(x, 2) for x in load_before], "loadavg_after": [round(x, 2) for x in load_after],
            "float_islands": {p: ISLANDS[p][0] if p in ISLANDS else p for p in quantized},
            "format_revision": FORMAT_REVISION,
            "cosine_vs_float32": cosines, "loco_lr": loco}, indent=1) + "\n")
        print(f"wrote {target}")


if __name__ == "__main__":
    main()
