"""Training driver: ``python -m emozoo.train --experiment NAME`` (see :mod:`emozoo.train.trainer`).

The package is light: ``run_experiment`` and ``train_fold`` import TensorFlow on first use, so
``python -m emozoo.train --help`` and ``--list`` answer without it.
"""


def __getattr__(name):
    if name in ("run_experiment", "train_fold"):
        from emozoo.train import trainer
        return getattr(trainer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
