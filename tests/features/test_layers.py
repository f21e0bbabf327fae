"""AcousticFrontend: same values as the functions, .keras and SavedModel round trips."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from emozoo.errors import FeatureError
from emozoo.features.fbank import log_mel, log_spectrogram
from emozoo.features.layers import AcousticFrontend


def _waves():
    t = np.arange(8000) / 16000
    return np.stack([np.sin(2 * np.pi * 300 * t), 0.5 * np.sin(2 * np.pi * 1200 * t)]).astype(np.float32)


@pytest.mark.parametrize("kind,fn", [("fbank", log_mel), ("spectrogram", log_spectrogram)])
def test_values_and_shapes(kind, fn):
    x = _waves()
    layer = AcousticFrontend(kind)
    out = layer(x)
    np.testing.assert_allclose(out.numpy(), fn(x).numpy(), atol=1e-5)
    assert layer.compute_output_shape((None, 8000)) == (None, 48, 128) == (None, *out.shape[1:])


def test_keras_and_saved_model_round_trip(tmp_path):
    x = _waves()
    inp = keras.Input((8000,))
    model = keras.Model(inp, keras.layers.GlobalAveragePooling1D()(AcousticFrontend("fbank")(inp)))
    expected = model(x).numpy()
    model.save(tmp_path / "m.keras")
    np.testing.assert_allclose(keras.models.load_model(tmp_path / "m.keras")(x).numpy(), expected, atol=1e-5)
    model.export(str(tmp_path / "saved"), verbose=False)
    served = tf.saved_model.load(str(tmp_path / "saved")).serve(tf.constant(x))
    np.testing.assert_allclose(served.numpy(), expected, atol=1e-3)
    with pytest.raises(FeatureError):
        AcousticFrontend("mfcc")
