"""``python -m emozoo.data``: inspect corpora and write their TFRecord stores.

    python -m emozoo.data inspect --corpus emodb
    python -m emozoo.data inspect --corpus csv --manifest my_corpus.csv
    python -m emozoo.data write --corpus emodb --out tfrecords/emodb [--label-set 4class]
    python -m emozoo.data manifest --corpus emodb --out manifests/emodb.jsonl
    python -m emozoo.data audit --emobox emodb            # audit EmoBox's folds of a corpus
    python -m emozoo.data audit --train tr.jsonl --test te.jsonl [--corpus emodb] [--strict]
"""
from __future__ import annotations

import argparse
import json
import sys

from emozoo.data.corpora import corpus_names, get_reader
from emozoo.data.manifest import Manifest
from emozoo.errors import EmozooError


def _manifest(args) -> tuple[Manifest, str]:
    reader_cls = get_reader(args.corpus)
    if args.corpus == "csv":
        if not args.manifest:
            raise EmozooError("--corpus csv needs --manifest PATH.csv")
        reader = reader_cls(args.manifest, corpus=args.name, label_map=args.label_map,
                            encoding=args.encoding)
    else:
        reader = reader_cls(args.root, data_dir=args.data_dir)
    return reader.read(), reader_cls.modality


def format_summary(summary: dict) -> str:
    lines = [f"corpus {', '.join(summary['corpus'])}: {summary['clips']} clips"
             + (f", {summary['dialogues']} dialogues" if "dialogues" in summary else "")]
    for key in ("label", "emotion", "speaker", "gender", "culture", "split"):
        counts = summary[key]
        if list(counts) == [""]:
            continue
        lines.append(f"\n{key} ({len(counts)}):")
        width = max(len(k or "-") for k in counts)
        for k, v in counts.items():
            lines.append(f"  {k or '-':<{width}}  {v:>6}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m emozoo.data", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--corpus", required=True, help=f"one of: {', '.join(corpus_names())}")
    common.add_argument("--data-dir", help="folder holding the corpora (default $EMOZOO_DATA_DIR)")
    common.add_argument("--root", help="the corpus folder itself (overrides --data-dir)")
    common.add_argument("--manifest", help="manifest CSV, with --corpus csv")
    common.add_argument("--name", help="corpus name for a manifest CSV (default: the file's stem)")
    common.add_argument("--label-map", help="JSON file mapping a CSV's labels to harmonised emotions")
    common.add_argument("--encoding", help="text encoding of the manifest CSV (default UTF-8; a file that is "
                        "not UTF-8 is read as Windows-1252/Latin-1, with a warning)")
    common.add_argument("--label-set", help="map labels to a label set (4class, 6basic, 7basic, ...)")
    i = sub.add_parser("inspect", parents=[common], help="print counts per label, speaker, culture and split")
    i.add_argument("--json", action="store_true", help="print the summary as JSON")
    m = sub.add_parser("manifest", parents=[common], help="write the corpus's manifest as JSONL or CSV")
    m.add_argument("--out", required=True)
    w = sub.add_parser("write", parents=[common], help="write the corpus's media as a TFRecord store")
    w.add_argument("--out", required=True, help="store folder, e.g. tfrecords/emodb")
    w.add_argument("--sample-rate", type=int, default=16000)
    w.add_argument("--image-size", type=int, default=48)
    w.add_argument("--shards", type=int, default=None)
    w.add_argument("--gzip", action="store_true", help="GZIP-compress the shards")
    w.add_argument("--split-by", default="split", help="manifest column naming the store splits")
    w.add_argument("--no-progress", action="store_true")
    a = sub.add_parser("audit", help="audit a partition (speaker overlap, class balance, duplicates)")
    a.add_argument("--emobox", help="audit every EmoBox fold of this corpus (emodb, casia, ravdess)")
    a.add_argument("--emobox-dir", help="EmoBox partitions folder (default <data dir>/emobox)")
    a.add_argument("--train", help="train partition file (JSONL or CSV with key, emo[, speaker, wav])")
    a.add_argument("--test", help="test partition file")
    a.add_argument("--corpus", default="", help="corpus whose naming rules/clips give speakers (e.g. emodb)")
    a.add_argument("--data-dir", help="folder holding the corpora (default $EMOZOO_DATA_DIR)")
    a.add_argument("--no-hash", action="store_true", help="do not hash the matched media files")
    a.add_argument("--json", help="also write the full report as JSON to this file")
    a.add_argument("--strict", action="store_true", help="exit with status 1 when the audit finds an error")
    args = p.parse_args(argv)
    if args.cmd == "audit":
        try:
            return _audit(args)
        except EmozooError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    try:
        manifest, modality = _manifest(args)
        if args.label_set:
            manifest = manifest.with_label_set(args.label_set, keep_unlabelled=True)
        if args.cmd == "inspect":
            s = manifest.summary()
            print(json.dumps(s, indent=2, ensure_ascii=False) if args.json else format_summary(s))
        elif args.cmd == "manifest":
            (manifest.to_csv if args.out.endswith(".csv") else manifest.to_jsonl)(args.out)
            print(f"wrote {len(manifest)} rows to {args.out}")
        else:
            from emozoo.data.store import write_manifest_store
            if args.corpus == "csv":
                modality = _guess_modality(manifest)
            out = write_manifest_store(manifest, args.out, modality=modality, label_set=args.label_set,
                                       split_by=args.split_by, num_shards=args.shards,
                                       compression="GZIP" if args.gzip else None,
                                       sample_rate=args.sample_rate, image_size=args.image_size,
                                       progress=not args.no_progress)
            from emozoo.data.tfrecord import load_spec
            spec = load_spec(out)
            print(f"wrote {sum(spec.counts.values())} examples {spec.counts} to {out}")
            if args.label_set:
                from emozoo.data.tfrecord import read_store
                unlabelled = sum(int(ex["label"]) < 0 for ex in read_store(out, features=["label"]).as_numpy_iterator())
                print(f"{unlabelled} of them unlabelled (label -1: emotion outside {args.label_set} or none; "
                      "kept for methods that use unlabelled data, dropped by supervised training)")
    except EmozooError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _audit(args) -> int:
    from emozoo.data import audit
    if args.emobox:
        rep = audit.audit_emobox(args.emobox, root=args.emobox_dir, data_dir=args.data_dir,
                                 hash_media=not args.no_hash)
        print(rep["text"])
        print("\nsummary: " + json.dumps(rep["summary"], indent=1))
        errors = [f for f in rep["set"]["findings"] if f["level"] == "error"]
        out = rep
    elif args.train and args.test:
        from emozoo.data.emobox import read_partition
        manifest = None
        if args.corpus:
            try:
                from emozoo.data.corpora import load_manifest
                manifest = load_manifest(args.corpus, data_dir=args.data_dir)
            except EmozooError:
                manifest = None
        r = audit.audit_partition(read_partition(args.train), read_partition(args.test), name=f"{args.train} | {args.test}",
                                  corpus=args.corpus, manifest=manifest, hash_media=not args.no_hash)
        print(r.format())
        errors = r.errors
        out = r.to_json()
    else:
        raise EmozooError("audit needs --emobox CORPUS, or --train FILE --test FILE")
    if args.json:
        from pathlib import Path
        Path(args.json).write_text(json.dumps(out, indent=1, default=str))
    return 1 if (args.strict and errors) else 0


def _guess_modality(manifest: Manifest) -> str:
    from emozoo.data.corpora._common import AUDIO_EXTS, IMAGE_EXTS
    from pathlib import Path
    exts = {Path(r.path).suffix.lower() for r in manifest}
    if exts <= set(AUDIO_EXTS):
        return "audio"
    if exts <= set(IMAGE_EXTS):
        return "image"
    raise EmozooError(f"manifest mixes or uses unknown media types {sorted(exts)}; one of audio or image files")


if __name__ == "__main__":
    sys.exit(main())
