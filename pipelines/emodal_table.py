"""EMODal Table 1 (audio-only / visual-only / both / both without common loss) and Table 2
(confusion matrix) on real paired audio-visual data (RAVDESS AV features)::

    EMOZOO_DATA_DIR=../shared/data python pipelines/emodal_build_stores.py     # stores, once
    EMOZOO_DATA_DIR=../shared/data python pipelines/emodal_table.py            # all 8 experiments, 5 seeds
    python pipelines/emodal_table.py --report-only                            # tables/PNG from the runs

A thin entry point: it runs the groups ``emodal/table1/4class`` and ``emodal/table1/8class``
(``emodal/ravdess_av/<classes>/{audio,visual,both,both_nocommon}``: actor-independent 6-fold, 2
validation actors per fold, early stopping on validation UAR) through the one trainer, as
``python -m emozoo.train --experiment emodal/table1/4class --by-seed --override trainer.tensorboard=false``
does (same run folders ``<runs-dir>/<experiment with / as _>``; either command resumes the other's finished
folds), then writes the groups' paper-shaped tables (:func:`emozoo.models.emodal.emodal_tables.table1`, also
printed by ``python -m emozoo.report emodal/table1/4class``): every per-seed/per-fold number to
``benchmarks/results/emodal_{4class,8class}.json``, the Markdown to ``benchmarks/results/emodal_table.md`` and
the confusion matrices of the ``both`` models (summed over seeds, row-normalised %, Table 2 shape) to
``docs/methods/emodal_confusion_{4class,8class}.png``.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from emozoo.models.emodal.emodal_tables import _pm, confusion_png, table1, table1_lines, table2_lines  # noqa: E402
from emozoo.utils import write_json_atomic  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "emodal_{classes}.json"   # one file per label set
TABLE_MD = REPO / "benchmarks" / "results" / "emodal_table.md"
DOCS = REPO / "docs" / "methods"
COMMAND = "python pipelines/emodal_table.py"
CLASSES = ("4class", "8class")


def header(config: dict) -> str:
    return (f"Command: `{COMMAND}` (stores: `python pipelines/emodal_build_stores.py`). Data: RAVDESS audio-visual "
            "clips, per-clip features of `ravdess_av_features` (audio: 259-dim MFCC vector; visual: 35 OpenFace "
            "action units; dense visual branch), 24 actors, actor-independent 6-fold CV (4 test actors per fold, "
            "2 validation actors for early stopping on UAR), predictions pooled over folds per seed, "
            f"{config.get('seeds', '?')} seeds (mean +- std over seeds), CPU preset "
            f"({config.get('epochs', '?')} epochs max, patience {config.get('patience', '?')}, batch "
            f"{config.get('batch_size', '?')}, Adam 1e-3). The paper's numbers are on its own Chinese TV/film data set "
            "(11 606 clips, face images + 68 pyAudioAnalysis features, 80/20 split, accuracy only): different data, "
            "not comparable one to one.")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--classes", nargs="+", default=list(CLASSES), choices=CLASSES)
    ap.add_argument("--seeds", type=int, default=None, help="default: the experiments' trainer.seeds (5)")
    ap.add_argument("--override", nargs="+", action="extend", default=[], metavar="KEY=VALUE")
    ap.add_argument("--out", default=str(RESULTS), help="results JSON, {classes} filled in")
    ap.add_argument("--report-only", action="store_true", help="only re-write the tables from the finished runs")
    ap.add_argument("--runs-dir", default=str(REPO / "runs"),
                    help="the trainer's run folders (<runs-dir>/<experiment with / as _>; finished folds are kept)")
    args = ap.parse_args(argv)
    if not args.report_only:
        from emozoo.train.__main__ import main as train
        for classes in args.classes:
            rc = train(["--experiment", f"emodal/table1/{classes}", "--by-seed", "--runs-dir", args.runs_dir,
                        *(["--seeds", str(args.seeds)] if args.seeds else []),
                        "--override", "trainer.tensorboard=false", *args.override])
            if rc:
                return rc
    parts = {}
    for classes in CLASSES:
        data = {**table1(f"emodal/table1/{classes}", args.runs_dir)["data"], "command": COMMAND}
        write_json_atomic(Path(args.out.format(classes=classes)), data, indent=1)
        parts[classes] = data
        both = data["experiments"].get(f"emodal/ravdess_av/{classes}/both")
        if both:
            s = both["summary"]
            confusion_png(both["confusion_sum"], both["classes"], DOCS / f"emodal_confusion_{classes}.png",
                          f"EMODal audio+visual, RAVDESS AV {classes}\nACC {_pm(s, 'accuracy')} "
                          f"({len(both['per_seed'])} seeds, actor 6-fold)")
    text = "\n".join([header(next((d["config"] for d in parts.values() if d["config"]), {})), ""]
                     + [line for c in CLASSES for line in table1_lines(c, parts[c])]    # Table 1 of each label set,
                     + [line for c in CLASSES for line in table2_lines(c, parts[c])])   # then Table 2
    TABLE_MD.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
