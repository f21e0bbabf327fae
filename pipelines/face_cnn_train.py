"""Train the face CNN's tables (issue 9) through the one trainer: the registered experiments
``face_cnn/culture/{jaffe,ckplus}/<preset>`` and ``face_cnn/fer2013/<preset>``.

    EMOZOO_DATA_DIR=../shared/data python pipelines/face_cnn_prepare.py     # the face stores, once
    python pipelines/face_cnn_train.py --preset cpu                          # the committed preset

is ``python -m emozoo.train --experiment face_cnn/tables/cpu`` with a choice of members: each
experiment runs through :func:`emozoo.train.trainer.run_experiment` (seeds, ``--strategy``, resume,
pooled reports, summary) into ``<runs>/<experiment with / as _>``, e.g.
``runs/face_cnn_culture_jaffe_cpu/seed_<k>/jaffe/result.json`` (allocation k) and
``runs/face_cnn_fer2013_cpu/seed_<s>/official/result.json``. The presets (network size, epochs,
decay) are the experiments' (:mod:`emozoo.models.face_cnn.face_cnn_experiments`); ``--override``
changes them as for ``python -m emozoo.train``. ``pipelines/face_cnn_table.py`` lays the runs out
as the paper's tables, figures and TensorBoard logs.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def experiments(preset: str, tasks=("culture", "fer2013"), corpora=("jaffe", "ckplus")) -> list[str]:
    """The registered experiment names of ``preset`` for ``tasks`` (culture runs of ``corpora``)."""
    names = [f"face_cnn/culture/{c}/{preset}" for c in corpora] if "culture" in tasks else []
    return names + ([f"face_cnn/fer2013/{preset}"] if "fer2013" in tasks else [])


def run_folder(runs, experiment: str) -> Path:
    """Where ``python -m emozoo.train --experiment EXPERIMENT`` writes its run under ``runs``."""
    from emozoo.models.face_cnn.face_cnn_zoo import run_folder as folder
    return folder(runs, experiment)


def main(argv=None) -> int:
    from emozoo.models.face_cnn.face_cnn_experiments import PRESETS

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    p.add_argument("--tasks", default="culture,fer2013", help="culture, fer2013 or both")
    p.add_argument("--corpora", default="jaffe,ckplus", help="the cultures trained on (each is the other's cross test)")
    p.add_argument("--runs", default=str(REPO / "runs"), help="folder of the run folders")
    p.add_argument("--seeds", type=int, help="seeds (= allocations of a culture run); default: the experiment's")
    p.add_argument("--strategy", default="default", choices=("default", "mirrored", "multi_worker"))
    p.add_argument("--cpu-devices", type=int, default=0)
    p.add_argument("--override", nargs="+", action="extend", default=[], metavar="KEY=VALUE")
    p.add_argument("--verbose", type=int, default=0, help="Keras fit verbosity (2: one line per epoch)")
    a = p.parse_args(argv)

    from emozoo.errors import EmozooError
    from emozoo.experiments import apply_overrides, get_experiment

    try:
        from emozoo.train.strategies import set_cpu_devices
        from emozoo.train.trainer import run_experiment

        set_cpu_devices(a.cpu_devices)
        for name in experiments(a.preset, a.tasks.split(","), a.corpora.split(",")):
            cfg = apply_overrides(get_experiment(name), a.override)
            run_experiment(cfg, run_folder(a.runs, name), strategy=a.strategy, seeds=a.seeds, data_root=REPO,
                           verbose=a.verbose)
    except EmozooError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
