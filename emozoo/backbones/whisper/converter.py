"""CTranslate2 Whisper variables -> :class:`WhisperEncoder` weights (keras-hub ``convert_*`` style).

CTranslate2's ``WhisperSpec`` (``python/ctranslate2/specs/whisper_spec.py``) stores the encoder as:

===============================================  ======================================  ==================
CTranslate2 variable                             shape                                   Keras weight
===============================================  ======================================  ==================
``encoder/conv{1,2}/weight``                     ``[out, in, 3]`` (PyTorch Conv1d)        kernel ``[3, in, out]``
``encoder/position_encodings/encodings``         ``[1500, d]``                           ``positions``
``encoder/layer_i/self_attention/linear_0``      fused q|k|v ``[3d, d]`` (+ bias ``[3d]``,  query/key/value
                                                 the key part zero)                      ``[d, h, d/h]``
``encoder/layer_i/self_attention/linear_1``      ``[d, d]``                              attention output ``[h, d/h, d]``
``encoder/layer_i/{self_attention,ffn}/layer_norm``  ``gamma``, ``beta``                 attention / MLP norm
``encoder/layer_i/ffn/linear_{0,1}``             ``[4d, d]``, ``[d, 4d]`` (``[out, in]``)  Dense kernels ``[in, out]``
``encoder/layer_norm``                           ``gamma``, ``beta``                     final norm
===============================================  ======================================  ==================

Float16 values are widened to float32. The configuration (width, layers, heads, mel bins) is
read from the variables' shapes and ``encoder/num_heads``.

Example:

>>> model = read_ct2_model(path / "model.bin", prefix="encoder/")  # doctest: +SKIP
>>> encoder = WhisperEncoder(**encoder_config(model)); load_encoder_weights(encoder, model)  # doctest: +SKIP
"""
from __future__ import annotations

import re

import numpy as np

from emozoo.backbones.whisper.ct2_reader import CT2Model
from emozoo.errors import WeightsError


def encoder_config(model: CT2Model) -> dict:
    """``WhisperEncoder`` constructor arguments read from a CTranslate2 Whisper model's encoder."""
    if model.name != "WhisperSpec":
        raise WeightsError(f"expected a CTranslate2 WhisperSpec model, got {model.name!r}")
    conv1 = model.get("encoder/conv1/weight")
    layers = {int(m.group(1)) for name in model.variables
              if (m := re.match(r"encoder/layer_(\d+)/", name))}
    if not layers or sorted(layers) != list(range(len(layers))):
        raise WeightsError(f"CTranslate2 Whisper model has no or non-contiguous encoder layers: {sorted(layers)}")
    hidden = int(conv1.shape[0])
    if "encoder/num_heads" in model.variables:
        heads = int(model.get("encoder/num_heads"))
    else:  # older specs: Whisper's head size is always 64
        heads = hidden // 64
    return {"hidden_dim": hidden, "num_layers": len(layers), "num_heads": heads,
            "intermediate_dim": int(model.get("encoder/layer_0/ffn/linear_0/weight").shape[0]),
            "n_mels": int(conv1.shape[1]),
            "max_positions": int(model.get("encoder/position_encodings/encodings").shape[0])}


def _f32(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float32)


def _assign(var, value, what):
    value = _f32(value)
    if tuple(var.shape) != value.shape:
        raise WeightsError(f"{what}: CTranslate2 weight of shape {value.shape} does not fit Keras weight "
                           f"{var.path} of shape {tuple(var.shape)}")
    var.assign(value)


def load_encoder_weights(encoder, model: CT2Model) -> None:
    """Copy a CTranslate2 Whisper model's encoder variables into a built :class:`WhisperEncoder`."""
    cfg = encoder_config(model)
    if cfg["hidden_dim"] != encoder.hidden_dim or cfg["num_layers"] != encoder.num_layers:
        raise WeightsError(f"weights are for d={cfg['hidden_dim']}, {cfg['num_layers']} layers; the encoder has "
                           f"d={encoder.hidden_dim}, {encoder.num_layers} layers")
    if not encoder.built:
        encoder.build((None, None, encoder.n_mels))
    g = model.get
    for conv, name in ((encoder.conv1, "conv1"), (encoder.conv2, "conv2")):
        _assign(conv.kernel, np.transpose(g(f"encoder/{name}/weight"), (2, 1, 0)), name)
        _assign(conv.bias, g(f"encoder/{name}/bias"), name)
    _assign(encoder.positions, g("encoder/position_encodings/encodings"), "positions")
    d, h = encoder.hidden_dim, encoder.num_heads
    dh = d // h
    for i, block in enumerate(encoder.blocks):
        p = f"encoder/layer_{i}"
        attn = block.attention
        w_qkv, b_qkv = _f32(g(f"{p}/self_attention/linear_0/weight")), _f32(g(f"{p}/self_attention/linear_0/bias"))
        if w_qkv.shape != (3 * d, d):
            raise WeightsError(f"{p}: fused qkv weight has shape {w_qkv.shape}, expected {(3 * d, d)}")
        for j, dense in enumerate((attn._query_dense, attn._key_dense, attn._value_dense)):
            w = w_qkv[j * d:(j + 1) * d]                        # [out = h * dh, in = d]
            _assign(dense.kernel, w.T.reshape(d, h, dh), f"{p} qkv[{j}]")
            _assign(dense.bias, b_qkv[j * d:(j + 1) * d].reshape(h, dh), f"{p} qkv[{j}] bias")
        w_o = _f32(g(f"{p}/self_attention/linear_1/weight"))     # [d_out, d_in = h * dh]
        _assign(attn._output_dense.kernel, w_o.T.reshape(h, dh, d), f"{p} attention output")
        _assign(attn._output_dense.bias, g(f"{p}/self_attention/linear_1/bias"), f"{p} attention output bias")
        for norm, src in ((block.attention_norm, "self_attention/layer_norm"), (block.mlp_norm, "ffn/layer_norm")):
            _assign(norm.gamma, g(f"{p}/{src}/gamma"), f"{p} {src}")
            _assign(norm.beta, g(f"{p}/{src}/beta"), f"{p} {src}")
        for dense, src in ((block.mlp_in, "ffn/linear_0"), (block.mlp_out, "ffn/linear_1")):
            _assign(dense.kernel, _f32(g(f"{p}/{src}/weight")).T, f"{p} {src}")
            _assign(dense.bias, g(f"{p}/{src}/bias"), f"{p} {src} bias")
    _assign(encoder.final_norm.gamma, g("encoder/layer_norm/gamma"), "final norm")
    _assign(encoder.final_norm.beta, g("encoder/layer_norm/beta"), "final norm")
