"""emotion_face: the head, the LOCO mechanics, the published model, adaptation, refusals, weights.

Tests that run the face MobileNet skip with the install command when its weights are missing
(CI installs them); tests on real faces carry ``@pytest.mark.data``.
"""
import json
from pathlib import Path

import numpy as np
import pytest

from emozoo.errors import EmozooError, InputRefused, WeightsError
from tests.models._flagship import files_or_skip, load_or_skip, weights_or_skip

REPO = Path(__file__).resolve().parents[3]
ZOO = REPO / "saved_models"
FER7 = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


@pytest.fixture(scope="module")
def model():
    m = load_or_skip("emotion_face", "face_mobilenet")
    yield m
    m.reset()
    m.no_face, m.crop = "skip", "mtcnn"


def _textures(n, size=96, seed=0):
    """Grey-level textures (no face: MTCNN finds none), each different."""
    rng = np.random.default_rng(seed)
    return [np.clip(rng.normal(128, 40, (size, size)) + 60 * np.sin(np.arange(size) / (3 + i))[None], 0, 255)
            .astype(np.uint8) for i in range(n)]


# --- the head ---------------------------------------------------------------------------------
def test_statistics_and_normalise():
    from emozoo.models.emotion_face.emotion_face_head import normalise, per_group_normalise, statistics
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, (50, 6)).astype(np.float32)
    mean, std = statistics(x)
    np.testing.assert_allclose(mean, x.mean(0), atol=1e-5)
    np.testing.assert_allclose(std, x.std(0), atol=1e-5)
    z = normalise(x, mean, std)
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(z.std(0), 1, atol=1e-3)
    x[20:] = x[20:] * 5 + 100.0
    zg = per_group_normalise(x, np.array(["a"] * 20 + ["b"] * 30))
    np.testing.assert_allclose(zg[20:].mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(zg[20:].std(0), 1, atol=1e-3)


def test_top_block_reproduces_the_network():
    """Blocks 1-12 (the trunk the caches hold) + this module's block 13 = the full network's embedding."""
    weights_or_skip("face_mobilenet")
    import keras
    import tensorflow as tf

    from emozoo.backbones.face.mobilenet import load_face_mobilenet, preprocess_faces
    from emozoo.models.emotion_face.emotion_face_head import pretrained_top_block
    net = load_face_mobilenet(heads=False)
    x = preprocess_faces(np.random.default_rng(0).integers(0, 256, (2, 224, 224, 3)).astype(np.uint8))
    trunk = keras.Model(net.inputs, net.get_layer("conv_pw_12_relu").output)(x)
    got = pretrained_top_block()(trunk).numpy()
    want = net(x)["embedding"].numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    assert np.abs(want).max() > 0.1 and tf.reduce_all(tf.shape(got) == (2, 1024))


def test_head_learns_and_exports_consistently(tmp_path):
    """The linear head learns; the SavedModel's in-graph block + shipped normalisation equals doing it outside."""
    import tensorflow as tf

    from emozoo.models.emotion_face.emotion_face_head import (export_head, linear_probabilities, make_top_block,
                                                              normalise, statistics, train_linear)
    rng = np.random.default_rng(1)
    block = make_top_block(rng.normal(0, 0.3, (3, 3, 1024, 1)), rng.normal(0, 0.1, 1024),
                           rng.normal(0, 0.05, (1, 1, 1024, 1024)), rng.normal(0.2, 0.1, 1024))
    trunk = rng.uniform(0, 2, (40, 7, 7, 1024)).astype(np.float32)
    emb = block(tf.constant(trunk)).numpy()
    mean, std = statistics(emb)
    y = rng.integers(0, 7, 400)
    zz = rng.normal(0, 1, (400, 1024)).astype(np.float32)
    zz[:, :7] += 3.0 * np.eye(7)[y]
    head = train_linear(zz, y, 7, seed=0)
    assert (linear_probabilities(head, zz).argmax(1) == y).mean() > 0.9
    export_head(block, head, mean, std, tmp_path / "m", FER7, {"input": "emotion_face_image"})
    loaded = tf.saved_model.load(str(tmp_path / "m"))
    out = loaded.serve_trunk(tf.constant(trunk))
    np.testing.assert_allclose(out["embedding"].numpy(), emb, atol=1e-4)
    p2 = loaded.serve_normalised(tf.constant(normalise(emb, mean, std)))["probabilities"].numpy()
    np.testing.assert_allclose(out["probabilities"].numpy(), p2, atol=1e-5)
    np.testing.assert_allclose(p2, linear_probabilities(head, normalise(emb, mean, std)), atol=1e-5)
    assert json.loads((tmp_path / "m" / "assets" / "labels.json").read_text()) == list(FER7)


# --- the LOCO mechanics -----------------------------------------------------------------------
def test_capped_subsample_per_class_and_corpus():
    from emozoo.models.emotion_face.emotion_face_loco import capped
    y = np.array([0] * 50 + [1] * 5 + [0] * 8)
    corpus = np.array(["fer2013"] * 55 + ["ckplus"] * 8)
    rows = capped(y, corpus, np.arange(63), 10, seed=0)
    assert np.all(np.diff(rows) > 0)
    assert ((corpus[rows] == "fer2013") & (y[rows] == 0)).sum() == 10      # capped
    assert ((corpus[rows] == "fer2013") & (y[rows] == 1)).sum() == 5       # kept whole
    assert (corpus[rows] == "ckplus").sum() == 8
    assert not np.array_equal(rows, capped(y, corpus, np.arange(63), 10, seed=1))


def test_adaptation_undoes_a_corpus_shift():
    from emozoo.models.emotion_face.emotion_face_loco import evaluate_head
    rng = np.random.default_rng(0)
    xs, ys, cs = [], [], []
    for c, size in (("jaffe", 0.0), ("ckplus", 0.5), ("fer2013", 4.0)):
        y = rng.integers(0, 6, 150)
        x = rng.normal(0, 1, (150, 16))
        x[:, :6] += 2.5 * np.eye(6)[y]
        xs.append(x * np.exp(rng.normal(0, size / 4, 16)) + rng.normal(0, size, 16))
        ys.append(y)
        cs += [c] * 150
    x, y, corpus = np.concatenate(xs).astype(np.float32), np.concatenate(ys), np.array(cs)
    cell = evaluate_head(x, y, corpus, corpus != "fer2013", corpus == "fer2013", 0, 6)
    assert cell["adapt_all"]["uar"] > 0.75
    assert cell["none"]["uar"] < cell["adapt_all"]["uar"] - 0.2
    assert cell["adapt100"]["uar"] > cell["none"]["uar"]
    assert np.sum(cell["adapt_all"]["confusion"]) == 150


def test_summary_choice_and_adaptation_rule():
    from emozoo.models.emotion_face import emotion_face_loco as L

    def fake(uar, full_from=50):
        out = {"none": uar}
        for n in L.ADAPT_COUNTS:        # the deviation from few faces hurts; the mean alone helps a little
            out[f"adapt{n}"] = uar + (0.03 if n >= full_from else -0.2)
            out[f"adapt{n}_mean"] = uar + 0.01
        out["adapt_all"], out["adapt_all_mean"] = uar + 0.04, uar + 0.01
        return {c: {"uar": v, "wa": v, "macro_f1": v} for c, v in out.items()}
    cells = {}
    for s in range(2):
        for t, base in zip(L.CORPORA, (0.5, 0.6, 0.7)):
            cells[f"frozen/{t}/seed{s}"] = fake(base + 0.02 * s)
            cells[f"top1/{t}/seed{s}"] = fake(base - 0.1)
        for t in ("jaffe", "ckplus"):
            cells[f"dface/{t}/seed{s}"] = fake(0.95)
    summary = L.summarise({"cells": cells})
    m = summary["frozen"]["mean"]["none"]["uar"]
    assert m["mean"] == pytest.approx(61.0) and m["std"] == pytest.approx(1.0) and m["seeds"] == 2
    assert "fer2013" not in summary["dface"] and summary["dface"]["mean"]["none"]["uar"]["mean"] == pytest.approx(95)
    design, crit = L.choose(summary)
    assert design == "frozen" and "dface" not in crit            # a reference row is never a candidate
    rule = L.adapt_rule(summary, "frozen")
    assert rule["std_from"] == 50 and rule["min_faces"] == 10
    assert L.markdown({"summary": summary}).count("| frozen |") == len(L.CONDITIONS)


# --- the published model ----------------------------------------------------------------------
def test_zoo_folder_holds_no_backbone():
    from emozoo.zoo import read_registry
    entry = read_registry(ZOO)["models"]["emotion_face"]
    folder = ZOO / entry["path"]
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    # block 13 + head: ~4.3 MB; the whole MobileNet would be 14 MB
    assert size < 6_000_000, f"{folder} is {size} bytes: the backbone must not be inside the zoo folder"
    assert not any(p.suffix in (".bin", ".hdf5") or p.name.endswith(".json") and "faceres" in p.name
                   for p in folder.rglob("*"))
    pre = json.loads((folder / "assets" / "preprocessing.json").read_text())
    assert pre["input"] == "emotion_face_image" and pre["backbone"] == "face_mobilenet"
    assert pre["min_adapt_faces"] >= 10
    assert "non-commercial" in entry["licence"] and "install face_mobilenet" in entry["backbone"]["install"]
    assert entry["metrics"]["no_adaptation"]["uar"]["mean"] > 0.3
    assert json.loads((folder / "assets" / "labels.json").read_text()) == list(FER7)


def test_load_through_emozoo(model):
    from emozoo.models.emotion_face.emotion_face_predictor import EmotionFacePredictor
    assert isinstance(model, EmotionFacePredictor)
    assert model.labels == FER7
    assert model.adapted is None and model.statistics[0].shape == (1024,)


def test_weights_missing_gives_the_install_command(tmp_path, monkeypatch):
    import emozoo
    monkeypatch.setenv("EMOZOO_WEIGHTS_DIR", str(tmp_path / "empty"))
    with pytest.raises(WeightsError, match="install face_mobilenet"):
        emozoo.load("emotion_face")


def test_no_face_is_refused(model, tmp_path):
    from PIL import Image
    model.no_face = "skip"
    tex = _textures(1)[0]
    with pytest.raises(InputRefused, match="no face found"):
        model.predict(tex)
    Image.fromarray(tex).save(tmp_path / "texture.png")
    with pytest.raises(InputRefused, match="texture.png: no face found"):
        model.predict([str(tmp_path / "texture.png")])
    Image.fromarray(np.full((64, 64), 90, np.uint8)).save(tmp_path / "flat.png")
    with pytest.raises(InputRefused, match="flat"):
        model.predict(str(tmp_path / "flat.png"))
    Image.fromarray(tex[:20, :20]).save(tmp_path / "tiny.png")
    with pytest.raises(InputRefused, match="20x20 pixels, under this model's minimum of 48x48"):
        model.predict(str(tmp_path / "tiny.png"))
    with pytest.raises(EmozooError, match="uint8"):
        model.predict(tex.astype(np.float32))
    model.no_face = "full"                         # a face crop already: the whole image is the face
    try:
        p = model.predict(tex)
        assert p.shape == (1, 7) and abs(p.sum() - 1) < 1e-4
    finally:
        model.no_face = "skip"
    model.crop = "whole"                           # no MTCNN at all: the same whole-image face
    try:
        np.testing.assert_allclose(model.predict(tex), p, atol=1e-6)
        with pytest.raises(InputRefused, match="flat"):
            model.predict(np.full((64, 64), 90, np.uint8))        # the shared checks still apply
    finally:
        model.crop = "mtcnn"
    with pytest.raises(EmozooError, match="crop must be 'mtcnn'"):
        model.crop = "centre"


# --- adaptation -------------------------------------------------------------------------------
def test_adapt_reset_save_load_round_trip(model, tmp_path):
    from emozoo.models.emotion_face.emotion_face_head import statistics
    n = model.min_faces + 2
    faces = _textures(n, seed=3)
    model.no_face = "full"
    try:
        shipped = model.predict(faces[0])
        assert model.adapt(faces) == n and model.adapted == n
        emb = model.embeddings(faces)
        mean, std = statistics(emb)
        np.testing.assert_allclose(model.statistics[0], mean, atol=1e-4)
        if model.std_from is None or n < model.std_from:       # the LOCO rule: too few faces, mean only
            np.testing.assert_allclose(model.statistics[1], model.shipped[1])
        else:
            np.testing.assert_allclose(model.statistics[1], std, atol=1e-4)
        adapted = model.predict(faces[0])
        assert not np.allclose(adapted, shipped, atol=1e-3), "adaptation changed nothing"
        path = model.save_adaptation(tmp_path / "data" / "adaptation.npz")
        assert path.stat().st_size < 50_000
        model.reset()
        assert model.adapted is None
        np.testing.assert_allclose(model.predict(faces[0]), shipped, atol=1e-6)
        meta = model.load_adaptation(path)
        assert meta["faces"] == n and model.adapted == n
        np.testing.assert_allclose(model.predict(faces[0]), adapted, atol=1e-6)
        model.reset()
        batch = model.predict(faces, adapt="batch")               # for that call only
        assert model.adapted is None
        np.testing.assert_allclose(batch[0], adapted[0], atol=1e-5)
    finally:
        model.reset()
        model.no_face = "skip"


def test_below_minimum_is_refused(model, tmp_path):
    from emozoo.models.emotion_face.emotion_face_predictor import AdaptationError
    n = model.min_faces
    faces = _textures(n, seed=4)
    with pytest.raises(AdaptationError, match=f"at least {n} faces.*{n} refused"):
        model.adapt(faces)                               # no_face='skip': textures hold no face
    model.no_face = "full"
    try:
        with pytest.raises(AdaptationError, match=f"at least {n} faces.*gave {n - 1} usable"):
            model.adapt(faces[:-1])
        with pytest.raises(EmozooError, match=f"at least {n} faces.*the batch gave 1 usable"):
            model.predict(faces[0], adapt="batch")
        assert model.adapted is None
        with pytest.raises(AdaptationError, match="not a folder"):
            model.adapt(str(tmp_path / "missing"))
        with pytest.raises(AdaptationError, match="not adapted"):
            model.save_adaptation(tmp_path / "never.npz")
    finally:
        model.no_face = "skip"


def test_adaptation_file_refused_inside_the_zoo(model, tmp_path):
    from emozoo.models.emotion_face.emotion_face_predictor import AdaptationError
    model.no_face = "full"
    try:
        model.adapt(_textures(model.min_faces, seed=5))
        for target in (model.path / "adaptation.npz", model.path.parent / "a.npz", model.path.parents[1] / "a.npz"):
            with pytest.raises(AdaptationError, match="inside the checksummed zoo folder"):
                model.save_adaptation(target)
            assert not target.exists()
        with pytest.raises(AdaptationError, match="inside the checksummed zoo folder"):
            model.load_adaptation(model.path / "assets" / "labels.json")
        bad = tmp_path / "speech.npz"
        np.savez(bad, mean=np.zeros((7, 512), np.float32), std=np.ones((7, 512), np.float32),
                 meta=np.array(json.dumps({"model": "emotion_speech", "clips": 10})))
        with pytest.raises(AdaptationError, match="this model \\(emotion_face\\) needs \\[1024\\]"):
            model.load_adaptation(bad)
    finally:
        model.reset()
        model.no_face = "skip"


def test_cli_adapt_batch(model, tmp_path, capsys):
    """python -m emozoo.predict --model emotion_face --no-face full --adapt batch IMG...: adapted rows."""
    from PIL import Image

    from emozoo.predict.__main__ import main
    files = []
    for i, t in enumerate(_textures(model.min_faces, seed=6)):
        files.append(str(tmp_path / f"f{i}.png"))
        Image.fromarray(t).save(files[-1])
    model.no_face = "full"
    try:
        want = model.predict(files, adapt="batch")
    finally:
        model.no_face = "skip"
    assert main(["--model", "emotion_face", "--json", "--no-face", "full", "--adapt", "batch", *files]) == 0
    out, err = capsys.readouterr()
    got = np.array([[json.loads(r)["probabilities"][k] for k in FER7] for r in out.splitlines()])
    np.testing.assert_allclose(got, want, atol=1e-3)
    assert main(["--model", "emotion_face", "--adapt", str(tmp_path), files[0]]) == 2     # no face in any
    assert f"at least {model.min_faces} faces" in capsys.readouterr().err


# --- real faces ---------------------------------------------------------------------------------
REAL = {"jaffe/KA.HA1.29.tiff": "happy", "jaffe/KM.HA1.4.tiff": "happy", "ckplus48/happy/S010_006_00000013.png": "happy",
        "ckplus48/surprise/S010_002_00000014.png": "surprise"}


@pytest.mark.data
def test_real_faces(model, data_dir):
    assert model.predict_labels(files_or_skip(data_dir, REAL)) == list(REAL.values())


@pytest.mark.data
def test_embedding_equals_the_training_cache(model, data_dir):
    """The predictor's crop + backbone path gives the trunk the model was trained on (the caches):
    a JAFFE image (MTCNN crop) and a FER2013 image (crop='whole': MTCNN does find a face in this one)."""
    import tensorflow as tf

    from emozoo.backbones.face.finetune import open_cache
    for cache_name, clip, path, policy in (
            ("jaffe_face_mobilenet_top1", "KA.HA1.29", data_dir / "jaffe" / "KA.HA1.29.tiff", "skip"),
            ("fer2013_face_mobilenet_top1", "test/happy/PrivateTest_10077120",
             data_dir / "fer2013" / "test" / "happy" / "PrivateTest_10077120.jpg", "whole")):
        folder = REPO / "tfrecords" / "cache" / cache_name
        if not (folder / "cache.json").exists() or not path.exists():
            pytest.skip(f"{folder} or {path} missing")
        cache = open_cache(folder)
        i = cache.meta["rows"]["clip_id"].index(clip)
        start = 0
        for f, n, _ in cache.meta["chunks"]:
            if i < start + n:
                trunk = np.load(folder / f, mmap_mode="r")[i - start].astype(np.float32)
                break
            start += n
        want = model._model.serve_embedding(tf.constant(trunk[None]))["embedding"].numpy()[0]
        model.crop = "mtcnn" if policy == "skip" else policy
        try:
            got = model.embeddings([str(path)])[0]
        finally:
            model.crop = "mtcnn"
        np.testing.assert_allclose(got, want, atol=0.02, rtol=0.01)
        assert np.corrcoef(got, want)[0, 1] > 0.9999
