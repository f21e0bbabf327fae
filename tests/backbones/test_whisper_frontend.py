"""Whisper log-Mel front end: eager calls run one cached graph (any batch, any length), agreement with the
independent numpy recipe of openai/whisper (tests/backbones/test_whisper_heldout.py::np_log_mel), the
caller-given-filters path, and the in-graph (Keras layer) path."""
import numpy as np
import tensorflow as tf

from emozoo.backbones.whisper import frontend as fe
from tests.backbones.test_whisper import synthetic_wave
from tests.backbones.test_whisper_heldout import np_log_mel


def test_eager_calls_reuse_one_graph_traced_once():
    wave = synthetic_wave(2.5)
    outs = [fe.log_mel_spectrogram(wave[None, :n]) for n in (40000, 16000, 12345)]
    outs.append(fe.log_mel_spectrogram(np.stack([wave[:9000], 0.5 * wave[:9000]])))
    assert [tuple(o.shape) for o in outs] == [(1, 250, 80), (1, 100, 80), (1, 77, 80), (2, 56, 80)]
    fn = fe._graph_fn(80)
    assert isinstance(fn, tf.types.experimental.PolymorphicFunction)
    assert fn.experimental_get_tracing_count() == 1
    np.testing.assert_array_equal(outs[1].numpy(), fn(wave[None, :16000]).numpy())
    # caller-given filters: a second cached graph, also traced once
    filters = fe.mel_filters().T
    for n in (16000, 12345):
        np.testing.assert_allclose(fe.log_mel_spectrogram(wave[None, :n], filters).numpy(),
                                   fe.log_mel_spectrogram(wave[None, :n]).numpy(), atol=1e-5)
    assert fe._graph_fn(None).experimental_get_tracing_count() == 1


def test_front_end_matches_the_independent_numpy_recipe():
    for seconds in (2.5, 0.7):
        wave = synthetic_wave(seconds)
        ours = fe.log_mel_spectrogram(wave[None])[0].numpy()
        want = np_log_mel(wave)
        assert ours.shape == want.shape == (int(seconds * 16000) // 160, 80)
        np.testing.assert_allclose(ours, want, atol=1e-4)


def test_layer_in_a_graph_keeps_static_shape_and_values():
    conv = fe.WhisperAudioConverter()
    fn = tf.function(conv).get_concrete_function(tf.TensorSpec([2, None], tf.float32))
    assert fn.output_shapes.as_list() == [2, None, 80]
    wave = synthetic_wave(1.0)
    batch = np.stack([wave, 0.1 * wave])
    np.testing.assert_allclose(fn(tf.constant(batch)).numpy(), fe.log_mel_spectrogram(batch).numpy(), atol=1e-6)
    np.testing.assert_allclose(conv(batch).numpy()[1], np_log_mel(batch[1]), atol=1e-4)
