"""Held-out check: an independent plain-numpy Whisper encoder (written here, straight from the
CTranslate2 variables and openai/whisper's ``audio.py`` / ``model.py``, sharing no code with
emozoo.backbones.whisper beyond the file reader) against the float32 ``whisper_base`` extractor on a
real EmoDB clip, every layer."""
import re

import numpy as np
import pytest
from scipy.special import erf

from emozoo.errors import WeightsError
from tests.conftest import corpus_dir


def np_log_mel(wave):
    """openai/whisper log_mel_spectrogram: torch.stft(400, 160, hann periodic, centre, reflect)."""
    n_fft, hop, sr, n_mels = 400, 160, 16000, 80
    x = np.pad(wave.astype(np.float64), n_fft // 2, mode="reflect")
    n_frames = 1 + (x.size - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    power = np.abs(np.fft.rfft(x[idx] * window, axis=1)) ** 2
    power = power[:-1]
    # Slaney mel filterbank written out (librosa.filters.mel, htk=False, norm="slaney")
    def hz2mel(f):
        f = np.asarray(f, float)
        lin = 3.0 * f / 200.0
        return np.where(f < 1000, lin, 15.0 + 27.0 * np.log(np.maximum(f, 1e-9) / 1000.0) / np.log(6.4))

    def mel2hz(m):
        m = np.asarray(m, float)
        return np.where(m < 15.0, 200.0 * m / 3.0, 1000.0 * 6.4 ** ((m - 15.0) / 27.0))
    edges = mel2hz(np.linspace(hz2mel(0), hz2mel(sr / 2), n_mels + 2))
    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    fb = np.zeros((n_mels, freqs.size))
    for m in range(n_mels):
        lo, c, hi = edges[m], edges[m + 1], edges[m + 2]
        fb[m] = np.clip(np.minimum((freqs - lo) / (c - lo), (hi - freqs) / (hi - c)), 0, None) * 2.0 / (hi - lo)
    log_spec = np.log10(np.maximum(power @ fb.T, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return (log_spec + 4.0) / 4.0                                        # [frames, 80]


def gelu(x):
    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


def layer_norm(x, g, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def conv1d(x, w, b, stride):
    """PyTorch Conv1d(kernel 3, padding 1): x [T, in], w [out, in, 3]."""
    xp = np.pad(x, ((1, 1), (0, 0)))
    t_out = (xp.shape[0] - 3) // stride + 1
    cols = np.stack([xp[k: k + stride * (t_out - 1) + 1: stride] for k in range(3)], axis=-1)  # [T, in, 3]
    return np.einsum("tik,oik->to", cols, w) + b


def np_encoder_states(v, mel, heads):
    """[n_layers + 1, T, d]: input to block 1, outputs of blocks 1..L-1, final-LN output of block L."""
    f = {k: np.asarray(a, np.float64) for k, a in v.items()}
    x = gelu(conv1d(mel, f["encoder/conv1/weight"], f["encoder/conv1/bias"], 1))
    x = gelu(conv1d(x, f["encoder/conv2/weight"], f["encoder/conv2/bias"], 2))
    t, d = x.shape
    x = x + f["encoder/position_encodings/encodings"][:t]
    states = [x]
    n_layers = len({k.split("/")[1] for k in f if re.match(r"encoder/layer_\d+/", k)})
    dh = d // heads
    for i in range(n_layers):
        p = f"encoder/layer_{i}/"
        h = layer_norm(x, f[p + "self_attention/layer_norm/gamma"], f[p + "self_attention/layer_norm/beta"])
        qkv = h @ f[p + "self_attention/linear_0/weight"].T + f[p + "self_attention/linear_0/bias"]
        q, k, val = (qkv[:, j * d:(j + 1) * d].reshape(t, heads, dh).transpose(1, 0, 2) for j in range(3))
        scores = q @ k.transpose(0, 2, 1) / np.sqrt(dh)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        attn = (scores / scores.sum(-1, keepdims=True)) @ val                  # [h, T, dh]
        attn = attn.transpose(1, 0, 2).reshape(t, d)
        x = x + attn @ f[p + "self_attention/linear_1/weight"].T + f[p + "self_attention/linear_1/bias"]
        h = layer_norm(x, f[p + "ffn/layer_norm/gamma"], f[p + "ffn/layer_norm/beta"])
        h = gelu(h @ f[p + "ffn/linear_0/weight"].T + f[p + "ffn/linear_0/bias"])
        x = x + h @ f[p + "ffn/linear_1/weight"].T + f[p + "ffn/linear_1/bias"]
        states.append(x)
    states[-1] = layer_norm(x, f["encoder/layer_norm/gamma"], f["encoder/layer_norm/beta"])
    return np.stack(states)


@pytest.mark.data
def test_extractor_matches_an_independent_numpy_port_on_a_real_emodb_clip(data_dir):
    from emozoo import weights
    from emozoo.backbones.whisper.ct2_reader import read_ct2_model
    from emozoo.data.audio import load_audio
    from emozoo.backbones.whisper.extractor import make_extractor
    try:
        folder = weights.path("whisper_base")
        ext = make_extractor("whisper_base", precision="float32")
    except WeightsError as exc:
        pytest.skip(f"whisper_base not installed: {exc}")
    wave, rate = load_audio(corpus_dir(data_dir, "emodb") / "wav" / "03a01Fa.flac", target_rate=16000)
    model = read_ct2_model(folder / "model.bin", prefix="encoder/")
    heads = int(model.variables["encoder/num_heads"])
    want = np_encoder_states(model.variables, np_log_mel(wave), heads).mean(axis=1)   # [7, 512]
    got = ext(wave, rate)
    assert got.shape == want.shape == (7, 512)
    for layer in range(7):
        err = np.linalg.norm(got[layer] - want[layer]) / np.linalg.norm(want[layer])
        assert err < 1e-4, (layer, err)
