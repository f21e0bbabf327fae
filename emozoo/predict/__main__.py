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
    ap.add_argument("files", nargs="*", help="inputs of the model's kind: audio files (wav, flac, ...), face images, "
                    "feature .npz files, or conversation files (.json, .jsonl, 'SPEAKER: text' lines)")
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
        rows = []                     # (file, row name, extra JSON fields, probabilities)
        if hasattr(model, "read_conversation"):
            # a conversation model: every FILE is one conversation (json / jsonl / "SPEAKER: text" lines)
            for f in args.files:
                turns = model.read_conversation(f)
                for i, (t, p) in enumerate(zip(turns, model.predict(turns))):
                    rows.append((f, f"{f}:{i + 1} {t['speaker']}".rstrip(),
                                 {"turn": i + 1, "speaker": t["speaker"], "text": t["text"]}, p))
        else:
            probs = model.predict(list(args.files))
            if len(probs) == len(args.files):
                rows = [(f, f, {}, p) for f, p in zip(args.files, probs)]
            else:                     # files holding several examples each (e.g. feature .npz files)
                for f in args.files:
                    rows += [(f, f"{f}[{i}]", {"row": i}, p) for i, p in enumerate(model.predict([f]))]
    except EmozooError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        for f, _, extra, p in rows:
            print(json.dumps({"file": f, **extra,
                              "prediction": model.labels[int(p.argmax())],
                              "probabilities": {k: round(float(v), 4) for k, v in zip(model.labels, p)}}))
    else:
        width = max(len(name) for _, name, _, _ in rows)
        print(f"{'input':<{width}}  {'prediction':<10}  " + "  ".join(f"{k:>8}" for k in model.labels))
        for _, name, _, p in rows:
            print(f"{name:<{width}}  {model.labels[int(p.argmax())]:<10}  " + "  ".join(f"{v:8.4f}" for v in p))
    return 0


if __name__ == "__main__":
    sys.exit(main())
