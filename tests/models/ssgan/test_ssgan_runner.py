"""``python -m emozoo.train --experiment ssgan/...`` runs through the runner that
``emozoo.models.ssgan`` registers for model ``ssgan`` (fold k with seed k, models selected on
validation UAR, finished folds read back)."""
import json

import pytest

from emozoo.errors import SplitError
from emozoo.experiments import apply_overrides, get_experiment, get_runner
from emozoo.models.ssgan import ssgan_task as T
from tests.train.conftest import assert_rerun_reads_back, run_train


def test_runner_and_spec():
    assert get_runner("ssgan") is T.run_experiment
    cfg = apply_overrides(get_experiment("ssgan/multimodal/frac20"), ["model.params.run.steps=40"])
    spec = T.spec_of(cfg)
    assert spec.setting == "multimodal" and spec.fraction == 0.2 and spec.steps == 40
    assert spec.models == ("mfsbase", "mssgan")
    bad = apply_overrides(cfg, ["model.params.run.stepz=40"])
    with pytest.raises(SplitError, match="stepz"):
        T.spec_of(bad)


@pytest.mark.data
def test_multimodal_experiment_from_the_cli(data_dir, tmp_path):
    if not (data_dir / "ravdess_av_features").exists():
        pytest.skip("ravdess_av_features not in the data directory")
    args = ["--experiment", "ssgan/multimodal/frac10", "--seeds", "1", "--model-dir", str(tmp_path / "run"),
            "--override", "model.params.run.steps=20", "model.params.run.eval_every=10"]
    first = run_train(args, env_extra={"EMOZOO_DATA_DIR": str(data_dir)})
    assert first.returncode == 0, first.stdout + first.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["experiment"] == "ssgan/multimodal/frac10" and summary["folds"] == [0]
    assert set(summary["models"]) == {"mfsbase", "mssgan"}
    for m in ("mfsbase", "mssgan"):
        assert 0.0 <= summary["models"][m]["uar"]["mean"] <= 1.0
        assert (tmp_path / "run" / f"fold0_{m}.weights.h5").exists()
    fold0 = json.loads((tmp_path / "run" / "fold0.json").read_text())
    assert fold0["spec"]["steps"] == 20 and fold0["sizes"]["test"] > 0
    assert_rerun_reads_back(args, tmp_path / "run" / "fold0.json", key="models",
                            env_extra={"EMOZOO_DATA_DIR": str(data_dir)})
