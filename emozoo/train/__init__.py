"""Training driver: ``python -m emozoo.train --experiment NAME`` (see :mod:`emozoo.train.trainer`)."""
from emozoo.train.trainer import run_experiment, train_fold  # noqa: F401
