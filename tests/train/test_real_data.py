"""Real EmoDB: IS10 store of three speakers -> LOSO training with TensorBoard -> export to a zoo ->
``python -m emozoo.predict`` on a real EmoDB file. Marked ``data`` (reads EMOZOO_DATA_DIR)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from emozoo.experiments import apply_overrides, get_experiment
from tests.train.conftest import REPO

pytestmark = pytest.mark.data

SPEAKERS = ("03", "08", "09")


@pytest.fixture(scope="module")
def emodb_store(data_dir, tmp_path_factory):
    from emozoo.data.corpora import load_manifest
    from emozoo.extract import extract_corpus

    m = load_manifest("emodb", data_dir=data_dir).with_label_set("4class")
    kept: dict = {}

    def keep(r):  # at most 4 clips per speaker and class: a short extraction
        key = (r.speaker, r.emotion)
        kept[key] = kept.get(key, 0) + 1
        return r.speaker in SPEAKERS and kept[key] <= 4

    m = m.filter(keep)
    assert len({r.speaker for r in m}) == 3, sorted({r.speaker for r in m})
    out = tmp_path_factory.mktemp("emodb") / "emodb_is10"
    extract_corpus(m, ["is10"], out=out, label_set="4class", validate=False, progress=False)
    return out, m


@pytest.fixture(scope="module")
def trained(emodb_store, tmp_path_factory):
    from emozoo.train.trainer import run_experiment

    store, _ = emodb_store
    cfg = apply_overrides(get_experiment("baseline/emodb/is10/loso"),
                          [f'data.stores={json.dumps({"emodb": str(store)})}', "trainer.epochs=3", "data.folds=[0]",
                           "trainer.min_epochs=0"])
    out = tmp_path_factory.mktemp("run")
    summary = run_experiment(cfg, out, seeds=1, log=lambda *a: None)
    return out, summary


def test_loso_on_real_is10(trained):
    out, summary = trained
    assert summary["classes"] == ["neutral", "happy", "angry", "sad"]
    assert 0 <= summary["test"]["uar"]["mean"] <= 1
    fold = next((out / "seed_0").glob("loso_*"))
    result = json.loads((fold / "result.json").read_text())
    assert result["input_dim"] == 1582 and result["sizes"]["valid"] > 0
    assert (fold / "logs" / "projector" / "metadata.tsv").exists()
    assert list((fold / "logs" / "train").glob("events.out.tfevents.*"))


def test_export_and_predict_cli_on_real_file(trained, emodb_store, tmp_path):
    from emozoo.export.__main__ import export_run

    out, _ = trained
    _, manifest = emodb_store
    entry = export_run(out, "emodb_test_model", {"method": "baseline", "description": "test", "licence": "research"},
                       root=tmp_path)
    assert entry["selected"]["fold"].startswith("loso/emodb/")
    wav = next(r.path for r in manifest if r.emotion == "angry")
    cmd = [sys.executable, "-m", "emozoo.predict", "--model", "emodb_test_model", "--zoo-dir", str(tmp_path),
           "--json", wav]
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=180,
                         env={**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert res.returncode == 0, res.stderr
    line = json.loads(res.stdout.strip().splitlines()[-1])
    assert line["file"] == wav and line["prediction"] in ("neutral", "happy", "angry", "sad")
    assert sum(line["probabilities"].values()) == pytest.approx(1, abs=1e-3)


def test_committed_zoo_model_on_real_file(emodb_store):
    import emozoo

    _, manifest = emodb_store
    model = emozoo.load("baseline_emodb_is10")
    files = [r.path for r in manifest][:3]
    p = model.predict(files)
    assert p.shape == (3, 4) and np.allclose(p.sum(1), 1, atol=1e-4)
    assert model.labels == ("neutral", "happy", "angry", "sad")
    assert "non-commercial" in model.card["licence"]


def test_evaluate_zoo_model_on_a_store(trained, emodb_store, tmp_path):
    from emozoo.evaluate import evaluate_model
    from emozoo.export.__main__ import export_run

    out, _ = trained
    store, manifest = emodb_store
    export_run(out, "emodb_eval_model", {"method": "baseline"}, root=tmp_path / "zoo")
    rep = evaluate_model("emodb_eval_model", "emodb", store=str(store), out_dir=tmp_path / "eval",
                         zoo_root=tmp_path / "zoo")
    assert rep["num_examples"] == len(manifest)
    assert 0 <= rep["uar"] <= 1 and (tmp_path / "eval" / "report_confusion.png").exists()
