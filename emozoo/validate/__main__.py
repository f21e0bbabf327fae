"""``python -m emozoo.validate``: statistics, schema, anomalies and drift of a store or manifest.

    python -m emozoo.validate tfrecords/emodb
    python -m emozoo.validate tfrecords/new --schema tfrecords/emodb/validation/schema_inferred.pbtxt --fail-on-anomalies
    python -m emozoo.validate tfrecords/emodb --compare tfrecords/casia          # drift EmoDB vs CASIA
    python -m emozoo.validate tfrecords/speech --drift-slice culture              # drift between cultures
    python -m emozoo.validate manifests/my_corpus.csv --label-set 4class          # a manifest (CSV or JSONL)

Writes into ``--out`` (default ``<store>/validation``): ``statistics.pb``
(DatasetFeatureStatisticsList), ``schema_inferred.pbtxt``, ``anomalies.pbtxt``,
``findings.txt``, ``drift.json``, ``report.md`` and ``report.png``.

Exit status:
  0  every shard decodes; schema and distribution anomalies (missing values, out-of-range
     values, unexpected labels, drift) are report-only by default
  1  with --fail-on-anomalies, when any such anomaly was flagged
  2  an error (no store, unreadable schema, bad arguments ...)
  3  a shard does not decode (truncated, overwritten, records that are not Examples, fewer
     examples than spec.json declares): always, with or without --fail-on-anomalies
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from emozoo.errors import EmozooError


def _load_manifest(path: Path, args):
    from emozoo.data.manifest import Manifest
    if path.suffix == ".jsonl":
        return Manifest.from_jsonl(path)
    from emozoo.data.corpora import get_reader
    return get_reader("csv")(path, corpus=args.name, label_map=args.label_map, encoding=args.encoding).read()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m emozoo.validate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("path", help="a TFRecord store folder, or a manifest (.csv / .jsonl)")
    p.add_argument("--schema", help="schema to check against (.pbtxt or store folder); default the store's own")
    p.add_argument("--split", action="append", help="only these store splits (repeatable)")
    p.add_argument("--compare", help="a second store: drift of every shared feature")
    p.add_argument("--drift-slice", help="drift between the values of this column (culture, split, corpus)")
    p.add_argument("--js-threshold", type=float, default=0.1, help="JS divergence above which drift is flagged")
    p.add_argument("--linf-threshold", type=float, default=0.1, help="L-infinity distance flagged for labels")
    p.add_argument("--label-set", help="manifests: the label set the emotion column must stay within")
    p.add_argument("--name", help="manifest CSV: corpus name")
    p.add_argument("--label-map", help="manifest CSV: JSON label map")
    p.add_argument("--encoding", help="manifest CSV: text encoding (default UTF-8; a file that is not UTF-8 "
                   "is read as Windows-1252/Latin-1, with a warning)")
    p.add_argument("--out", help="output folder (default <store>/validation or <manifest>_validation)")
    p.add_argument("--no-plot", action="store_true", help="skip report.png")
    p.add_argument("--fail-on-anomalies", action="store_true",
                   help="exit 1 when a schema or distribution anomaly is flagged (report-only without it); "
                        "shards that do not decode exit 3 always")
    args = p.parse_args(argv)
    from emozoo.validate.validator import validate_manifest, validate_store, write_outputs
    path = Path(args.path)
    try:
        if path.is_dir():
            result = validate_store(path, schema=args.schema, split=args.split, compare=args.compare,
                                    drift_slice=args.drift_slice, js_threshold=args.js_threshold,
                                    linf_threshold=args.linf_threshold)
            out = Path(args.out) if args.out else path / "validation"
        elif path.is_file():
            if args.compare or args.drift_slice:
                raise EmozooError("--compare/--drift-slice work on TFRecord stores; write the manifest's store first")
            manifest = _load_manifest(path, args)
            result = validate_manifest(manifest, schema=args.schema, label_set=args.label_set)
            out = Path(args.out) if args.out else path.with_name(path.stem + "_validation")
        else:
            raise EmozooError(f"{path} is neither a store folder nor a manifest file")
        write_outputs(result, out, plot=not args.no_plot)
    except EmozooError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(result.summary())
    for label, res in result.drift.items():
        worst = sorted((r for r in res if r.value == r.value), key=lambda r: -r.value)[:5]
        print(f"drift {label}: " + ", ".join(f"{r.feature} {r.metric}={r.value:.3f}" for r in worst))
    print(f"report: {out / 'report.md'}")
    if result.corrupt:
        from emozoo.data.store import rebuild_command
        print(f"error: {len(result.corrupt)} corrupt shard problem(s) in {path}: {'; '.join(result.corrupt[:3])}. "
              f"Delete the bad shard(s) and rewrite the store with `{rebuild_command(path)}`", file=sys.stderr)
        return 3
    return 1 if (args.fail_on_anomalies and not result.ok) else 0


if __name__ == "__main__":
    sys.exit(main())
