"""Every "store missing" error names the one command that builds that store, and that command works.

Each test asks an experiment (or the EmoBox evaluation) for a store that is not there, takes the
command from the error, runs it on fixture corpora (``EMOZOO_DATA_DIR`` pointing at synthesised
files in the corpus layout), and loads the store it wrote.
"""
import os
import shlex
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from emozoo.experiments import apply_overrides, get_experiment
from emozoo.train.data import StoreMissing, load_table, make_folds
from tests.train.conftest import REPO


def _run_suggestion(command, cwd, data_dir, extra=()):
    argv = shlex.split(command)
    assert argv[0] == "python", command
    env = {**os.environ, "EMOZOO_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, *argv[1:], *extra], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _emodb_fixture(root):
    # official EmoDB names: speaker 03/08, sentence a01/a02, emotions W (angry) N (neutral) F (happy) T (sad)
    rng = np.random.default_rng(0)
    for spk in ("03", "08"):
        for sent in ("a01", "a02"):
            for emo in "WNFT":
                t = np.arange(16000) / 16000
                x = 0.2 * np.sin(2 * np.pi * (120 + 40 * "WNFT".index(emo)) * t) + 0.01 * rng.normal(size=t.size)
                path = root / "emodb" / "wav" / f"{spk}{sent}{emo}a.wav"
                path.parent.mkdir(parents=True, exist_ok=True)
                sf.write(path, x.astype(np.float32), 16000)


def test_missing_is10_store_names_the_extract_command_and_it_builds_the_store(tmp_path):
    _emodb_fixture(tmp_path / "data")
    cfg = get_experiment("baseline/emodb/is10/loso")
    with pytest.raises(StoreMissing) as err:
        make_folds(cfg.data, root=tmp_path / "work")
    cmd = err.value.command
    assert cmd == "python -m emozoo.extract --corpus emodb --features is10 --label-set 4class --out " + str(
        tmp_path / "work" / "tfrecords" / "emodb_is10")
    assert str(err.value).count("python ") == 1
    _run_suggestion(cmd, tmp_path, tmp_path / "data")
    table = load_table(tmp_path / "work" / "tfrecords" / "emodb_is10", "is10", "4class")
    assert len(table) == 16 and table.x.shape[1] == 1582


def test_missing_emodal_store_names_its_pipeline_and_it_builds_the_store(tmp_path):
    # was: `python -m emozoo.extract --features mfcc_au`, a feature the extractor does not have
    n, rng = 48, np.random.default_rng(0)
    codes = np.tile(np.arange(1, 9), n // 8)
    actors = np.repeat(np.arange(1, 7), n // 6)
    clip = np.asarray([f"01-01-{c:02d}-01-01-01-{a:02d}" for c, a in zip(codes, actors)])
    folder = tmp_path / "data" / "ravdess_av_features"
    folder.mkdir(parents=True)
    np.savez(folder / "au_mfcc_features.npz", clip_id=clip, X_visual_au=rng.normal(size=(n, 35)),
             X_audio_mfcc=rng.normal(size=(n, 259)), emotion_code=codes, intensity=np.ones(n, int),
             statement=np.ones(n, int), repetition=np.ones(n, int), actor=actors)
    cfg = get_experiment("emodal/ravdess_av/4class/both")
    with pytest.raises(StoreMissing) as err:
        make_folds(cfg.data, root=tmp_path / "work")
    assert err.value.command == "python pipelines/emodal_build_stores.py"
    _run_suggestion(err.value.command, REPO, tmp_path / "data", extra=("--root", str(tmp_path / "work")))
    table = load_table(tmp_path / "work" / "tfrecords" / "ravdess_av_emodal_4class", "mfcc_au", "4class")
    assert table.x.shape == (24, 294)


@pytest.mark.data
def test_emobox_evaluation_names_one_command(data_dir, tmp_path):
    """Was two contradictory commands: the generic extract line, then "the EmoBox store is built by" another."""
    from emozoo.evaluate.emobox import STORE_COMMAND, run_protocol

    cfg = get_experiment("emobox/emodb/is10/paper")
    with pytest.raises(StoreMissing) as err:
        run_protocol(cfg, "emodb", tmp_path / "run", store=str(tmp_path / "missing"), data_dir=data_dir,
                     log=lambda *a: None)
    assert str(err.value).count("python ") == 1
    assert err.value.command == STORE_COMMAND.format(corpus="emodb", label_set="emodb7")
