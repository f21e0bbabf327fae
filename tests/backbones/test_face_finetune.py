"""Fine-tuning the face MobileNet's last blocks from cached trunk activations.

The cache + top blocks must reproduce the pretrained network (before any training), a cache with
other settings is refused instead of mixed, and the two training phases learn a separable task.
Needs the installed face weights (CI installs them; elsewhere the tests skip naming the command).
"""
import json

import numpy as np
import pytest

from emozoo.errors import SchemaError, WeightsError


def _weights():
    from emozoo import weights
    try:
        return weights.path("face_mobilenet")
    except WeightsError as exc:
        pytest.skip(f"face weights not installed ({exc})")


def _manifest(tmp_path, n=6):
    """Six generated 64x64 images, two classes, three subjects (no faces: policy 'full' keeps them whole)."""
    from PIL import Image

    from emozoo.data.manifest import Manifest, ManifestRow

    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        yy, xx = np.mgrid[0:64, 0:64]
        img = (127 + 100 * np.sin((xx + 7 * i) / (3 + i)) * np.cos(yy / (4 + i))).clip(0, 255)
        img = np.stack([img, img[::-1], img.T], -1).astype(np.uint8) + rng.integers(0, 5, (64, 64, 3), dtype=np.uint8)
        p = tmp_path / f"img{i}.png"
        Image.fromarray(img).save(p)
        rows.append(ManifestRow(clip_id=f"c{i}", corpus="toy", path=str(p), emotion=("happy", "sad")[i % 2],
                                speaker=f"s{i // 2}", split="train"))
    return Manifest(rows, name="toy")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    _weights()
    from emozoo.backbones.face.finetune import build_trunk_cache

    tmp = tmp_path_factory.mktemp("ft")
    m = _manifest(tmp)
    return m, build_trunk_cache(m, tmp / "cache", blocks=1, progress=False), tmp


def test_cache_plus_top_blocks_reproduce_the_pretrained_embedding(built):
    """GAP of the (untrained) top block on the cached trunk == the full network's embedding."""
    import keras

    from emozoo.backbones.face.extractor import FaceBackboneEmbedder
    from emozoo.backbones.face.finetune import build_top_blocks

    m, cache, _ = built
    x = cache.load().astype(np.float32)
    assert x.shape == (6, 7, 7, 1024) and cache.y.tolist() == [0, 1, 0, 1, 0, 1]
    top = build_top_blocks(1, 2, x.shape[1:])
    pooled = keras.Model(top.inputs, top.get_layer("global_pooling").output)(x).numpy()
    emb = FaceBackboneEmbedder("face_mobilenet")
    full = np.stack([emb.embed_path(r.path) for r in sorted(m, key=lambda r: r.clip_id)])
    rel = np.abs(pooled - full).max() / np.abs(full).max()
    assert rel < 5e-3, rel  # float16 cache


def test_a_cache_with_other_settings_is_refused_not_mixed(built):
    from emozoo.backbones.face.finetune import build_trunk_cache

    m, cache, _ = built
    with pytest.raises(SchemaError, match="other settings"):
        build_trunk_cache(m, cache.folder, blocks=2, progress=False)
    with pytest.raises(SchemaError, match="other settings"):
        build_trunk_cache(m.filter(lambda r: r.clip_id != "c0"), cache.folder, blocks=1, progress=False)
    with pytest.raises(SchemaError, match="other settings"):
        build_trunk_cache(m, cache.folder, blocks=1, crop="none", progress=False)
    # same settings: resumes (nothing to do) and returns the same cache
    again = build_trunk_cache(m, cache.folder, blocks=1, progress=False)
    assert again.meta["chunks"] == cache.meta["chunks"]


def test_whole_image_cache_matches_the_network_on_the_resized_image(built):
    """crop='none': the trunk of the whole image, resized to 224, as the full network computes it."""
    import keras

    from emozoo.backbones.face.finetune import build_top_blocks, build_trunk_cache
    from emozoo.backbones.face.mobilenet import load_face_mobilenet, preprocess_faces
    from emozoo.data.image import load_image
    from emozoo.errors import FeatureError

    m, _, tmp = built
    cache = build_trunk_cache(m, tmp / "whole", blocks=1, crop="none", progress=False)
    assert cache.meta["settings"]["crop"].startswith("none")
    top = build_top_blocks(1, 2, (7, 7, 1024))
    pooled = keras.Model(top.inputs, top.get_layer("global_pooling").output)(cache.load().astype(np.float32))
    full = load_face_mobilenet(heads=False)
    imgs = np.stack([load_image(r.path, grey=False, size=224) for r in sorted(m, key=lambda r: r.clip_id)])
    want = full(preprocess_faces(imgs, "hse"))["embedding"].numpy()
    assert np.abs(pooled.numpy() - want).max() / np.abs(want).max() < 5e-3
    with pytest.raises(FeatureError, match="crop must be"):
        build_trunk_cache(m, tmp / "bad", crop="centre", progress=False)


def test_an_incomplete_cache_cannot_be_opened(built, tmp_path):
    from emozoo.backbones.face.finetune import open_cache

    _, cache, _ = built
    meta = dict(cache.meta, complete=False)
    (tmp_path / "cache.json").write_text(json.dumps(meta))
    with pytest.raises(SchemaError, match="incomplete"):
        open_cache(tmp_path)
    with pytest.raises(SchemaError, match="no cache.json"):
        open_cache(tmp_path / "nothing")


def test_both_phases_learn_a_separable_task(built):
    """A synthetic cache whose class shifts one channel: frozen and fine-tuned both beat chance."""
    from emozoo.backbones.face.finetune import TrunkCache, fine_tune

    _, cache, _ = built
    rng = np.random.default_rng(1)
    n = 96
    y = np.arange(n) % 2
    x = rng.uniform(0, 2, (n, 7, 7, 1024)).astype(np.float16)
    x[y == 1, :, :, :64] += 2.0
    meta = dict(cache.meta, classes=["happy", "sad"])
    syn = TrunkCache(cache.folder, meta, y, np.array([f"s{i % 8}" for i in range(n)]), np.array(["train"] * n),
                     np.array(["toy"] * n))
    tr, te = np.arange(0, 64), np.arange(64, n)
    r = fine_tune(syn, tr, te, x=x, frozen_epochs=8, epochs=2, batch_size=16, seed=0, verbose=False)
    assert r["frozen"]["acc"] > 90 and r["fine_tuned"]["acc"] > 90, r
    assert set(r) >= {"frozen", "fine_tuned", "seconds"}


def test_an_empty_validation_set_is_refused_not_silently_ignored(built):
    """With no validation rows every epoch would score NaN and the untrained weights would be restored."""
    from emozoo.backbones.face.finetune import fine_tune

    _, cache, _ = built
    with pytest.raises(SchemaError, match="valid_idx is empty"):
        fine_tune(cache, [0, 1, 2, 3], [4, 5], valid_idx=np.array([], np.int64), frozen_epochs=1, epochs=1,
                  verbose=False)


def test_a_changed_chunk_is_refused_when_loading(built, tmp_path):
    """A chunk altered after the build (bit rot, a stray write) is an error, never silently trained on."""
    import shutil

    from emozoo.backbones.face.finetune import open_cache

    _, cache, _ = built
    copy = tmp_path / "copy"
    shutil.copytree(cache.folder, copy)
    assert open_cache(copy).load().shape[0] == 6
    chunk = copy / cache.meta["chunks"][0][0]
    data = bytearray(chunk.read_bytes())
    data[-1] ^= 0xFF
    chunk.write_bytes(bytes(data))
    with pytest.raises(SchemaError, match="changed since the cache was built"):
        open_cache(copy).load()
