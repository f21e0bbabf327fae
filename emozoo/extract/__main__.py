"""``python -m emozoo.extract``: features of a corpus into validated, sharded TFRecord stores.

    python -m emozoo.extract --corpus emodb --features is10 --label-set 4class
        -> tfrecords/emodb_is10 (one store per feature: tfrecords/<corpus>_<feature>)
    python -m emozoo.extract --corpus casia --features is10,egemaps,fbank,short68 --label-set 4class
        -> tfrecords/casia_is10, tfrecords/casia_egemaps, tfrecords/casia_fbank, tfrecords/casia_short68
    python -m emozoo.extract --corpus ravdess --features is10,fbank --out tfrecords/ravdess
        -> one store at tfrecords/ravdess holding both features per clip
    python -m emozoo.extract --corpus ami --features fbank --segment 3
        -> tfrecords/ami_fbank, every meeting cut into 3 s examples <meeting>#<k>
    python -m emozoo.extract --corpus meld --features minilm --label-set 7basic
        -> tfrecords/meld_minilm, sentence embeddings of the transcripts (batched encoder calls)
    python -m emozoo.extract --corpus emodb --features is10 --runner DirectRunner --workers 2
        -> the same store, extracted by an Apache Beam pipeline (2 worker processes);
           other Beam options pass through: --runner FlinkRunner --flink_master=host:8081

Each store gets spec.json + schema.pbtxt, shards, manifest.jsonl, extract.json
(settings, for resuming), progress/ (finished shards) and validation/
(statistics, anomalies, report). Rerunning the same command skips finished
shards. Exit status: 0; 2 on an error (unknown corpus/feature, conflicting
store); 3 when some clips failed (they are listed, the rest is written);
4 when validation flagged anomalies.
"""
from __future__ import annotations

import argparse
import sys

from emozoo.errors import EmozooError


def main(argv=None) -> int:
    from emozoo.data.corpora import corpus_names
    from emozoo.features.registry import extractor_names
    p = argparse.ArgumentParser(prog="python -m emozoo.extract", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", required=True, help=f"one of: {', '.join(corpus_names())}")
    p.add_argument("--features", required=True,
                   help=f"comma-separated extractor names: {', '.join(extractor_names())}")
    p.add_argument("--out", help="one store holding all the features (default: one store per feature, "
                                 "<out-root>/<corpus>_<feature>)")
    p.add_argument("--out-root", default="tfrecords", help="folder of the per-feature stores (default tfrecords)")
    p.add_argument("--label-set", help="map labels to a label set (4class, 6basic, ...); others kept with label -1")
    p.add_argument("--data-dir", help="folder holding the corpora (default $EMOZOO_DATA_DIR)")
    p.add_argument("--root", help="the corpus folder itself (overrides --data-dir)")
    p.add_argument("--manifest", help="manifest CSV/JSONL, with --corpus csv")
    p.add_argument("--split-by", default="split", help="manifest column naming the store splits")
    p.add_argument("--examples-per-shard", type=int, default=256)
    p.add_argument("--gzip", action="store_true", help="GZIP-compress the shards")
    p.add_argument("--segment", type=float, metavar="SECONDS",
                   help="cut clips into windows of SECONDS, one example each (<clip_id>#<k>; e.g. AMI meetings)")
    p.add_argument("--segment-hop", type=float, metavar="SECONDS", help="hop between windows (default --segment)")
    p.add_argument("--workers", type=int, default=1,
                   help="shards extracted in parallel processes (default 1); with --runner DirectRunner: "
                        "--direct_num_workers")
    p.add_argument("--runner", help="run as an Apache Beam pipeline on this runner (DirectRunner, FlinkRunner, "
                                    "SparkRunner, DataflowRunner); unknown --options go to Beam. Default: in-process")
    p.add_argument("--limit", type=int, help="only the first N clips by clip id (smoke runs)")
    p.add_argument("--overwrite", action="store_true", help="replace a store extracted with other settings")
    p.add_argument("--no-validate", action="store_true", help="skip statistics/anomalies")
    p.add_argument("--no-progress", action="store_true")
    args, beam_args = p.parse_known_args(argv)
    if beam_args and not args.runner:
        p.error(f"unrecognized arguments: {' '.join(beam_args)} (Beam pipeline options need --runner)")
    features = [f.strip() for f in args.features.split(",") if f.strip()]
    try:
        from emozoo.features.registry import get_extractor
        needs_audio = any(get_extractor(f).input == "audio" for f in features)
        manifest = _manifest(args, needs_audio)
        if args.limit:
            from emozoo.data.manifest import Manifest
            manifest = Manifest(sorted(manifest, key=lambda r: r.clip_id)[:args.limit], name=manifest.name)
        from emozoo.extract.runner import extract_corpus
        results = extract_corpus(manifest, features, corpus=args.corpus if args.corpus != "csv" else None,
                                 out=args.out, out_root=args.out_root, label_set=args.label_set,
                                 split_by=args.split_by, examples_per_shard=args.examples_per_shard,
                                 compression="GZIP" if args.gzip else None, overwrite=args.overwrite,
                                 validate=not args.no_validate, progress=not args.no_progress,
                                 workers=args.workers, segment_seconds=args.segment,
                                 segment_hop=args.segment_hop, raise_on_failures=False,
                                 runner=args.runner, pipeline_args=beam_args)
    except EmozooError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    status = 0
    for r in results:
        print(f"{r.store}: {r.total} examples {r.counts} [{', '.join(r.features)}]; "
              f"shards written {r.shards_written}, skipped (already done) {r.shards_skipped}")
        if r.validation_summary:
            print("  " + r.validation_summary.replace("\n", "\n  "))
            if r.anomalies:
                status = max(status, 4)
    failed = [r for r in results if r.failures]
    for r in failed:
        print(f"\nFAILED: {len(r.failures)} clip(s) could not be extracted and are NOT in {r.store} "
              f"(listed in {r.store / 'failures.jsonl'}):", file=sys.stderr)
        for f in r.failures[:20]:
            print(f"  {f['clip_id']}: {f['error']}", file=sys.stderr)
        if len(r.failures) > 20:
            print(f"  ... and {len(r.failures) - 20} more", file=sys.stderr)
    return 3 if failed else status


def _manifest(args, needs_audio: bool = True):
    from emozoo.data.corpora import get_reader
    reader_cls = get_reader(args.corpus)
    if args.corpus == "csv":
        if not args.manifest:
            raise EmozooError("--corpus csv needs --manifest PATH.csv")
        if args.manifest.endswith(".jsonl"):
            from emozoo.data.manifest import Manifest
            return Manifest.from_jsonl(args.manifest)
        return reader_cls(args.manifest).read()
    if needs_audio and reader_cls.modality not in ("audio", "video"):
        raise EmozooError(f"corpus {args.corpus!r} is {reader_cls.modality}, not audio: acoustic features need "
                          "an audio or video corpus (emodb, casia, ravdess, iemocap, afew ...)")
    return reader_cls(args.root, data_dir=args.data_dir).read()


if __name__ == "__main__":
    sys.exit(main())
