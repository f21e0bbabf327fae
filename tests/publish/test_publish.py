"""``python -m emozoo.publish PRESET`` (issue 19): presets as data, every recipe resolvable, clear
refusals, one real publish into a temporary zoo, and no ``pipelines/publish_*.py`` left anywhere."""
from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from emozoo.errors import EmozooError, PresetError
from emozoo.publish import COMMON, OPTIONS, REPO, command_line, get_recipe, publish_preset, recipes, resolve
from emozoo.publish.__main__ import main
from emozoo.zoo import read_registry

#: the zoo models the twelve pipelines/publish_*.py scripts published; each is now a preset with a recipe
PUBLISHED_BY_SCRIPTS = {"adv_culture_face", "adv_culture_speech", "dann_iemocap", "dann_meld", "dann_speech",
                        "emodal_ravdess_av", "emotion_face", "emotion_speech", "emotion_text", "face_cnn_ckplus",
                        "face_cnn_fer2013", "face_cnn_jaffe", "ssgan_face", "ssgan_speech"}
SAMPLE = {int: 1, str: "x", bool: True}


def _run(args, **kw):
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("EMOZOO_ZOO_DIR", None)
    return subprocess.run([sys.executable, "-m", "emozoo.publish", *args], capture_output=True, text=True, env=env,
                          **kw)


def test_list_names_every_preset_with_a_recipe(capsys):
    assert main(["--list"]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln and not ln.startswith("#")]
    table = recipes()
    assert set(table) == PUBLISHED_BY_SCRIPTS
    assert [ln.split()[0] for ln in lines] == sorted(table)          # one line per preset, sorted
    for ln in lines:
        r = table[ln.split()[0]]
        assert ln.split()[1] == r.method
        assert r.summary() in ln and f"trains: {r.experiment}" in ln
        assert r.summary() and "\n" not in r.summary()


def test_every_registered_zoo_model_has_a_recipe_or_names_its_own_publisher():
    table = recipes()
    for name, entry in read_registry(REPO / "saved_models")["models"].items():
        if name in table:
            continue
        how = entry.get("export_command") or entry.get("train_command") or ""
        assert how and "emozoo.publish" not in how, (name, how)


@pytest.mark.parametrize("name", sorted(PUBLISHED_BY_SCRIPTS))
def test_recipe_resolves_to_a_callable_taking_its_arguments(name):
    r = get_recipe(name)
    fn = resolve(r)
    assert callable(fn)
    sig = inspect.signature(fn)
    assert not any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    # the recipe's fixed kwargs, every option it declares and the common arguments bind
    sig.bind(**r.kwargs, **{o: SAMPLE[OPTIONS[o][0]] for o in r.options}, **{c: None for c in COMMON})
    assert set(r.options) <= set(OPTIONS)
    # the card names this command (train_command, or export_command for the export-only face CNN recipes)
    assert f"python -m emozoo.publish {name}" in (r.card.get("train_command", "") + r.card.get("export_command", ""))


def test_unknown_preset_is_one_line_naming_list_and_close_matches():
    res = _run(["dann_speach"], timeout=120)
    assert res.returncode == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert "--list" in lines[0] and "dann_speech" in lines[0] and "'dann_speach'" in lines[0]
    with pytest.raises(PresetError) as err:
        get_recipe("emotion_speeh")
    assert isinstance(err.value, EmozooError) and "emotion_speech" in str(err.value)
    with pytest.raises(PresetError, match="no publish recipe"):   # a card whose publisher is another command
        get_recipe("baseline_emodb_is10")


def test_option_the_recipe_does_not_take_is_refused(capsys):
    assert main(["dann_speech", "--epochs", "3"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "'dann_speech' does not take --epochs" in err and "--seed" in err
    assert main(["ssgan_face", "--seed", "1"]) == 2          # a recipe without options takes none
    assert "does not take --seed" in capsys.readouterr().err
    # one bad name among several: refused before anything is published
    assert main(["dann_speech", "dann_meld", "--from-run"]) == 2
    assert "does not take --from-run" in capsys.readouterr().err
    with pytest.raises(PresetError, match="does not take --runs"):
        publish_preset("emotion_speech", runs="runs/x")
    with pytest.raises(PresetError, match="must be int"):
        publish_preset("dann_speech", seed="1")


def test_command_line_records_the_given_options_only():
    assert command_line("dann_iemocap", {}) == "python -m emozoo.publish dann_iemocap"
    assert command_line("dann_iemocap", {"epochs": 5, "from_run": True, "seed": 2}) == \
        "python -m emozoo.publish dann_iemocap --seed 2 --epochs 5 --from-run"


def test_a_broken_recipe_target_is_a_clear_error(monkeypatch):
    from emozoo.models.dann import dann_presets

    monkeypatch.setitem(dann_presets.RECIPES, "dann_speech",
                        {**dann_presets.RECIPES["dann_speech"], "target": "emozoo.models.dann.dann_zoo:publish_speach"})
    with pytest.raises(PresetError, match="cannot be loaded"):
        resolve(get_recipe("dann_speech"))
    monkeypatch.setitem(dann_presets.RECIPES, "dann_speech",
                        {**dann_presets.RECIPES["dann_speech"], "target": "emozoo.models.dann.dann_zoo:publish_meld",
                         "options": ("seed",), "kwargs": {"corpus": "x"}})
    with pytest.raises(PresetError, match=r"no parameter\(s\) \['corpus'\]"):
        resolve(get_recipe("dann_speech"))
    monkeypatch.setitem(dann_presets.RECIPES, "dann_speech",
                        {**dann_presets.RECIPES["dann_speech"], "options": ("lr",)})
    with pytest.raises(PresetError, match="does not have"):
        get_recipe("dann_speech")


def test_no_publish_script_remains_and_nothing_names_one():
    assert not list((REPO / "pipelines").glob("publish_*.py"))
    pattern = re.compile(r"publish_[a-z0-9_{},]+\.py")
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                           text=True, check=True).stdout.split()
    hits = []
    for rel in files:
        p = REPO / rel
        if not p.is_file() or p.suffix in (".pb", ".h5", ".png", ".bin", ".npz", ".tfrecord") or "variables" in p.parts:
            continue
        try:
            text = p.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        hits += [f"{rel}: {m.group()}" for m in pattern.finditer(text)]
    assert not hits, hits


# --------------------------------------------------------------------------- one real publish
def _tree(root: Path, skip: Path | None = None) -> dict:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and (skip is None or skip not in p.parents) and "__pycache__" not in p.parts:
            out[p.relative_to(root).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _fixture_repo(root: Path) -> dict:
    """Three tiny IS10-contract stores (16-dim) and the LOSO result files the dann_speech card reads."""
    from tests.helpers import write_feature_store

    counts = {}
    for i, c in enumerate(("emodb", "casia", "ravdess")):
        write_feature_store(root / "tfrecords" / f"{c}_is10", corpus=c, culture=c, speakers=3, per_class=4, dim=16,
                            seed=i, unlabelled=0)
        counts[c] = 3 * 4 * 4
    res = root / "benchmarks" / "results"
    res.mkdir(parents=True)
    for c in counts:
        for v in ("ci", "dann"):
            cell = {m: {"mean": 0.5, "std": 0.01} for m in ("accuracy", "uar", "macro_f1")}
            (res / f"dann_speech_{c}_{v}.json").write_text(json.dumps({
                "test": {**cell, "num_runs": 3}, "folds": ["f0", "f1", "f2"],
                "experiment": f"dann/speech/{c}/is10/{v}"}))
    return counts


def test_publish_dann_speech_end_to_end_writes_only_the_given_zoo(tmp_path):
    """The cheapest recipe (dann_speech: 40 epochs of a dense network, no backbone) on a generated
    fixture through the real command line: the model lands in --zoo-dir, loads, predicts, carries the
    command, and nothing else changes (fixture folder, the checkout's saved_models/)."""
    import numpy as np

    import emozoo

    repo, zoo = tmp_path / "repo", tmp_path / "zoo"
    counts = _fixture_repo(repo)
    before, real_zoo = _tree(tmp_path), _tree(REPO / "saved_models")
    res = _run(["dann_speech", "--repo", str(repo), "--zoo-dir", str(zoo)], cwd=tmp_path, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "published dann_speech" in res.stdout
    after = _tree(tmp_path, skip=zoo)
    assert after == before                                   # nothing written outside the zoo folder
    assert _tree(REPO / "saved_models") == real_zoo          # the checkout's zoo is untouched
    entry = read_registry(zoo)["models"]["dann_speech"]
    assert set(os.listdir(zoo)) <= {"registry.json", "dann_speech", ".registry.lock"}
    assert entry["command"] == "python -m emozoo.publish dann_speech"
    assert entry["training"]["clips"] == counts and entry["training"]["speaker_domains"] == 9
    model = emozoo.load("dann_speech", root=zoo)
    p = model.predict(np.random.default_rng(0).normal(5, 1, (3, 16)).astype("float32"))
    assert p.shape == (3, 4)
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)
