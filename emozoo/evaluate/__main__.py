"""``python -m emozoo.evaluate --model-dir DIR`` or ``--model NAME --corpus X [--protocol all]``,
or ``--protocol emobox --corpus emodb|casia|ravdess --experiment NAME [--seeds N] [--out DIR]``
(train and test an experiment on EmoBox's folds; ``--protocol loso|speaker_kfold`` with
``--experiment`` runs the same model on our speaker-independent folds; see docs/emobox.md).

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
    ap.add_argument("--experiment", help="with --protocol emobox|loso|speaker_kfold: the experiment to train "
                                         "per fold (e.g. emobox/emodb/compare/paper)")
    ap.add_argument("--seeds", type=int, help="seeds per fold (default: the experiment's)")
    ap.add_argument("--folds", default="", help="comma-separated fold numbers to run (default all)")
    ap.add_argument("--no-refit", action="store_true",
                    help="test the early-stopped model instead of refitting on the whole training side")
    ap.add_argument("--data-dir", help="data directory (default $EMOZOO_DATA_DIR)")
    args = ap.parse_args(argv)
    from emozoo.errors import EmozooError
    from emozoo.evaluate import evaluate_model, evaluate_run, model_report_dir, run_report_dir

    try:
        if args.experiment:
            if not args.corpus or args.protocol not in ("emobox", "loso", "speaker_kfold"):
                ap.error("--experiment needs --corpus and --protocol emobox, loso or speaker_kfold")
            from emozoo.evaluate.emobox import run_protocol
            from emozoo.experiments import get_experiment
            cfg = get_experiment(args.experiment)
            out = args.out or f"runs/emobox/{args.experiment.replace('/', '_')}_{args.protocol}"
            run_protocol(cfg, args.corpus, out, protocol=args.protocol, seeds=args.seeds, refit=not args.no_refit,
                         data_dir=args.data_dir, store=args.store,
                         folds=tuple(int(f) for f in args.folds.split(",") if f.strip()))
            print(f"per-fold results in {out}/seed_*/fold_*/fold.json, summary in {out}/summary.json")
        elif args.model_dir:
            s = evaluate_run(args.model_dir, args.out)
            print("  ".join(f"{k} {100 * s[k]['mean']:.2f} +- {100 * s[k]['std']:.2f}"
                            for k in ("accuracy", "uar", "macro_f1", "macro_f1_uar_map", "weighted_f1")))
            out = run_report_dir(args.model_dir, args.out)
            print(f"reports (seed_*.json/.md) and confusion matrices (seed_*_confusion.png) in {out}/, "
                  f"summary in {out}/summary.json")
        elif args.model and args.corpus:
            r = evaluate_model(args.model, args.corpus, protocol=args.protocol, store=args.store,
                               out_dir=args.out, zoo_root=args.zoo_dir)
            print("  ".join(f"{k} {100 * r[k]:.2f}" for k in
                            ("accuracy", "uar", "macro_f1", "macro_f1_uar_map", "weighted_f1")))
            out = model_report_dir(args.model, args.corpus, args.out)
            print(f"report ({out}/report.json, report.md) and confusion matrix ({out}/report_confusion.png)")
        else:
            ap.error("give --model-dir DIR, or --model NAME --corpus X")
    except EmozooError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
