import pytest

from emozoo.errors import ExperimentError
from emozoo.experiments import apply_overrides, get_experiment, list_experiments


def test_baseline_experiments_registered():
    names = list_experiments("baseline/")
    assert "baseline/emodb/is10/loso" in names
    cross = [n for n in names if n.startswith("baseline/cross_corpus/")]
    assert len(cross) == 6
    cfg = get_experiment("baseline/cross_corpus/casia_to_ravdess/is10")
    assert cfg.data.corpora == ("casia",) and cfg.data.target == "ravdess"
    assert cfg.model.params["generator_units"] == [512, 256] and cfg.optimizer.learning_rate == 1e-4


def test_overrides_types_and_nesting():
    cfg = get_experiment("baseline/emodb/is10/loso")
    new = apply_overrides(cfg, ["trainer.epochs=3", "optimizer.learning_rate=1e-3", "model.params.dropout=0.2",
                                "data.folds=[0,1]", "trainer.tensorboard=false", 'data.stores={"emodb": "/x"}'])
    assert new.trainer.epochs == 3 and isinstance(new.trainer.epochs, int)
    assert new.optimizer.learning_rate == 1e-3
    assert new.model.params["dropout"] == 0.2
    assert new.data.folds == (0, 1)
    assert new.trainer.tensorboard is False
    assert new.data.store_for("emodb") == "/x"
    assert cfg.trainer.epochs != 3  # the registered config is untouched


@pytest.mark.parametrize("bad, match", [
    ("trainer.epoch=3", "no field 'epoch'"),
    ("trainer.epochs", "not key=value"),
    ("trainer.epochs=2.5", "integer"),
    ("nosection.x=1", "not a config section"),
])
def test_bad_overrides(bad, match):
    with pytest.raises(ExperimentError, match=match):
        apply_overrides(get_experiment("baseline/emodb/is10/loso"), [bad])


def test_unknown_experiment():
    with pytest.raises(ExperimentError, match="no experiment"):
        get_experiment("baseline/nope")


def test_cli_errors_are_clear(capsys):
    from emozoo.train.__main__ import main

    assert main(["--experiment", "baseline/nope"]) == 2
    assert "no experiment 'baseline/nope'" in capsys.readouterr().err
    assert main(["--experiment", "baseline/emodb/is10/loso", "--override", "trainer.bogus=1"]) == 2
    assert "no field 'bogus'" in capsys.readouterr().err
    assert main(["--list"]) == 0
    assert "baseline/cross_corpus/emodb_to_casia/is10" in capsys.readouterr().out


def test_every_registered_experiment_has_a_way_to_run():
    """``python -m emozoo.train --experiment NAME`` runs every listed name: its model is built by
    the generic trainer (a registered model) or its method registered a runner."""
    from emozoo.experiments import get_runner
    from emozoo.models import _MODELS

    names = list_experiments()
    assert len(names) > 100
    orphans = [n for n in names if get_experiment(n).model.name not in _MODELS
               and get_runner(get_experiment(n).model.name) is None]
    assert not orphans, orphans
    for prefix in ("dann/iemocap/", "dann/meld/", "ssgan/", "face_cnn/"):
        assert get_runner(get_experiment(list_experiments(prefix)[0]).model.name) is not None, prefix
