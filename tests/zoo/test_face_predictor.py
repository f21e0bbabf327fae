"""emozoo.load on the committed face model (dface_fer2013): faces in, emotion probabilities out."""
import numpy as np
import pytest

import emozoo
from emozoo.errors import SchemaError


@pytest.fixture(scope="module")
def dface():
    if "dface_fer2013" not in [m["name"] for m in emozoo.list_models()]:
        pytest.skip("dface_fer2013 is not in saved_models/registry.json")
    return emozoo.load("dface_fer2013")


def test_face_arrays(dface):
    rng = np.random.default_rng(0)
    faces = rng.uniform(0, 255, size=(3, 48, 48, 1)).astype(np.float32)
    p = dface.predict(faces)
    assert p.shape == (3, len(dface.labels)) and np.allclose(p.sum(1), 1, atol=1e-5)
    assert dface.predict(faces[0, :, :, 0]).shape == (1, 7)
    assert dface.embed(faces).shape == (3, 336)
    with pytest.raises(SchemaError, match="faces must be"):
        dface.predict(np.zeros((2, 64, 64, 1)))


@pytest.mark.data
def test_real_images(dface, data_dir):
    files = sorted((data_dir / "ckplus48" / "happy").glob("*.png"))[:5]
    assert dface.predict_labels([str(f) for f in files]).count("happy") >= 4
