"""``python -m emozoo.report GROUP [--runs-dir runs] [--out-dir DIR] [--figure PNG] [--doc FILE ...]``."""
from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None) -> int:
    from emozoo.report import __doc__ as doc

    ap = argparse.ArgumentParser(prog="python -m emozoo.report", description=doc,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("group", help="an experiment group, e.g. loco/speech (see python -m emozoo.train --list)")
    ap.add_argument("--runs-dir", default="runs", help="where python -m emozoo.train wrote the runs (default runs)")
    ap.add_argument("--out-dir", help="where to write GROUP.md/.json/.png (default <runs-dir>/reports)")
    ap.add_argument("--figure", help="write the figure here instead (e.g. into docs/figures/)")
    ap.add_argument("--doc", action="append", default=[],
                    help="replace the section <!-- BEGIN report:GROUP --> ... <!-- END report:GROUP --> of this "
                         "Markdown file (repeatable)")
    args = ap.parse_args(argv)
    from emozoo.errors import EmozooError
    from emozoo.report import report

    try:
        out = report(args.group, runs_root=args.runs_dir, out_dir=args.out_dir, docs=args.doc,
                     figure_path=args.figure)
    except (EmozooError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(out["text"])
    print(f"\nwrote {out['markdown']}, {out['json']}, {out['png']}" + (f"; updated {', '.join(args.doc)}" if args.doc else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
