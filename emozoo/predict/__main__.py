"""``python -m emozoo.predict --model NAME FILE... [--json]``: print per-file probabilities."""
from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m emozoo.predict", description=__doc__)
    ap.add_argument("--model", required=False, help="zoo model name (see --list)")
    ap.add_argument("files", nargs="*", help="audio files (wav, flac, ...)")
    ap.add_argument("--zoo-dir", help="zoo folder (default saved_models/ or $EMOZOO_ZOO_DIR)")
    ap.add_argument("--json", action="store_true", help="one JSON object per file instead of a table")
    ap.add_argument("--list", action="store_true", help="list zoo models and exit")
    args = ap.parse_args(argv)

    import emozoo
    from emozoo.errors import EmozooError

    try:
        if args.list:
            for m in emozoo.list_models(args.zoo_dir):
                print(f"{m['name']}: {m['description']}")
            return 0
        if not args.model or not args.files:
            ap.error("give --model NAME and at least one FILE (or --list)")
        model = emozoo.load(args.model, args.zoo_dir)
        probs = model.predict(list(args.files))
    except EmozooError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        for f, p in zip(args.files, probs):
            print(json.dumps({"file": f, "prediction": model.labels[int(p.argmax())],
                              "probabilities": {k: round(float(v), 4) for k, v in zip(model.labels, p)}}))
    else:
        width = max(len(f) for f in args.files)
        print(f"{'file':<{width}}  {'prediction':<10}  " + "  ".join(f"{k:>8}" for k in model.labels))
        for f, p in zip(args.files, probs):
            print(f"{f:<{width}}  {model.labels[int(p.argmax())]:<10}  " + "  ".join(f"{v:8.4f}" for v in p))
    return 0


if __name__ == "__main__":
    sys.exit(main())
