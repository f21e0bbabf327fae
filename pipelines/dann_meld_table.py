"""CI (lambda = 0) vs DANN on MELD (text), 7-class and 4-class, official splits.

    python pipelines/dann_meld_table.py                  # CPU preset (Adam 1e-3, 20 epochs, batch 20 dialogues), 3 seeds
    python pipelines/dann_meld_table.py --seeds 5
    python pipelines/dann_meld_table.py --preset paper   # Adam 1e-4, 200 epochs
    python pipelines/dann_meld_table.py --merge-only     # only re-write the table from the finished runs

A thin entry point: it runs the group ``dann/meld_table`` (``dann/meld/text/{7class,4class}/{ci,dann}``:
MiniLM sentence embeddings of the utterances in ``tfrecords/meld_minilm``, 7basic; conversations = MELD
dialogues; speaker domain behind the GRL: speakers with >= 50 turns, the rest pooled as ``other``; dev and
test dialogues are unlabelled target data of the domain classifier) through the one trainer with the
conversational DANN's Task, seed by seed (as ``python -m emozoo.train --experiment dann/meld_table
--by-seed``, into the same run folders ``runs/<experiment with / as _>``), then writes the group's table
(:func:`emozoo.models.dann.dann_tables.meld_table`, also printed by ``python -m emozoo.report
dann/meld_table``: test WA / UAR / weighted F1 and the official dev turns' weighted F1) to

* ``benchmarks/results/dann_meld.json``: the test and dev summaries (mean +- std over seeds) and the run folders;
* ``docs/methods/dann_meld.md``, between its ``<!-- table -->`` / ``<!-- /table -->`` markers (the rest of the
  page is kept).
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
from emozoo.models.dann.dann_tables import SUBSETS, meld_table  # noqa: E402
from emozoo.utils import write_json_atomic  # noqa: E402

GROUP = "dann/meld_table"


def write_table(path: Path, table: str) -> None:
    """Put ``table`` between the ``<!-- table -->`` markers of ``path`` (the whole file if it has none)."""
    start, end = "<!-- table -->", "<!-- /table -->"
    text = path.read_text() if path.exists() else ""
    if start in text and end in text:
        text = text[:text.index(start) + len(start)] + "\n" + table + text[text.index(end):]
    else:
        text = f"{start}\n{table}{end}\n"
    path.write_text(text)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", choices=("cpu", "paper"), default="cpu")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--subsets", nargs="*", default=list(SUBSETS), choices=SUBSETS)
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/dann_meld.json"))
    ap.add_argument("--table", default=str(ROOT / "docs/methods/dann_meld.md"))
    ap.add_argument("--runs-dir", help="the trainer's run folders (default runs/, runs/dann_meld_paper/ with "
                                       "--preset paper); finished seeds are kept and skipped")
    ap.add_argument("--merge-only", action="store_true", help="only rewrite the table from the finished runs")
    args = ap.parse_args(argv)
    preset = E.PAPER_PRESET if args.preset == "paper" else E.CPU_PRESET
    runs_dir = Path(args.runs_dir or (ROOT / "runs" / ("dann_meld_paper" if args.preset == "paper" else "")))
    if not args.merge_only:
        from emozoo.train.__main__ import main as train
        overrides = [f"trainer.epochs={args.epochs or preset['epochs']}", f"trainer.batch_size={preset['batch_size']}",
                     f"optimizer.learning_rate={preset['learning_rate']}"]
        for sub in args.subsets:
            rc = train(["--experiment", f"dann/meld/text/{sub}/", "--by-seed", "--seeds", str(args.seeds),
                        "--runs-dir", str(runs_dir), "--override", *overrides])
            if rc:
                return rc
    table = meld_table(GROUP, runs_dir)
    write_json_atomic(Path(args.out), table["data"], indent=1)
    write_table(Path(args.table), table["markdown"])
    print(table["markdown"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
