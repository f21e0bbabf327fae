"""``python -m emozoo.publish PRESET [PRESET ...] [--repo DIR] [--zoo-dir DIR] [--seed N] [--epochs N] ...``

Retrains, exports and publishes zoo presets by name (the recipes of the methods' ``*_presets.py``,
:mod:`emozoo.publish`); ``--list`` prints one line per preset. An option the preset's recipe does
not take is refused (exit 2), and so is an unknown preset (with ``--list`` and the closest names).

Examples::

    python -m emozoo.publish --list
    python -m emozoo.publish dann_speech                     # retrain on the IS10 stores, publish to saved_models/
    python -m emozoo.publish dann_iemocap --from-run          # publish the Table 2 run's seed-0 model
    python -m emozoo.publish face_cnn_jaffe face_cnn_ckplus face_cnn_fer2013 --runs runs   # the runs of face_cnn/tables/cpu
"""
from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def parser() -> argparse.ArgumentParser:
    from emozoo.publish import OPTIONS, flag

    ap = argparse.ArgumentParser(prog="python -m emozoo.publish", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("presets", nargs="*", metavar="PRESET", help="zoo preset(s) to retrain and publish (see --list)")
    ap.add_argument("--list", action="store_true", help="list the presets that have a recipe and exit")
    ap.add_argument("--repo", help="folder that tfrecords/, benchmarks/results/ and runs/ resolve against "
                                   "(default: this checkout)")
    ap.add_argument("--zoo-dir", help="zoo folder to publish into (default saved_models/ or $EMOZOO_ZOO_DIR)")
    for name, (kind, text) in OPTIONS.items():
        if kind is bool:
            ap.add_argument(flag(name), dest=name, action="store_true", default=argparse.SUPPRESS, help=text)
        else:
            ap.add_argument(flag(name), dest=name, type=kind, default=argparse.SUPPRESS, help=text)
    return ap


def main(argv=None) -> int:
    args = vars(parser().parse_args(argv))
    from emozoo.errors import EmozooError
    from emozoo.publish import check_options, get_recipe, list_text, publish_preset

    show_list, presets = args.pop("list"), args.pop("presets")
    repo, zoo_dir = args.pop("repo"), args.pop("zoo_dir")
    try:
        if show_list:
            print(list_text())
            return 0
        if not presets:
            print("error: name a preset (python -m emozoo.publish --list shows them)", file=sys.stderr)
            return 2
        for p in presets:                  # every name and option is checked before anything trains
            check_options(get_recipe(p), args)
        for p in presets:
            entry = publish_preset(p, repo=repo, zoo_dir=zoo_dir, **args)
            print(f"published {entry['name']} -> {entry['path']} ({len(entry['files'])} files)", flush=True)
    except EmozooError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
