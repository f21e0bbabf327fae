"""emozoo.explain (issue 9): saliency = d p_c / d image, guided copy, eye/mouth shares and test,
emotion modification under its budget and range, the CLI; real-data CLI run on JAFFE and CK+48."""
import json
from pathlib import Path

import numpy as np
import pytest

from emozoo.errors import SchemaError
from emozoo.explain.regions import compare_groups, eye_preference, region_masks, region_shares
from emozoo.explain.saliency import class_gradient, guided_saliency, modify_emotion, vanilla_saliency
from emozoo.models.face_cnn.face_cnn_model import build_face_cnn, guided_copy

CFG = dict(num_classes=3, filters=(4, 4, 8), kernel_size=3, dense_units=8, dropout=0.0)
LM = np.array([[16, 18], [32, 18], [24, 26], [18, 36], [30, 36]], np.float32)


@pytest.fixture(scope="module")
def model():
    import keras
    keras.utils.set_random_seed(3)
    return build_face_cnn(**CFG)


def _face(seed=0):
    return np.random.default_rng(seed).integers(30, 220, (48, 48, 1)).astype(np.float32)


def test_vanilla_saliency_is_the_class_probability_gradient(model):
    x = _face()
    s = vanilla_saliency(model, x, 1)[0]
    p = lambda img: float(model(img[None].astype(np.float32), training=False).numpy()[0, 1])  # noqa: E731
    for (i, j) in [(10, 10), (24, 30), (40, 5)]:
        h = 0.5
        up, dn = x.copy(), x.copy()
        up[i, j] += h
        dn[i, j] -= h
        assert s[i, j] == pytest.approx((p(up) - p(dn)) / (2 * h), rel=0.05, abs=1e-7)


def test_guided_saliency_differs_from_vanilla_and_checks_inputs(model):
    x = np.stack([_face(1), _face(2)])
    g = guided_saliency(guided_copy(model, CFG), x, [0, 2])
    v = vanilla_saliency(model, x, [0, 2])
    assert g.shape == v.shape == (2, 48, 48) and not np.allclose(g, v)
    with pytest.raises(SchemaError, match="0..2"):
        class_gradient(model, x, 3)
    with pytest.raises(SchemaError, match="0..255"):
        class_gradient(model, x * 2.0, 0)


def test_region_masks_and_shares():
    m = region_masks(LM)
    assert m["eyes"][18, 16] and m["eyes"][18, 32] and m["mouth"][36, 24] and not m["eyes"][36, 24]
    assert not (m["eyes"] & m["mouth"]).any()
    assert region_masks(np.full((5, 2), np.nan)) is None
    s = np.zeros((3, 48, 48))
    s[0][m["eyes"]] = 1.0
    s[1][m["mouth"]] = -2.0
    s[2, 0, 0] = 1.0                               # outside both regions
    sh = region_shares(s, np.stack([LM, LM, LM]))
    np.testing.assert_allclose(sh, [[1, 0], [0, 1], [0, 0]])
    np.testing.assert_allclose(eye_preference(sh)[:2], [1.0, 0.0])
    with pytest.raises(SchemaError):
        region_shares(s, LM)


def test_compare_groups_mann_whitney():
    rng = np.random.default_rng(0)
    far = compare_groups(rng.normal(0.6, 0.05, 40), rng.normal(0.3, 0.05, 40))
    assert far["p"] < 1e-6 and far["r"] > 0.9 and far["median_a"] > far["median_b"]
    same = compare_groups(np.arange(20.0), np.arange(20.0) + 0.5)
    assert same["p"] > 0.5
    assert compare_groups([1.0], [2.0, np.nan])["p"] is None


def test_modification_raises_target_within_budget_and_range(model):
    x = _face(4)
    p0 = model(x[None], training=False).numpy()[0]
    target = int(p0.argmin())
    res = modify_emotion(model, x, target, steps=25, step_size=4.0, max_change=30.0, stop_probability=None,
                         record_every=5)
    assert res["steps_run"] == 25 and len(res["probabilities"]) == 26
    assert res["probabilities"][-1, target] > p0[target] + 0.05
    assert res["image"].min() >= 0 and res["image"].max() <= 255
    assert np.abs(res["image"] - x).max() <= 30.0 + 1e-4
    assert [f[0] for f in res["frames"]] == [0, 5, 10, 15, 20, 25]
    early = modify_emotion(model, x, int(p0.argmax()), steps=50, stop_probability=float(p0.max()) - 1e-3)
    assert early["steps_run"] == 0
    with pytest.raises(SchemaError):
        modify_emotion(model, np.stack([x, x]), 0)


def _publish_tiny(root):
    from emozoo.models.face_cnn.face_cnn_export import export_face_cnn
    from emozoo.zoo import publish

    import keras
    keras.utils.set_random_seed(5)
    m = build_face_cnn(**CFG)
    publish("face_cnn_tiny", lambda d: export_face_cnn(m, CFG, ["angry", "happy", "sad"], d),
            {"method": "face_cnn", "description": "test"}, root)


def test_cli_writes_pngs_and_rejects_bad_input(tmp_path, capsys):
    from PIL import Image

    from emozoo.explain.__main__ import main

    _publish_tiny(tmp_path / "zoo")
    img = tmp_path / "face.png"
    Image.fromarray(_face(7)[:, :, 0].astype(np.uint8)).save(img)
    rc = main([str(img), "--model", "face_cnn_tiny", "--root", str(tmp_path / "zoo"), "--method", "both",
               "--modify", "predicted", "sad", "--steps", "6", "--out", str(tmp_path / "out")])
    assert rc == 0
    out = tmp_path / "out"
    names = sorted(p.name for p in out.iterdir())
    assert "face_saliency_both.png" in names and "face_modify_sad.png" in names and "face_explain.json" in names
    summary = json.loads((out / "face_explain.json").read_text())
    assert sum(summary["probabilities"]) == pytest.approx(1.0, abs=1e-5)
    assert {m["kind"] for m in summary["modifications"]} <= {"intensification", "conversion"}
    assert (out / "face_saliency_both.png").stat().st_size > 5000
    capsys.readouterr()
    assert main([str(img), "--model", "face_cnn_tiny", "--root", str(tmp_path / "zoo"), "--target", "joy",
                 "--out", str(out)]) == 2
    assert "joy" in capsys.readouterr().err
    assert main([str(tmp_path / "nope.png"), "--model", "face_cnn_tiny", "--root", str(tmp_path / "zoo"),
                 "--out", str(out)]) == 2
    assert main([str(img), "--model", "face_cnn_missing", "--root", str(tmp_path / "zoo"), "--out", str(out)]) == 2


ZOO = Path(__file__).resolve().parents[2] / "saved_models"


@pytest.mark.data
@pytest.mark.parametrize("model_name,folder,pattern", [("face_cnn_jaffe", "jaffe", "UY.HA*.tiff"),
                                                       ("face_cnn_ckplus", "ckplus48", "happy/*.png")])
def test_cli_on_real_jaffe_and_ckplus_faces(data_dir, tmp_path, model_name, folder, pattern):
    from emozoo.explain.__main__ import explain
    from emozoo.zoo import read_registry

    if model_name not in read_registry(ZOO)["models"]:
        pytest.skip(f"{model_name} is not published in {ZOO}")
    files = sorted((data_dir / folder).glob(pattern))
    if not files:
        pytest.skip(f"no {pattern} under {data_dir / folder}")
    s = explain(model_name, files[0], tmp_path, method="guided", modify=["predicted", "sad"], steps=20)
    assert len(s["files"]) == 3 and all(Path(f).stat().st_size > 5000 for f in s["files"])
    assert s["face_source"] in ("detected", "full") and s["predicted"] in s["classes"]
    assert sum(s["probabilities"]) == pytest.approx(1.0, abs=1e-4)
    for m in s["modifications"]:            # gradient ascent raises the target's probability
        assert m["p_target_end"] >= m["p_target_start"] and m["max_pixel_change"] <= 2.0 * 20 + 1e-3
    if folder == "jaffe":                   # MTCNN landmarks on the portrait: eye / mouth shares
        assert 0 < s["region_shares"]["guided"]["eyes"] < 1 and 0 < s["region_shares"]["guided"]["mouth"] < 1
