"""``python -m emozoo.evaluate --model-dir DIR`` or ``--model NAME --corpus X [--protocol all]``.

Writes accuracy (= WA), UAR, macro-F1 (usual and seed 003's UAR/MAP formula), weighted F1,
per-class recall/precision/F1 and the confusion matrix as JSON + Markdown + PNG.
"""
from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m emozoo.evaluate", description=__doc__)
    ap.add_argument("--model-dir", help="a `python -m emozoo.train` run: re-score its test predictions")
    ap.add_argument("--model", help="a zoo model name")
    ap.add_argument("--corpus", help="corpus to score the zoo model on (its feature store)")
    ap.add_argument("--protocol", default="all")
    ap.add_argument("--store", help="feature store folder (default tfrecords/<corpus>_<feature>)")
    ap.add_argument("--out", help="output folder")
    ap.add_argument("--zoo-dir")
    args = ap.parse_args(argv)
    from emozoo.errors import EmozooError
    from emozoo.evaluate import evaluate_model, evaluate_run

    try:
        if args.model_dir:
            s = evaluate_run(args.model_dir, args.out)
            print("  ".join(f"{k} {100 * s[k]['mean']:.2f} +- {100 * s[k]['std']:.2f}"
                            for k in ("accuracy", "uar", "macro_f1", "macro_f1_uar_map", "weighted_f1")))
        elif args.model and args.corpus:
            r = evaluate_model(args.model, args.corpus, protocol=args.protocol, store=args.store,
                               out_dir=args.out, zoo_root=args.zoo_dir)
            print("  ".join(f"{k} {100 * r[k]:.2f}" for k in
                            ("accuracy", "uar", "macro_f1", "macro_f1_uar_map", "weighted_f1")))
        else:
            ap.error("give --model-dir DIR, or --model NAME --corpus X")
    except EmozooError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
