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
    from emozoo.experiments import get_runner, get_task
    from emozoo.models import registered_models

    names = list_experiments()
    assert len(names) > 100
    models = registered_models()
    orphans = [n for n in names if get_experiment(n).model.name not in models
               and get_runner(get_experiment(n).model.name) is None and get_task(get_experiment(n).model.name) is None]
    assert not orphans, orphans
    for prefix in ("dann/iemocap/", "dann/meld/", "face_cnn/", "ssgan/"):   # a Task inside the one trainer's loop
        assert get_task(get_experiment(list_experiments(prefix)[0]).model.name) is not None, prefix
    assert get_runner("face_cnn") is None and get_runner("ssgan") is None


def test_help_and_list_answer_without_tensorflow():
    """``python -m emozoo.train --help`` / ``--list`` must not import TensorFlow (was 34 s) and print
    no TensorFlow start-up noise."""
    import subprocess
    import sys
    import time

    code = ("import sys, runpy; sys.argv = ['emozoo.train', {flag!r}]\n"
            "try:\n    runpy.run_module('emozoo.train', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow was imported'\n")
    for flag in ("--help", "--list"):
        t0 = time.time()
        out = subprocess.run([sys.executable, "-c", code.format(flag=flag)], capture_output=True, text=True,
                             timeout=60, cwd=str(__import__("pathlib").Path(__file__).resolve().parents[2]))
        assert out.returncode == 0, out.stderr
        assert out.stderr == "", out.stderr
        assert time.time() - t0 < 3 * 2, f"{flag} took {time.time() - t0:.1f} s"   # goal 3 s; 2x for a shared CI
    assert "baseline/emodb/is10/loso" in out.stdout.split()


def test_importing_tensorflow_through_emozoo_prints_no_startup_noise():
    import subprocess
    import sys

    env = {k: v for k, v in __import__("os").environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "EMOZOO_TF_VERBOSE")}
    out = subprocess.run([sys.executable, "-c", "import emozoo, tensorflow as tf; print(int(tf.constant(2) + 1))"],
                         capture_output=True, text=True, timeout=120, env=env,
                         cwd=str(__import__("pathlib").Path(__file__).resolve().parents[2]))
    assert out.returncode == 0 and out.stdout.strip() == "3", out.stderr
    assert out.stderr == "", out.stderr
