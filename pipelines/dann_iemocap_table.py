"""Table 2 of Lian et al. 2019 on our data: CI (lambda = 0) vs DANN over the five IEMOCAP TS settings.

    python pipelines/dann_iemocap_table.py                  # CPU preset (5 seeds, 20 epochs, Adam 1e-3)
    python pipelines/dann_iemocap_table.py --preset paper   # 20 seeds, 200 epochs, Adam 1e-4
    python pipelines/dann_iemocap_table.py --merge-only     # only re-write the table from the finished runs

A thin entry point: it runs the group ``dann/table2/text`` (``dann/iemocap/text/<ts>/{ci,dann}``: MiniLM
sentence embeddings of the transcripts in ``tfrecords/iemocap_text_minilm``; the paper used ComParE audio +
ELMo text) through the one trainer, seed by seed over the settings (the same as ``python -m emozoo.train
--experiment dann/table2/text --by-seed``, into the same run folders ``runs/<experiment with / as _>``;
either command resumes the other's finished seeds), then writes the group's paper-shaped table
(:func:`emozoo.models.dann.dann_tables.iemocap_table2`, also printed by ``python -m emozoo.report
dann/table2/text``) to

* ``benchmarks/results/dann_iemocap.json``: the summaries (mean +- std over seeds), every seed's test report
  and the run folders;
* ``docs/methods/dann_iemocap_table.md``.

The seed-0 weights of each run (``<run>/seed_0/<fold>/model.weights.h5``) feed ``pipelines/dann_tsne.py`` and
``python -m emozoo.publish dann_iemocap --from-run``.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emozoo.models.dann import dann_experiments as E  # noqa: E402
from emozoo.models.dann.dann_tables import iemocap_table2  # noqa: E402
from emozoo.utils import write_json_atomic  # noqa: E402

GROUP = "dann/table2/text"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", choices=("cpu", "paper"), default="cpu")
    ap.add_argument("--seeds", type=int)
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/dann_iemocap.json"))
    ap.add_argument("--table", default=str(ROOT / "docs/methods/dann_iemocap_table.md"))
    ap.add_argument("--runs-dir", help="the trainer's run folders (default runs/, runs/dann_iemocap_paper/ with "
                                       "--preset paper); finished seeds are kept and skipped")
    ap.add_argument("--merge-only", action="store_true", help="only rewrite the table from the finished runs")
    args = ap.parse_args(argv)
    preset = E.PAPER_PRESET if args.preset == "paper" else E.CPU_PRESET
    runs_dir = Path(args.runs_dir or (ROOT / "runs" / ("dann_iemocap_paper" if args.preset == "paper" else "")))
    if not args.merge_only:
        from emozoo.train.__main__ import main as train
        overrides = [f"trainer.epochs={args.epochs or preset['epochs']}", f"trainer.batch_size={preset['batch_size']}",
                     f"optimizer.learning_rate={preset['learning_rate']}"]
        rc = train(["--experiment", GROUP, "--by-seed", "--seeds", str(args.seeds or preset["seeds"]),
                    "--runs-dir", str(runs_dir), "--override", *overrides])
        if rc:
            return rc
    table = iemocap_table2(GROUP, runs_dir)
    write_json_atomic(Path(args.out), table["data"], indent=1)
    Path(args.table).write_text(table["markdown"])
    print(table["markdown"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
