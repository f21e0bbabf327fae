"""Fig. 2 (pipelines/adv_culture_table.py tsne_figure) from the cross-culture runs' saved weights: nothing is
retrained, the rebuilt model is the trained one, a missing run names the command that trains it."""
import json

import numpy as np
import pytest
import tensorflow as tf

from emozoo.errors import ExperimentError
from emozoo.experiments import apply_overrides, get_experiment
from tests.models.adv_culture.test_adv_culture_task import stores  # noqa: F401 (fixture)

TINY = ["trainer.epochs=1", "trainer.batch_size=16", "model.params.generator_units=[8,4]",
        "model.params.emotion_units=[4]", "model.params.culture_units=[4]", "trainer.tensorboard=false"]


@pytest.fixture(scope="module")
def runs(stores, tmp_path_factory):
    from emozoo.train.trainer import run_experiment

    runs = tmp_path_factory.mktemp("runs")
    for mode in ("bsl", "adv"):
        name = f"adv_culture/cross/emodb_to_casia/is10/{mode}"
        cfg = apply_overrides(get_experiment(name), TINY + [f"data.stores.{c}={p}" for c, p in stores.items()])
        run_experiment(cfg, runs / name.replace("/", "_"), seeds=1, log=lambda *a: None)
    return runs


def test_load_trained_is_the_trained_model(runs):
    from emozoo.models.adv_culture.adv_culture_runs import load_trained

    model, fold, classes, cfg, folder = load_trained(runs / "adv_culture_cross_emodb_to_casia_is10_adv", 0)
    assert cfg.name == "adv_culture/cross/emodb_to_casia/is10/adv" and model.mode == "adv"
    prob = tf.nn.softmax(model({"features": fold.test.x.astype("float32"),
                                "culture": model.culture_index(fold.test.meta["corpus"])}), -1).numpy()
    np.testing.assert_allclose(prob, np.load(folder / "predictions.npz")["prob"], atol=1e-5)


def test_tsne_figure_reads_the_runs_and_trains_nothing(runs, tmp_path, monkeypatch):
    import pipelines.adv_culture_table as P
    from emozoo.train import trainer

    def boom(*a, **k):
        raise AssertionError("the figure retrained a model")
    monkeypatch.setattr(trainer, "train_fold", boom)
    monkeypatch.setattr(trainer, "run_experiment", boom)
    info = P.tsne_figure("emodb", "casia", tmp_path / "fig.png", runs, tmp_path, tmp_path / "proj", max_points=60)
    assert (tmp_path / "fig.png").stat().st_size > 1000
    assert info["epochs"] == 1 and set(info["runs"]) == {"bsl", "adv"}
    assert info["runs"]["adv"].endswith("seed_0/emodb_to_casia/best.weights.h5")
    for mode in ("bsl", "adv"):
        assert info[mode]["points"] == 60 and 0 <= info[mode]["culture_probe_accuracy"] <= 1
        assert (tmp_path / "proj" / mode).is_dir()
    json.dumps(info)


def test_a_missing_run_names_the_command(runs, tmp_path):
    import pipelines.adv_culture_table as P

    with pytest.raises(ExperimentError, match="python -m emozoo.train --experiment "
                                              "adv_culture/cross/casia_to_emodb/is10/bsl"):
        P.tsne_figure("casia", "emodb", tmp_path / "fig.png", runs, tmp_path, None)
    with pytest.raises(ExperimentError, match="--seeds 4"):
        P.tsne_figure("emodb", "casia", tmp_path / "fig.png", runs, tmp_path, None, seed=3)
