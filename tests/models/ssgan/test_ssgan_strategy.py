"""The ssgan Task honours ``--strategy`` through the one trainer (issue 19, must-show 2): ``python
-m emozoo.train --experiment ssgan/... --strategy mirrored --cpu-devices 2`` gives the
per-evaluation losses and validation UAR of the default strategy (dropout 0; the same noise draws,
losses over the global batch, G's batch norm synchronized); a 2-worker ``multi_worker`` run on
localhost works and its second worker writes only under ``.workers/worker_1``; a folder trained
under another strategy is refused.

Generated fixtures (``conftest.py``): two tiny functionals stores; fold 0 only (``data.folds=[0]``),
each run takes seconds.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from emozoo.errors import ExperimentError
from tests.models.ssgan.conftest import NAME, OVERRIDES
from tests.train.conftest import run_two_workers

REPO = Path(__file__).resolve().parents[3]
ONE_FOLD = OVERRIDES + ["data.folds=[0]"]
LOSSES = ("loss", "discriminator_loss", "supervised_loss", "fake_loss", "real_loss", "consistency",
          "generator_loss")


def _cli(args, cwd, env_extra=None, wait=True):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO), "CUDA_VISIBLE_DEVICES": "-1",
           **(env_extra or {})}
    cmd = [sys.executable, "-m", "emozoo.train", "--experiment", NAME, "--seeds", "1", "--override", *ONE_FOLD,
           *args]
    if not wait:
        return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def _default_run(model_dir):
    from emozoo.experiments import apply_overrides, get_experiment
    from emozoo.train.trainer import run_experiment
    run_experiment(apply_overrides(get_experiment(NAME), ONE_FOLD), model_dir, seeds=1, log=lambda *a: None)


def test_mirrored_two_cpu_devices_matches_default(workdir):
    _default_run(workdir / "default")
    run = _cli(["--model-dir", str(workdir / "mirrored"), "--strategy", "mirrored", "--cpu-devices", "2"], workdir)
    assert run.returncode == 0, run.stdout + run.stderr
    summary = json.loads((workdir / "mirrored" / "summary.json").read_text())
    assert (summary["strategy"], summary["replicas"]) == ("MirroredStrategy", 2)
    assert json.loads((workdir / "default" / "summary.json").read_text())["replicas"] == 1
    a, b = (json.loads((workdir / d / "seed_0" / "fold0" / "result.json").read_text())["models"]
            for d in ("default", "mirrored"))
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
    fold = json.loads((workdir / "mw" / "seed_0" / "fold0" / "result.json").read_text())
    assert len(fold["models"]["ssgan"]["history"]) == 3
    worker = workdir / "mw" / ".workers" / "worker_1"
    # the second worker selects in its own folder (it continues from the selected weights too) and writes no
    # result.json (the chief's only) and no summary
    assert not (worker / "summary.json").exists() and not list(worker.rglob("result.json"))
    # the second worker trained the same models (variables in sync): the same validation UAR at every evaluation
    for m in ("fsbase", "ssbase", "ssgan"):
        sel = json.loads((worker / "seed_0" / "fold0" / m / "selection.json").read_text())
        assert [e["val_uar"] for e in sel["epochs"]] == [h["val_uar"] for h in fold["models"][m]["history"]], m
        assert (worker / "seed_0" / "fold0" / f"{m}.weights.h5").exists()
    top = {p.name for p in (workdir / "mw").iterdir()}
    assert top <= {"config.json", "run.json", "summary.json", "summary.md", "seed_0", ".workers"}, top


def test_a_folder_of_another_strategy_is_refused(workdir):
    import tensorflow as tf

    from emozoo.experiments import apply_overrides, get_experiment
    from emozoo.train.trainer import run_experiment
    cfg = apply_overrides(get_experiment(NAME), ONE_FOLD + ["model.params.run.steps=4"])
    run_experiment(cfg, workdir / "run", seeds=1, log=lambda *a: None)
    assert json.loads((workdir / "run" / "run.json").read_text()) == {"strategy": "_DefaultDistributionStrategy",
                                                                       "replicas": 1}
    one = tf.distribute.MirroredStrategy(devices=["/cpu:0"])
    with pytest.raises(ExperimentError, match="trained with _DefaultDistributionStrategy on 1 replica.*"
                                              "this command uses MirroredStrategy on 1: use another --model-dir"):
        run_experiment(cfg, workdir / "run", strategy=one, seeds=1, log=lambda *a: None)
    assert run_experiment(cfg, workdir / "run", seeds=1, log=lambda *a: None)["replicas"] == 1
