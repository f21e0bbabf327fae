"""FER2013's Kaggle CSV release, on a fixture written in its exact format."""
import numpy as np
import pytest

from emozoo.data.corpora.fer2013 import FER2013, csv_image
from emozoo.errors import CorpusLayoutError, LabelError


def _write_csv(root, rows):
    root.mkdir(parents=True, exist_ok=True)
    lines = ["emotion,pixels,Usage"] + [f"{e},{' '.join(map(str, px))},{u}" for e, px, u in rows]
    (root / "fer2013.csv").write_text("\n".join(lines) + "\n")


def test_csv_release(tmp_path):
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, 48 * 48) for _ in range(4)]
    _write_csv(tmp_path / "fer2013", [(0, imgs[0], "Training"), (3, imgs[1], "Training"),
                                      (6, imgs[2], "PublicTest"), (5, imgs[3], "PrivateTest")])
    m = FER2013(tmp_path / "fer2013").read()
    assert [r.emotion for r in m] == ["angry", "happy", "neutral", "surprise"]
    assert [r.split for r in m] == ["train", "train", "valid", "test"]
    img = csv_image(m[2].path)
    assert img.shape == (48, 48, 1) and img.dtype == np.uint8
    np.testing.assert_array_equal(img.reshape(-1), imgs[2])


def test_csv_bad_code_and_usage(tmp_path):
    _write_csv(tmp_path / "a", [(9, np.zeros(2304, int), "Training")])
    with pytest.raises(LabelError, match="code 0..6"):
        FER2013(tmp_path / "a").read()
    _write_csv(tmp_path / "b", [(1, np.zeros(2304, int), "Holdout")])
    with pytest.raises(CorpusLayoutError, match="Usage"):
        FER2013(tmp_path / "b").read()


def test_csv_image_bad_pixels(tmp_path):
    _write_csv(tmp_path / "c", [(1, np.zeros(100, int), "Training")])
    m = FER2013(tmp_path / "c").read()
    with pytest.raises(CorpusLayoutError, match="2304"):
        csv_image(m[0].path)
