"""The committed face_cnn zoo models: checksums, cards, and predictions on real files (issue 9)."""
from pathlib import Path

import numpy as np
import pytest

ZOO = Path(__file__).resolve().parents[3] / "saved_models"
NAMES = ("face_cnn_fer2013", "face_cnn_jaffe", "face_cnn_ckplus")


@pytest.mark.parametrize("name", NAMES)
def test_committed_model_card_and_size(name):
    from emozoo.zoo import read_registry, verify

    entry = read_registry(ZOO)["models"][name]
    folder = verify(entry, ZOO)                       # every sha256, no extra file
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert size < 10e6
    assert entry["method"] == "face_cnn" and "train_command" in entry and entry["metrics"]
    assert {"assets/face_cnn.weights.h5", "assets/face_cnn_config.json"} <= set(entry["files"])


@pytest.mark.data
@pytest.mark.parametrize("name,folder,pattern", [("face_cnn_jaffe", "jaffe", "UY.HA*.tiff"),
                                                 ("face_cnn_ckplus", "ckplus48", "happy/*.png"),
                                                 ("face_cnn_fer2013", "fer2013", "test/happy/*.jpg")])
def test_predicts_real_faces(data_dir, name, folder, pattern):
    import emozoo

    files = sorted((data_dir / folder).glob(pattern))[:6]
    if not files:
        pytest.skip(f"no {pattern} in {data_dir / folder}")
    model = emozoo.load(name, ZOO)
    probs = model.predict([str(f) for f in files])
    assert probs.shape == (len(files), len(model.labels))
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-4)
    # happy faces (JAFFE: poser UY, held out by split 0) are mostly called happy
    assert (np.asarray(model.predict_labels([str(f) for f in files])) == "happy").mean() >= 0.5
