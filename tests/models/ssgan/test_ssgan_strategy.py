"""The ssgan runner honours ``--strategy`` (issue 19, must-show 2): ``python -m emozoo.train
--experiment ssgan/... --strategy mirrored --cpu-devices 2`` gives the per-evaluation losses and
validation UAR of the default strategy (dropout 0; the same noise draws, losses over the global
batch, G's batch norm synchronized); a 2-worker ``multi_worker`` run on localhost works and its
second worker writes only under ``.workers/worker_1``; a folder trained under another strategy is
refused.

Generated fixtures: two tiny functionals stores (``tfrecords/<corpus>_egemaps`` under the test's
working folder, where the runner looks for them); each run takes seconds.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from emozoo.errors import ExperimentError
from tests.helpers import write_feature_store
from tests.train.conftest import run_two_workers

REPO = Path(__file__).resolve().parents[3]
NAME = "ssgan/functionals/frac20"
MODEL = {"dense": {"d_units": [16], "g_units": [16]}, "noise_dim": 8, "dropout": 0.0, "learning_rate": 0.005}
OVERRIDES = ["model.params.run.labelled_corpus=synla", 'model.params.run.unlabelled_corpora=["synlb"]',
             "model.params.run.folds=3", "model.params.run.fraction=0.5", "model.params.run.steps=12",
             "model.params.run.eval_every=4", "model.params.run.ssbase_steps=4", "model.params.run.ssbase_threshold=0.3",
             "model.params.run.batch=8", "model.params.run.unlabelled_batch=8",
             'model.params.run.models=["fsbase","ssbase","ssgan"]', f"model.params.run.model={json.dumps(MODEL)}"]
LOSSES = ("loss", "discriminator_loss", "supervised_loss", "fake_loss", "real_loss", "consistency",
          "generator_loss")


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A working folder with the two stores the functionals setting reads (``tfrecords/...``)."""
    for name, seed in (("synla", 0), ("synlb", 1)):
        write_feature_store(tmp_path / "tfrecords" / f"{name}_egemaps", corpus=name, speakers=6, per_class=4, dim=12,
                            feature="egemaps", seed=seed)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _cli(args, cwd, env_extra=None, wait=True):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO), "CUDA_VISIBLE_DEVICES": "-1",
           **(env_extra or {})}
    cmd = [sys.executable, "-m", "emozoo.train", "--experiment", NAME, "--seeds", "1", "--override", *OVERRIDES,
           *args]
    if not wait:
        return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def _default_run(model_dir):
    from emozoo.experiments import apply_overrides, get_experiment
    from emozoo.train.trainer import run_experiment
    run_experiment(apply_overrides(get_experiment(NAME), OVERRIDES), model_dir, seeds=1, log=lambda *a: None)


def test_mirrored_two_cpu_devices_matches_default(workdir):
    _default_run(workdir / "default")
    run = _cli(["--model-dir", str(workdir / "mirrored"), "--strategy", "mirrored", "--cpu-devices", "2"], workdir)
    assert run.returncode == 0, run.stdout + run.stderr
    summary = json.loads((workdir / "mirrored" / "summary.json").read_text())
    assert (summary["strategy"], summary["replicas"]) == ("MirroredStrategy", 2)
    assert json.loads((workdir / "default" / "summary.json").read_text())["replicas"] == 1
    a, b = (json.loads((workdir / d / "fold0.json").read_text())["models"] for d in ("default", "mirrored"))
    assert a["ssbase"]["pseudo_labelled"] == b["ssbase"]["pseudo_labelled"] > 0
    for model in ("fsbase", "ssbase", "ssgan"):
        ha, hb = a[model]["history"], b[model]["history"]
        assert len(ha) == len(hb) == (3 if model != "ssbase" else 1), (model, ha, hb)
        for ea, eb in zip(ha, hb):
            assert set(ea) == set(eb) and ea["step"] == eb["step"]
            assert eb["val_uar"] == pytest.approx(ea["val_uar"], abs=1e-6), (model, ea, eb)
            for key in set(LOSSES) & set(ea):
                assert eb[key] == pytest.approx(ea[key], rel=2e-3, abs=2e-4), (model, key, ea, eb)
        assert b[model]["test"]["uar"] == pytest.approx(a[model]["test"]["uar"], abs=1e-6)
    assert set(a["ssgan"]["history"][0]) >= {"fake_loss", "real_loss", "generator_loss"}


STEP_SCRIPT = """
import json, sys
import numpy as np, tensorflow as tf, keras
from emozoo.train.strategies import make_strategy, set_cpu_devices
set_cpu_devices(2)
from emozoo.models.ssgan.ssgan_model import SemiSupervisedGAN

rng = np.random.default_rng(0)
SPECS = {"dense": {"name": "f", "shape": (6,), "d_units": (16,), "g_units": (16,)},
         "conv": {"name": "f", "shape": (8, 8), "d_channels": (4, 8), "g_channels": (8, 4)}}


def train(strategy, mode, variant):
    spec = SPECS[variant]
    batch = {"x": rng.normal(size=(8, *spec["shape"])).astype("float32"), "y": np.arange(8) % 3,
             "u": rng.normal(size=(10, *spec["shape"])).astype("float32")}
    keras.utils.set_random_seed(4)
    with strategy.scope():
        m = SemiSupervisedGAN(3, [spec], mode=mode, noise_dim=5, dropout=0.0)
        # SGD: unlike Adam, its update scales with the gradient, so a loss scaled wrongly shows
        m.compile(d_optimizer=keras.optimizers.SGD(0.2), g_optimizer=keras.optimizers.SGD(0.2))
    init = [w.copy() for w in m.get_weights()]
    ds = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors(batch).repeat(3))
    step = tf.function(lambda b: strategy.run(m.train_step, args=(b,)))
    logs = [{k: float(strategy.experimental_local_results(v)[0]) for k, v in step(b).items()} for b in ds]
    moved = max(float(np.abs(a - b).max()) for a, b in zip(init, m.get_weights()))
    return [w.copy() for w in m.get_weights()], logs, moved


out = {}
for mode in ("ssgan", "fsbase", "ssgan_conv"):
    args = (mode.split("_")[0], "conv" if mode.endswith("conv") else "dense")
    rng = np.random.default_rng(0)
    (wa, la, moved) = train(tf.distribute.get_strategy(), *args)
    rng = np.random.default_rng(0)
    (wb, lb, _) = train(make_strategy("mirrored"), *args)
    out[mode] = {"weights": max(float(np.abs(a - b).max()) for a, b in zip(wa, wb)), "moved": moved,
                 "logs": max(abs(la[i][k] - lb[i][k]) / max(abs(la[i][k]), 1e-3) for i in range(3) for k in la[i])}
print("RESULT " + json.dumps(out))
"""


def test_mirrored_train_step_equals_the_single_device_step_with_sgd(tmp_path):
    """Three train_steps on two replicas (4 + 4 labelled, 5 + 5 unlabelled rows) give the
    single-device weights and logs: with SGD the update is proportional to the gradient, so every
    term's global-batch scaling (D's four terms, feature matching's 1/R, FSBase's loss), the
    synchronized batch norm of G (dense and conv) and the split noise draw are checked."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO), "CUDA_VISIBLE_DEVICES": "-1"}
    run = subprocess.run([sys.executable, "-c", STEP_SCRIPT], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    out = json.loads(next(line for line in run.stdout.splitlines() if line.startswith("RESULT "))[7:])
    for mode in ("ssgan", "fsbase", "ssgan_conv"):
        assert out[mode]["moved"] > 1e-2 and out[mode]["weights"] < 1e-5 and out[mode]["logs"] < 1e-5, (mode, out)


def test_multi_worker_two_processes_on_localhost(workdir):
    run_two_workers(lambda env: _cli(["--model-dir", str(workdir / "mw"), "--strategy", "multi_worker"], workdir,
                                     wait=False, env_extra=env), timeout=300)
    summary = json.loads((workdir / "mw" / "summary.json").read_text())
    assert summary["replicas"] == 2 and "MultiWorker" in summary["strategy"] or "Collective" in summary["strategy"]
    assert set(summary["models"]) == {"fsbase", "ssbase", "ssgan"}
    fold = json.loads((workdir / "mw" / "fold0.json").read_text())
    assert len(fold["models"]["ssgan"]["history"]) == 3
    worker = workdir / "mw" / ".workers" / "worker_1"
    assert (worker / "fold0.json").exists() and not (worker / "summary.json").exists()
    # the second worker trained the same models (variables in sync): the same selection and test scores
    assert json.loads((worker / "fold0.json").read_text())["models"]["ssgan"]["test"] == fold["models"]["ssgan"]["test"]
    top = {p.name for p in (workdir / "mw").iterdir()}
    assert top <= {"config.json", "run.json", "summary.json", "summary.md", "fold0.json", ".workers"} | {
        f"fold0_{m}.weights.h5" for m in ("fsbase", "ssbase", "ssgan")}, top


def test_a_folder_of_another_strategy_is_refused(workdir):
    import tensorflow as tf

    from emozoo.experiments import apply_overrides, get_experiment
    from emozoo.models.ssgan import ssgan_task as T
    cfg = apply_overrides(get_experiment(NAME), OVERRIDES + ["model.params.run.steps=4"])
    T.run_experiment(cfg, workdir / "run", seeds=1, log=lambda *a: None)
    assert json.loads((workdir / "run" / "run.json").read_text()) == {"strategy": "_DefaultDistributionStrategy",
                                                                       "replicas": 1}
    one = tf.distribute.MirroredStrategy(devices=["/cpu:0"])
    with pytest.raises(ExperimentError, match="trained with _DefaultDistributionStrategy on 1 replica.*"
                                              "this command uses MirroredStrategy on 1: use another --model-dir"):
        T.run_experiment(cfg, workdir / "run", strategy=one, seeds=1, log=lambda *a: None)
    # a folder of an older emozoo (no run.json) was trained on the default strategy: read back, others refused
    (workdir / "run" / "run.json").unlink()
    with pytest.raises(ExperimentError, match="trained with _DefaultDistributionStrategy"):
        T.run_experiment(cfg, workdir / "run", strategy=one, seeds=1, log=lambda *a: None)
    assert T.run_experiment(cfg, workdir / "run", seeds=1, log=lambda *a: None)["replicas"] == 1
