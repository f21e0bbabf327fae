"""AT-Fusion (Lian et al. eq. 1-3) and SA-GRU (bi-GRU + eq. 4 self-attention) on tiny inputs."""
import numpy as np
import pytest
import tensorflow as tf

from emozoo.errors import SchemaError
from emozoo.layers import AttentionFusion, SelfAttentionGRU

rng = np.random.default_rng(0)


def test_at_fusion_matches_equations():
    layer = AttentionFusion(4, input_dims=(3, 5))
    a, t = rng.normal(size=(2, 6, 3)).astype("float32"), rng.normal(size=(2, 6, 5)).astype("float32")
    f, alpha = layer([a, t], return_attention=True)
    assert f.shape == (2, 6, 4) and alpha.shape == (2, 6, 2)
    # eq. (1)-(3) by hand
    pa, pt = layer.projections[0](a).numpy(), layer.projections[1](t).numpy()
    u = np.stack([pa, pt], -2)                                            # [B, L, 2, d]
    W, w = layer.W_F.kernel.numpy(), layer.w_F.kernel.numpy()
    s = (np.tanh(u @ W) @ w)[..., 0]
    al = np.exp(s) / np.exp(s).sum(-1, keepdims=True)
    np.testing.assert_allclose(alpha.numpy(), al, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(f.numpy(), (u * al[..., None]).sum(-2), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(alpha.numpy().sum(-1), 1, atol=1e-6)


def test_at_fusion_bad_inputs():
    layer = AttentionFusion(4, input_dims=(3, 5))
    with pytest.raises(SchemaError, match="2 modalities|got 1"):
        layer([np.zeros((1, 2, 3), "float32")])
    with pytest.raises(SchemaError, match="dimension 4"):
        layer([np.zeros((1, 2, 3), "float32"), np.zeros((1, 2, 4), "float32")])
    with pytest.raises(SchemaError, match="input_dims"):
        AttentionFusion(4)


def test_sa_gru_shapes_heads_and_masking():
    layer = SelfAttentionGRU(gru_units=4, num_heads=2)
    x = rng.normal(size=(2, 7, 5)).astype("float32")
    mask = np.array([[1] * 7, [1] * 4 + [0] * 3], bool)
    r, att = layer(x, mask=mask, return_attention=True)
    assert r.shape == (2, 7, 8) and att.shape == (2, 2, 7, 7)
    # padded keys get no attention, padded outputs are zero
    np.testing.assert_allclose(att.numpy()[1, :, :, 4:], 0, atol=1e-7)
    np.testing.assert_allclose(r.numpy()[1, 4:], 0)
    # the real utterances do not depend on what the padding holds
    x2 = x.copy()
    x2[1, 4:] = 100.0
    np.testing.assert_allclose(layer(x2, mask=mask).numpy()[1, :4], r.numpy()[1, :4], rtol=1e-5, atol=1e-5)
    # and equal the encoding of the unpadded conversation
    short = layer(x[1:2, :4], mask=np.ones((1, 4), bool)).numpy()
    np.testing.assert_allclose(short[0], r.numpy()[1, :4], rtol=1e-4, atol=1e-5)


def test_sa_gru_eq4_by_hand():
    layer = SelfAttentionGRU(gru_units=2, num_heads=2)
    x = rng.normal(size=(1, 3, 2)).astype("float32")
    r = layer(x).numpy()[0]
    H = layer.bigru(tf.constant(x)).numpy()[0]
    heads = []
    for i in range(2):
        q, k, v = H @ layer.W_Q.numpy()[i], H @ layer.W_K.numpy()[i], H @ layer.W_V.numpy()[i]
        s = q @ k.T
        a = np.exp(s - s.max(-1, keepdims=True))
        heads.append((a / a.sum(-1, keepdims=True)) @ v)
    np.testing.assert_allclose(r, np.concatenate(heads, -1), rtol=1e-5, atol=1e-5)


def test_sa_gru_heads_must_divide():
    with pytest.raises(SchemaError, match="divisible"):
        SelfAttentionGRU(gru_units=5, num_heads=4)
