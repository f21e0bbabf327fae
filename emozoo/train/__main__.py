"""``python -m emozoo.train --experiment NAME [--override k=v ...] [--strategy S] [--model-dir DIR] [--seeds N]``.

NAME is a registered experiment or a group of them (a prefix such as ``loco/speech``): a group
runs each member in turn, each in its own folder (``runs/<member with / as _>``, or
``<model-dir>/<last part of the member>``), with the same overrides, strategy and seeds.
"""
from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


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
    ap.add_argument("--seeds", type=int, help="number of seeds (default: the experiment's trainer.seeds)")
    ap.add_argument("--list", action="store_true", help="list registered experiments and exit")
    ap.add_argument("--verbose", type=int, default=0, help="Keras fit verbosity (0, 1, 2)")
    args = ap.parse_args(argv)

    from emozoo.errors import EmozooError
    from emozoo.experiments import apply_overrides, get_experiment, group_members, list_experiments

    try:
        if args.list:
            print("\n".join(list_experiments()))
            return 0
        if not args.experiment:
            ap.error("--experiment is required (or --list)")
        from emozoo.train.strategies import set_cpu_devices
        set_cpu_devices(args.cpu_devices)
        members = group_members(args.experiment)
        for name in members or [args.experiment]:
            cfg = apply_overrides(get_experiment(name), args.override)
            # runs of one experiment under different strategies / device counts get their own folders
            suffix = "" if args.strategy == "default" else f"_{args.strategy}" + (
                f"_cpu{args.cpu_devices}" if args.cpu_devices > 1 else "")
            if args.model_dir and members:
                model_dir = os.path.join(args.model_dir, name[len(args.experiment.rstrip("/")) + 1:].replace("/", "_"))
            else:
                model_dir = args.model_dir or os.path.join("runs", cfg.name.replace("/", "_") + suffix)
            if members:
                print(f"[emozoo.train] group {args.experiment}: {members.index(name) + 1}/{len(members)} {name}",
                      flush=True)
            from emozoo.train.trainer import run_experiment
            run_experiment(cfg, model_dir, strategy=args.strategy, seeds=args.seeds, verbose=args.verbose)
    except EmozooError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
