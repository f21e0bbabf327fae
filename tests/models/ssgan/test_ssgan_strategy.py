"""The ssgan and face_cnn runners refuse a distribution strategy they do not honour (issue 17)."""
import pytest

from emozoo.errors import ExperimentError
from emozoo.experiments import get_experiment
from emozoo.models.face_cnn import face_cnn_experiments as FE
from emozoo.models.ssgan import ssgan_task as T


@pytest.mark.parametrize("runner,name", [(T.run_experiment, "ssgan/multimodal/frac20"),
                                         (FE.run_experiment, "face_cnn/culture/jaffe/cpu")])
def test_runner_refuses_a_strategy_it_does_not_honour(runner, name, tmp_path):
    for strategy in ("mirrored", "multi_worker"):
        with pytest.raises(ExperimentError, match="does not honour --strategy"):
            runner(get_experiment(name), tmp_path / "m", strategy=strategy, log=lambda *a: None)
    import tensorflow as tf
    two = type("TwoReplicas", (), {"num_replicas_in_sync": 2})()
    with pytest.raises(ExperimentError, match="does not honour --strategy TwoReplicas"):
        runner(get_experiment(name), tmp_path / "m", strategy=two, log=lambda *a: None)
    assert not (tmp_path / "m").exists()
    assert tf.distribute.get_strategy().num_replicas_in_sync == 1      # the default strategy object passes
