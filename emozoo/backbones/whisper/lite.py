"""The Whisper encoder as a LiteRT (TFLite) model with dynamic-range int8 weights, run by XNNPACK.

Source: the LiteRT post-training "dynamic range quantization" recipe
(``tf.lite.TFLiteConverter`` with ``optimizations=[tf.lite.Optimize.DEFAULT]`` and no
representative data set): the weights of every fully-connected and convolution layer are
stored as int8 with a float scale; at run time XNNPACK quantizes each activation row to int8 on
the fly and runs the matmul in int8 with int32 accumulation (the same scheme as CTranslate2's
``compute_type="int8"``, Klein et al. 2020). Attention scores (activation x activation), softmax,
layer norms and GELU stay float32.

Float islands. Dynamic-range int8 everywhere (revision 1) kept a median cosine >= 0.9998 to
float32 on every row of the pooled states on all 535 EmoDB clips, but 11 / 3 / 22 clips fell
under 0.999 in rows 4 / 5 / 6 (min 0.9956). No single op is to blame: in a few frames of a clip
(often one) blocks 4-6 grow large activations in a handful of residual channels (388, 145, 323,
372 of Whisper base) and amplify any small upstream error by 10-30x there; the float32 LiteRT
model itself fails the same clips when its log-Mel input gets 1 % noise, and int8 *weights* alone
(float activations) already fail 4 clips. What matters is where the error enters: the earlier,
the more it is amplified. Leaving the convolution stem and block 1's q/k/v projections in float32
(:data:`ISLANDS`, ``"int8"``; 5 of 38 matmuls, 0-18 % more time) cuts the clips under 0.999 to
0 / 0 / 2 (min 0.9974); the stem and blocks 1-2 wholly in float (``"mixed"``, 14 of 38) pass every
clip (min 0.9998) at 1.1-2x the int8 time. ``docs/performance.md`` section 4 has the measurements.
The islands are made after conversion (:func:`keep_float`): the float32 conversion's weights
replace the int8 weights of the chosen ops in the flatbuffer, so those ops run XNNPACK's float
kernels and every other matmul stays int8. :func:`smooth_encoder` (``convert_encoder(smooth=True)``,
off) is a data-free SmoothQuant (Xiao et al., ICML 2023, eq. 4, ``s_j = max|X_j|^a /
max|W_j|^(1-a)``, a = 0.5, the activation range of channel ``j`` after the norm taken as
``3 |gamma_j| + |beta_j|``) folded into the norms before q/k/v and the first MLP layer; it was
measured on revision 1 and lost (13 clips under 0.999 in the last row, min 0.9912).

:func:`convert_encoder` freezes a loaded :class:`~emozoo.backbones.whisper.encoder.WhisperEncoder`
(log-Mel ``[batch, frames, n_mels]`` -> hidden states ``[batch, L + 1, T, d]``, any length) into
a flatbuffer; :class:`LiteEncoder` runs it, resizing the input tensor to each clip's length (a
resize costs well under a millisecond; XNNPACK re-plans the same packed weights). The converted
model is cached on disk (:func:`cached_model`), keyed by the weights' id, the TF version and
this module's format revision, because conversion takes 10-20 s.

``docs/performance.md`` (section 4) measures speed against CTranslate2 int8 and the features'
cosine to the float32 port.

Example:

>>> enc = LiteEncoder(cached_model(backbone), threads=1)  # doctest: +SKIP
>>> enc(log_mel[None]).shape  # doctest: +SKIP
(1, 7, 150, 512)
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import tensorflow as tf

from emozoo.errors import FeatureError, WeightsError

# bump when the converted graph changes (inputs, outputs, options). 3: float islands (a revision-2
# key was used by an unreleased SmoothQuant trial, whose files may still sit in caches)
FORMAT_REVISION = 3
PRECISIONS = ("int8", "mixed", "float32")

# Ops left in float32 per quantized precision: (tag for store configs, regex on the weight tensor
# names of the frozen graph, how many ops it must match for an encoder with >= 2 blocks). The
# names come from the Keras layer paths (``encoder/conv1/...``,
# ``encoder/block_0/self_attention/query/...``); TF's tracing may add ``_1`` suffixes.
_S = r"(?:_\d+)?/"
ISLANDS = {
    "int8": ("stem+b1qkv", rf"(^|/)conv[12]{_S}|(^|/)block_0{_S}self_attention{_S}(query|key|value){_S}", 5),
    "mixed": ("stem+b1-2", rf"(^|/)conv[12]{_S}|(^|/)block_[01]{_S}", 14),
}


SMOOTH_ALPHA = 0.5


def smooth_encoder(encoder, alpha: float = SMOOTH_ALPHA):
    """A copy of ``encoder`` with data-free SmoothQuant factors folded into the layer norms that
    feed q/k/v and the first MLP layer, and into those layers' kernels (same float function;
    the module docstring gives the rule). ``encoder`` itself is left unchanged."""
    from emozoo.backbones.whisper.encoder import WhisperEncoder
    if not 0.0 <= alpha <= 1.0:
        raise FeatureError(f"SmoothQuant alpha must be in [0, 1], got {alpha}")
    out = WhisperEncoder.from_config(encoder.get_config())
    out.build((None, None, encoder.n_mels))
    out.set_weights(encoder.get_weights())
    for block in out.blocks:
        attn = block.attention
        for norm, dense in ((block.attention_norm, (attn._query_dense, attn._key_dense, attn._value_dense)),
                            (block.mlp_norm, (block.mlp_in,))):
            gamma, beta = norm.gamma.numpy(), norm.beta.numpy()
            act = 3.0 * np.abs(gamma) + np.abs(beta) + 1e-6
            w_max = np.max([np.abs(d.kernel.numpy()).reshape(d.kernel.shape[0], -1).max(axis=1) for d in dense],
                           axis=0) + 1e-6
            scale = act ** alpha / w_max ** (1.0 - alpha)
            scale = (scale / np.exp(np.log(scale).mean())).astype(np.float32)   # geometric mean 1
            norm.gamma.assign(gamma / scale)
            norm.beta.assign(beta / scale)
            for d in dense:
                kernel = d.kernel.numpy()
                d.kernel.assign(kernel * scale.reshape((-1,) + (1,) * (kernel.ndim - 1)))
    return out


def _flatbuffer_ops(model):
    """``(op index, weight tensor index, weight name)`` of every FULLY_CONNECTED / CONV_2D op."""
    from tensorflow.lite.python import schema_py_generated as schema
    graph, out = model.subgraphs[0], []
    kinds = (schema.BuiltinOperator.FULLY_CONNECTED, schema.BuiltinOperator.CONV_2D)
    for k, op in enumerate(graph.operators):
        if model.operatorCodes[op.opcodeIndex].builtinCode in kinds:
            out.append((k, int(op.inputs[1]), graph.tensors[op.inputs[1]].name.decode()))
    return out


def keep_float(int8_blob: bytes, float_blob: bytes, pattern: str, expected: int | None = None) -> bytes:
    """``int8_blob`` (dynamic-range int8) with the matmuls/convolutions whose weight name matches
    ``pattern`` given back their float32 weights from ``float_blob`` (the same graph converted
    without quantization), so XNNPACK runs those ops in float32 ("float islands").

    Args:
        int8_blob, float_blob: the two conversions of one encoder (:func:`convert_encoder`).
        pattern: regular expression searched in the weight tensors' names.
        expected: how many ops must match (a clear error when the converter's naming changed).
    """
    import re

    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema
    q = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(int8_blob, 0))
    f = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(float_blob, 0))
    float_weights = {name: f.subgraphs[0].tensors[t] for _, t, name in _flatbuffer_ops(f)}
    graph, hits = q.subgraphs[0], []
    for _, t, name in _flatbuffer_ops(q):
        if not re.search(pattern, name):
            continue
        src, dst = float_weights.get(name), graph.tensors[t]
        if src is None or list(src.shape) != list(dst.shape) or src.type != schema.TensorType.FLOAT32:
            raise FeatureError(f"float island: no float32 weights of shape {list(dst.shape)} named {name!r} "
                               "in the float conversion")
        weights = np.asarray(f.buffers[src.buffer].data, dtype=np.uint8)
        if dst.type == schema.TensorType.INT8:           # the int8 weights must be these, rounded
            w = weights.view(np.float32).reshape(dst.shape)
            scale = np.asarray(dst.quantization.scale, np.float32).reshape((-1,) + (1,) * (w.ndim - 1))
            qw = np.asarray(q.buffers[dst.buffer].data, dtype=np.uint8).view(np.int8).reshape(dst.shape)
            if np.any(np.abs(qw * scale - w) > 0.51 * scale + 1e-7):
                raise FeatureError(f"float island: the float and int8 weights of {name!r} differ")
        buffer = schema.BufferT()
        buffer.data = weights
        q.buffers.append(buffer)
        dst.buffer, dst.type, dst.quantization = len(q.buffers) - 1, schema.TensorType.FLOAT32, None
        hits.append(name)
    if expected is not None and len(hits) != expected:
        raise FeatureError(f"float island {pattern!r} matched {len(hits)} ops, expected {expected}: {hits}")
    used = {t.buffer for g in q.subgraphs for t in g.tensors}
    for i, buffer in enumerate(q.buffers):              # drop the replaced int8 weights
        if i not in used and i > 0:
            buffer.data = None
    builder = flatbuffers.Builder(2 * len(int8_blob))
    builder.Finish(q.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def float_ops(blob: bytes) -> dict[str, str]:
    """Weight name -> ``"float32"`` / ``"int8"`` for every matmul and convolution of a converted
    encoder (what runs in float, for tests and docs)."""
    from tensorflow.lite.python import schema_py_generated as schema
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(blob, 0))
    types = {v: k.lower() for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    return {name: types[model.subgraphs[0].tensors[t].type] for _, t, name in _flatbuffer_ops(model)}


def convert_encoder(encoder, quantize: bool = True, smooth: bool = False, islands: str | None = None) -> bytes:
    """Flatbuffer of ``encoder`` (a built, loaded ``WhisperEncoder``): input ``[batch, frames, n_mels]``
    float32 with dynamic batch and length, output ``[batch, L + 1, ceil(frames / 2), d]`` float32.

    Args:
        encoder: the Keras encoder (weights loaded).
        quantize: dynamic-range int8 weights (``Optimize.DEFAULT``); ``False`` keeps float32
            weights (a LiteRT float32 model, for comparisons).
        smooth: with ``quantize``, convert :func:`smooth_encoder` of ``encoder`` (measured, not the
            default: see the module docstring).
        islands: with ``quantize``, a key of :data:`ISLANDS` (``"int8"``, ``"mixed"``): those ops
            keep float32 weights (:func:`keep_float`); ``None`` quantizes every matmul.
    """
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2
    if islands is not None and islands not in ISLANDS:
        raise FeatureError(f"unknown float islands {islands!r}; known: {', '.join(ISLANDS)}")
    if quantize and islands is not None:
        _, pattern, expected = ISLANDS[islands]
        return keep_float(convert_encoder(encoder, True, smooth), convert_encoder(encoder, False),
                          pattern, expected)
    if quantize and smooth:
        encoder = smooth_encoder(encoder)

    @tf.function(input_signature=[tf.TensorSpec([None, None, encoder.n_mels], tf.float32)])
    def encode(mel):
        return encoder(mel)

    frozen = convert_variables_to_constants_v2(encode.get_concrete_function())
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return converter.convert()


def cache_dir() -> Path:
    """``$EMOZOO_COMPILED_DIR`` or ``~/.cache/emozoo/compiled`` (converted models; safe to delete)."""
    raw = os.environ.get("EMOZOO_COMPILED_DIR")
    return Path(raw).expanduser() if raw else Path.home() / ".cache" / "emozoo" / "compiled"


def model_key(weights_id: str, precision: str = "int8") -> str:
    """File name of a converted model: depends on the weights, TF's converter and this module."""
    islands = "|".join(map(str, ISLANDS.get(precision, ())))      # another island set: another file
    h = hashlib.sha256(f"{weights_id}|{precision}|{islands}|tf-{tf.__version__}|rev{FORMAT_REVISION}".encode())
    h = h.hexdigest()
    return f"whisper_encoder_{precision}_{h[:20]}.tflite"


def cached_model(backbone, precision: str = "int8") -> bytes:
    """The converted encoder of a preset ``backbone`` (``WhisperBackbone.from_preset``), from the
    cache when present (written atomically after a conversion; an unreadable file is converted
    again)."""
    if precision not in PRECISIONS:
        raise FeatureError(f"unknown Whisper precision {precision!r}; known: {', '.join(PRECISIONS)}")
    if not getattr(backbone, "weights_id", ""):
        # no id to key a cache on (a backbone built by hand): convert, keep nothing on disk
        return _convert(backbone, precision)
    path = cache_dir() / model_key(backbone.weights_id, precision)
    if path.is_file():
        blob = path.read_bytes()
        try:
            _interpreter(blob, 1)
            return blob
        except (ValueError, RuntimeError):
            pass                                   # truncated or foreign file: convert again
    blob = _convert(backbone, precision)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
        os.replace(tmp, path)
    except OSError as exc:                         # read-only home: run without a cache
        warnings.warn(f"could not cache the converted Whisper encoder in {path.parent}: {exc}")
    return blob


def _convert(backbone, precision: str) -> bytes:
    if precision == "float32":
        return convert_encoder(backbone.encoder, quantize=False)
    return convert_encoder(backbone.encoder, quantize=True, islands=precision)


def _interpreter(blob: bytes, threads: int):
    """A LiteRT interpreter (``ai_edge_litert`` when installed, else ``tf.lite``) with XNNPACK."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        Interpreter = tf.lite.Interpreter
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated.*")
        return Interpreter(model_content=blob, num_threads=int(threads))


class LiteEncoder:
    """Runs a converted encoder (:func:`convert_encoder`) on log-Mel inputs of any length.

    Args:
        blob: the flatbuffer.
        threads: XNNPACK threads (default: the cores this process may use).

    Call: ``mel [batch, frames, n_mels]`` float32 -> ``[batch, L + 1, ceil(frames / 2), d]``
    (a new array). Not thread-safe (one interpreter, resized per call).
    """

    def __init__(self, blob: bytes, threads: int | None = None):
        if threads is None:
            threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        if int(threads) < 1:
            raise FeatureError(f"threads must be >= 1, got {threads}")
        self.threads = int(threads)
        try:
            self._it = _interpreter(blob, self.threads)
        except (ValueError, RuntimeError) as exc:
            raise WeightsError(f"not a readable LiteRT Whisper encoder: {exc}") from None
        inp, = self._it.get_input_details()
        self._in, self.n_mels = inp["index"], int(inp["shape"][-1])
        self._out = self._it.get_output_details()[0]["index"]
        self._shape = None

    def __call__(self, mel) -> np.ndarray:
        mel = np.ascontiguousarray(mel, dtype=np.float32)
        if mel.ndim != 3 or mel.shape[-1] != self.n_mels or mel.shape[1] < 1:
            raise FeatureError(f"LiteEncoder needs log-Mel [batch, frames, {self.n_mels}], got {mel.shape}")
        if mel.shape != self._shape:
            self._it.resize_tensor_input(self._in, mel.shape, strict=False)
            self._it.allocate_tensors()
            self._shape = mel.shape
        self._it.set_tensor(self._in, mel)
        self._it.invoke()
        return self._it.get_tensor(self._out)
