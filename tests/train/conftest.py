import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import write_feature_store

REPO = Path(__file__).resolve().parents[2]

TINY = ["model.params.generator_units=[16,8]", "model.params.classifier_units=[8]",
        "optimizer.learning_rate=0.01", "trainer.batch_size=8", "trainer.min_epochs=0"]


@pytest.fixture(scope="session")
def synth_store(tmp_path_factory):
    return write_feature_store(tmp_path_factory.mktemp("store") / "synth_is10", speakers=4, per_class=6, dim=16)


def tiny_overrides(store, *extra):
    return TINY + [f'data.stores={json.dumps({"emodb": str(store)})}', *extra]


def run_train(args, env_extra=None, timeout=240, wait=True):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(REPO),
           "CUDA_VISIBLE_DEVICES": "-1", **(env_extra or {})}
    cmd = [sys.executable, "-m", "emozoo.train", *args]
    if not wait:
        return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)


def assert_rerun_reads_back(args, record, key="test", env_extra=None):
    """Re-running ``python -m emozoo.train *args`` must read the finished ``record`` (a fold/seed
    JSON under the run's ``--model-dir``) back, not retrain it, and write the same summary ``key``."""
    from pathlib import Path
    record = Path(record)
    summary = Path(args[args.index("--model-dir") + 1]) / "summary.json"
    mtime, before = record.stat().st_mtime, json.loads(summary.read_text())[key]
    again = run_train(args, env_extra=env_extra)
    assert again.returncode == 0, again.stdout + again.stderr
    assert record.stat().st_mtime == mtime
    assert json.loads(summary.read_text())[key] == before


def free_ports(n: int) -> list[int]:
    """``n`` distinct free TCP ports on localhost (the sockets are held until all are bound)."""
    import socket

    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("localhost", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def run_two_workers(launch, timeout: int = 240) -> list[str]:
    """Start a 2-worker ``--strategy multi_worker`` run on localhost and wait for both workers.

    ``launch(env_extra)`` starts one worker without waiting (e.g. ``lambda env: run_train(args,
    env_extra=env, wait=False)``); each gets its ``TF_CONFIG`` (same cluster, its own index). A worker
    left running when the other fails or the timeout passes is killed. Asserts that both exited 0
    and returns their outputs."""
    cluster = {"worker": [f"localhost:{p}" for p in free_ports(2)]}
    procs = [launch({"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})})
             for i in range(2)]
    outs = []
    try:
        for p in procs:
            outs.append(p.communicate(timeout=timeout)[0])
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [p.returncode for p in procs] == [0, 0], "\n".join(o or "" for o in outs)
    return outs
