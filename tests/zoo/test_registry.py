"""The committed zoo (saved_models/registry.json): every model verifies, loads and has a full card;
a tampered copy is refused."""
import shutil

import numpy as np
import pytest

import emozoo
from emozoo.errors import IntegrityError
from emozoo.zoo import read_registry, zoo_dir

REQUIRED = ("name", "method", "description", "licence", "files", "path")


def _models():
    return sorted(read_registry()["models"])


def test_registry_is_not_empty():
    assert "baseline_emodb_is10" in _models()


@pytest.mark.parametrize("name", _models())
def test_committed_model_verifies_and_has_a_card(name):
    from emozoo.zoo import verify

    entry = read_registry()["models"][name]
    assert not [k for k in REQUIRED if k not in entry]
    assert entry["licence"]
    folder = verify(entry, zoo_dir())
    size = sum((folder / f).stat().st_size for f in entry["files"])
    assert size < 20 * 2 ** 20  # a zoo model is a few MB


def test_committed_baseline_loads_and_predicts():
    model = emozoo.load("baseline_emodb_is10")
    assert "non-commercial" in model.card["licence"] and model.card["metrics"]["num_seeds"] == 5
    p = model.predict(np.zeros((2, model.input_dim), np.float32))
    assert p.shape == (2, len(model.labels)) and np.allclose(p.sum(1), 1, atol=1e-5)


def test_tampered_copy_of_committed_model_is_refused(tmp_path):
    root = tmp_path / "zoo"
    shutil.copytree(zoo_dir(), root)
    entry = read_registry(root)["models"]["baseline_emodb_is10"]
    target = root / entry["path"] / "assets" / "labels.json"
    target.write_text(target.read_text().replace("angry", "happy", 1))
    with pytest.raises(IntegrityError, match="tampered"):
        emozoo.load("baseline_emodb_is10", root)
