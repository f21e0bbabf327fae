"""A tiny SSGAN experiment on generated data: two functionals stores (``tfrecords/<corpus>_egemaps``
under the test's working folder, where the ssgan Task looks for them) and the overrides that make
``ssgan/functionals/frac20`` train FSBase, SSBase and SSGAN on them in seconds (3 speaker folds,
12 steps, validation UAR every 4 steps)."""
import json

import pytest

from tests.helpers import write_feature_store

NAME = "ssgan/functionals/frac20"
MODEL = {"dense": {"d_units": [16], "g_units": [16]}, "noise_dim": 8, "dropout": 0.0, "learning_rate": 0.005}
OVERRIDES = ["model.params.run.labelled_corpus=synla", 'model.params.run.unlabelled_corpora=["synlb"]',
             "model.params.run.folds=3", "model.params.run.fraction=0.5", "model.params.run.steps=12",
             "model.params.run.eval_every=4", "model.params.run.ssbase_steps=4", "model.params.run.ssbase_threshold=0.3",
             "model.params.run.batch=8", "model.params.run.unlabelled_batch=8",
             'model.params.run.models=["fsbase","ssbase","ssgan"]', f"model.params.run.model={json.dumps(MODEL)}"]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A working folder with the two stores the functionals setting reads (``tfrecords/...``)."""
    for name, seed in (("synla", 0), ("synlb", 1)):
        write_feature_store(tmp_path / "tfrecords" / f"{name}_egemaps", corpus=name, speakers=6, per_class=4, dim=12,
                            feature="egemaps", seed=seed)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def tiny(*extra):
    """The tiny experiment's config (``extra``: further overrides)."""
    from emozoo.experiments import apply_overrides, get_experiment
    return apply_overrides(get_experiment(NAME), OVERRIDES + list(extra))
