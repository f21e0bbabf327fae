"""Tests of emozoo.data.image: formats, grey/RGB, resizing, failures, tf.data wrapper."""
import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from emozoo.data.image import load_image, resize, tf_load_image
from emozoo.errors import ImageDecodeError


def gradient_grey(h=32, w=40):
    return (np.add.outer(np.arange(h) * 3, np.arange(w) * 2) % 256).astype(np.uint8)


def colour_image(h=32, w=40):
    g = gradient_grey(h, w)
    return np.stack([g, 255 - g, (g // 2 + 60).astype(np.uint8)], axis=-1)


def save(path, array, **kwargs):
    Image.fromarray(array).save(path, **kwargs)
    return path


@pytest.mark.parametrize("ext", ["tiff", "png", "bmp", "gif"])
def test_lossless_grey_round_trip(tmp_path, ext):
    g = gradient_grey()
    p = save(tmp_path / f"g.{ext}", g)
    out = load_image(p)
    assert out.shape == (32, 40, 1) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[:, :, 0], g)
    rgb = load_image(p, grey=False)
    assert rgb.shape == (32, 40, 3)
    for c in range(3):
        np.testing.assert_array_equal(rgb[:, :, c], g)


@pytest.mark.parametrize("ext", ["tiff", "png"])
def test_lossless_rgb_and_grey_conversion(tmp_path, ext):
    rgb = colour_image()
    p = save(tmp_path / f"c.{ext}", rgb)
    np.testing.assert_array_equal(load_image(p, grey=False), rgb)
    grey = load_image(p)
    assert grey.shape == (32, 40, 1)
    tf_grey = tf.image.rgb_to_grayscale(tf.constant(rgb, tf.float32)).numpy()
    assert np.max(np.abs(grey.astype(np.float32) - tf_grey)) <= 1.0  # same ITU-R 601 luma weights


def test_jpeg_grey_and_rgb(tmp_path):
    rgb = colour_image()
    p = save(tmp_path / "c.jpg", rgb, quality=95)
    out = load_image(p, grey=False)
    assert out.shape == (32, 40, 3)
    tf_decoded = tf.io.decode_jpeg(p.read_bytes()).numpy()
    assert np.mean(np.abs(out.astype(int) - tf_decoded.astype(int))) < 1.0
    assert np.mean(np.abs(out.astype(int) - rgb.astype(int))) < 6.0
    grey_jpeg = save(tmp_path / "g.jpeg", gradient_grey(), quality=95)
    g = load_image(grey_jpeg)
    assert g.shape == (32, 40, 1)
    assert np.mean(np.abs(g[:, :, 0].astype(int) - gradient_grey().astype(int))) < 6.0


def test_bytes_source_and_float_dtype(tmp_path):
    g = gradient_grey()
    p = save(tmp_path / "g.png", g)
    np.testing.assert_array_equal(load_image(p.read_bytes()), load_image(p))
    f = load_image(p, dtype=np.float32)
    assert f.dtype == np.float32 and 0.0 <= f.min() and f.max() <= 1.0
    np.testing.assert_allclose(f[:, :, 0], g / 255.0, atol=1e-6)
    with pytest.raises(ValueError, match="dtype"):
        load_image(p, dtype=np.int32)


def test_palette_and_16bit_images(tmp_path):
    g = gradient_grey()
    palette = Image.fromarray(g).convert("P")
    palette.save(tmp_path / "p.tiff")
    np.testing.assert_array_equal(load_image(tmp_path / "p.tiff")[:, :, 0], np.asarray(palette.convert("L")))
    sixteen = (g.astype(np.uint16) * 257)
    Image.fromarray(sixteen).save(tmp_path / "s16.png")
    out = load_image(tmp_path / "s16.png")
    np.testing.assert_array_equal(out[:, :, 0], g)


def test_resize_sizes_and_antialiasing(tmp_path):
    p = save(tmp_path / "g.png", gradient_grey())
    assert load_image(p, size=48).shape == (48, 48, 1)
    assert load_image(p, size=(16, 24), grey=False).shape == (16, 24, 3)
    assert load_image(p, size=(32, 40)).shape == (32, 40, 1)
    checker = ((np.indices((64, 64)).sum(axis=0) % 2) * 255).astype(np.uint8)
    small = load_image(save(tmp_path / "checker.png", checker), size=16)
    # Antialiased shrinking averages the 1-pixel checkerboard to mid-grey; nearest/no-filter would
    # keep pure 0/255 pixels.
    assert np.all(np.abs(small.astype(int) - 128) <= 2)
    for bad in (0, (10,), (10, 0), 2.5, True):
        with pytest.raises(ValueError, match="size"):
            load_image(p, size=bad)


def test_resize_array_matches_load_image(tmp_path):
    g = gradient_grey()
    p = save(tmp_path / "g.png", g)
    np.testing.assert_array_equal(resize(g[:, :, None], 24), load_image(p, size=24))
    assert resize(g, (16, 20)).shape == (16, 20)
    rgb = colour_image()
    np.testing.assert_array_equal(resize(rgb, (16, 20)),
                                  load_image(save(tmp_path / "c.png", rgb), grey=False, size=(16, 20)))
    np.testing.assert_array_equal(resize(g, (32, 40)), g)
    with pytest.raises(ValueError, match="uint8"):
        resize(g.astype(np.float32), 24)


def test_failures(tmp_path):
    with pytest.raises(ImageDecodeError, match="no such file"):
        load_image(tmp_path / "missing.png")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ImageDecodeError, match="empty"):
        load_image(empty)
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"this is not an image" * 20)
    with pytest.raises(ImageDecodeError, match="corrupt.png: cannot decode image"):
        load_image(corrupt)
    buf = io.BytesIO()
    Image.fromarray(colour_image(64, 64)).save(buf, format="PNG")
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(ImageDecodeError, match="truncated.png"):
        load_image(truncated)


def test_tf_load_image_in_pipeline(tmp_path):
    paths = [str(save(tmp_path / "a.png", gradient_grey())),
             str(save(tmp_path / "b.tiff", gradient_grey(64, 64))),
             str(save(tmp_path / "c.jpg", colour_image()))]
    ds = tf.data.Dataset.from_tensor_slices(paths).map(lambda p: tf_load_image(p, True, 24),
                                                      num_parallel_calls=2)
    assert ds.element_spec.shape.as_list() == [24, 24, 1]
    batch = next(iter(ds.batch(3)))
    assert batch.shape == (3, 24, 24, 1) and batch.dtype == tf.uint8
    np.testing.assert_array_equal(batch[0].numpy(), load_image(paths[0], size=24))
    rgb = tf.data.Dataset.from_tensor_slices(paths[:1]).map(lambda p: tf_load_image(p, grey=False))
    assert rgb.element_spec.shape.as_list() == [None, None, 3]
    assert next(iter(rgb)).shape == (32, 40, 3)


@pytest.mark.data
def test_real_jaffe_tiff_and_ckplus_png(data_dir):
    jaffe = data_dir / "jaffe/KA.AN1.39.tiff"
    ck = data_dir / "ckplus48/anger/S010_004_00000017.png"
    for p in (jaffe, ck):
        if not p.exists():
            pytest.skip(f"{p} not present")
    face = load_image(jaffe)
    assert face.shape == (256, 256, 1) and face.dtype == np.uint8 and face.std() > 10
    assert load_image(jaffe, size=48).shape == (48, 48, 1)
    assert load_image(jaffe, grey=False).shape == (256, 256, 3)
    small = load_image(ck)
    assert small.shape == (48, 48, 1) and small.std() > 10
