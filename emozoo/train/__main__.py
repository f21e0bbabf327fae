"""``python -m emozoo.train --experiment NAME [--override k=v ...] [--strategy S] [--model-dir DIR] [--seeds N]``.

NAME is a registered experiment or a group of them (a prefix such as ``loco/speech``): a group
runs each member in turn, each in its own folder (``runs/<member with / as _>``, or
``<model-dir>/<member after the parts all members share, / as _>``), with the same overrides, strategy and seeds;
``--by-seed`` runs seed 1 of every member before seed 2 of any (a table interrupted part way still covers every
cell).
"""
from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def list_text() -> str:
    """What ``--list`` prints: the experiment groups (paper tables, studies, benchmarks: name, number
    of experiments, title, where the table is published), then every registered experiment, one per
    line."""
    from emozoo.experiments import group_members, list_experiments, list_groups

    groups = list_groups()
    width = max(len(g.name) for g in groups)
    lines = ["# experiment groups: python -m emozoo.train --experiment GROUP runs them all, "
             "python -m emozoo.report GROUP makes the table"]
    for kind, heading in (("table", "paper tables"), ("study", "studies"), ("benchmark", "benchmarks")):
        of_kind = [g for g in groups if g.kind == kind]
        if of_kind:
            lines.append(f"# {heading}")
            lines += [f"{g.name:<{width}}  {len(group_members(g.name)):3d} runs  {g.title}"
                      + (f"  [{g.doc}]" if g.doc else "") for g in of_kind]
    lines.append("# experiments")
    return "\n".join(lines + list_experiments())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m emozoo.train", description=__doc__)
    ap.add_argument("--experiment", help="registered experiment name or group prefix (see --list)")
    ap.add_argument("--override", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                    help="config overrides, e.g. trainer.epochs=5 model.params.dropout=0.3")
    ap.add_argument("--strategy", default="default", choices=("default", "mirrored", "multi_worker"))
    ap.add_argument("--cpu-devices", type=int, default=0,
                    help="split the CPU into N logical devices (to run --strategy mirrored without GPUs)")
    ap.add_argument("--model-dir", help="output folder (default runs/<experiment with / as _>[_<strategy>[_cpuN]]); "
                    "a folder records the strategy and device count it was trained with and refuses others")
    ap.add_argument("--runs-dir", default="runs",
                    help="parent of the default run folders (<runs-dir>/<experiment with / as _>; default runs), "
                         "where python -m emozoo.report --runs-dir reads them")
    ap.add_argument("--seeds", type=int, help="number of seeds (default: the experiment's trainer.seeds)")
    ap.add_argument("--by-seed", action="store_true",
                    help="a group: run seed 1 of every member, then seed 2, ... (a partial run covers the whole "
                         "table; finished seeds are read back)")
    ap.add_argument("--list", action="store_true",
                    help="list the experiment groups (paper tables, studies, benchmarks) and every registered "
                         "experiment, and exit")
    ap.add_argument("--verbose", type=int, default=0, help="Keras fit verbosity (0, 1, 2)")
    args = ap.parse_args(argv)

    from emozoo.errors import EmozooError
    from emozoo.experiments import apply_overrides, get_experiment, group_members, member_folder

    try:
        if args.list:
            print(list_text())
            return 0
        if not args.experiment:
            ap.error("--experiment is required (or --list)")
        from emozoo.train.strategies import set_cpu_devices
        set_cpu_devices(args.cpu_devices)
        members = group_members(args.experiment)
        configs = {name: apply_overrides(get_experiment(name), args.override) for name in members or [args.experiment]}
        total = {name: int(args.seeds or cfg.trainer.seeds) for name, cfg in configs.items()}
        # --by-seed: the members are run with 1, 2, ... seeds in turn (run_experiment resumes the finished ones)
        passes = [[(name, n) for name in configs if n <= total[name]]
                  for n in range(1, max(total.values()) + 1)] if args.by_seed else [list(total.items())]
        for name, n_seeds in (item for p in passes for item in p):
            cfg = configs[name]
            # runs of one experiment under different strategies / device counts get their own folders
            suffix = "" if args.strategy == "default" else f"_{args.strategy}" + (
                f"_cpu{args.cpu_devices}" if args.cpu_devices > 1 else "")
            if args.model_dir and members:
                model_dir = os.path.join(args.model_dir, member_folder(args.experiment, name))
            else:
                model_dir = args.model_dir or os.path.join(args.runs_dir, cfg.name.replace("/", "_") + suffix)
            if members:
                print(f"[emozoo.train] group {args.experiment}: {members.index(name) + 1}/{len(members)} {name}"
                      + (f", seed {n_seeds}/{total[name]}" if args.by_seed else ""), flush=True)
            from emozoo.train.trainer import run_experiment
            run_experiment(cfg, model_dir, strategy=args.strategy, seeds=n_seeds, verbose=args.verbose)
    except EmozooError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    from emozoo.utils import run_cli
    sys.exit(run_cli(main))
