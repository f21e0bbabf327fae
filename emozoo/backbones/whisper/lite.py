"""The Whisper encoder as a LiteRT (TFLite) model with dynamic-range int8 weights, run by XNNPACK.

Source: the LiteRT post-training "dynamic range quantization" recipe
(``tf.lite.TFLiteConverter`` with ``optimizations=[tf.lite.Optimize.DEFAULT]`` and no
representative data set): the weights of every fully-connected and convolution layer are
stored as int8 with a float scale; at run time XNNPACK quantizes each activation row to int8 on
the fly and runs the matmul in int8 with int32 accumulation (the same scheme as CTranslate2's
``compute_type="int8"``, Klein et al. 2020). Attention scores (activation x activation), softmax,
layer norms and GELU stay float32.

Accuracy (``benchmarks/results/whisper_int8_emodb.json``, all 535 EmoDB clips): the pooled rows
keep a median cosine >= 0.9998 to float32 on every layer, rows 0-3 >= 0.99988 on every clip, but
a few clips fall under 0.999 in rows 4-6 (11, 3 and 22 clips; min 0.9968 / 0.9987 / 0.9956).
:func:`smooth_encoder` (``convert_encoder(smooth=True)``, off by default) is a data-free
SmoothQuant (Xiao et al., ICML 2023, eq. 4, ``s_j = max|X_j|^a / max|W_j|^(1-a)``, a = 0.5, the
activation range of channel ``j`` after the norm taken as ``3 |gamma_j| + |beta_j|``) that folds
per-channel factors into the norms feeding q/k/v and the first MLP layer; it was measured and
lost (13 clips under 0.999 in the last row instead of 22, but its min fell to 0.9912;
``benchmarks/results/whisper_int8_emodb_smoothquant.json``).

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

FORMAT_REVISION = 1   # bump when the converted graph changes (inputs, outputs, options)
PRECISIONS = ("int8", "float32")


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


def convert_encoder(encoder, quantize: bool = True, smooth: bool = False) -> bytes:
    """Flatbuffer of ``encoder`` (a built, loaded ``WhisperEncoder``): input ``[batch, frames, n_mels]``
    float32 with dynamic batch and length, output ``[batch, L + 1, ceil(frames / 2), d]`` float32.

    Args:
        encoder: the Keras encoder (weights loaded).
        quantize: dynamic-range int8 weights (``Optimize.DEFAULT``); ``False`` keeps float32
            weights (a LiteRT float32 model, for comparisons).
        smooth: with ``quantize``, convert :func:`smooth_encoder` of ``encoder`` (measured, not the
            default: see the module docstring).
    """
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2
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
    h = hashlib.sha256(f"{weights_id}|{precision}|tf-{tf.__version__}|rev{FORMAT_REVISION}".encode()).hexdigest()
    return f"whisper_encoder_{precision}_{h[:20]}.tflite"


def cached_model(backbone, precision: str = "int8") -> bytes:
    """The converted encoder of a preset ``backbone`` (``WhisperBackbone.from_preset``), from the
    cache when present (written atomically after a conversion; an unreadable file is converted
    again)."""
    if precision not in PRECISIONS:
        raise FeatureError(f"unknown Whisper precision {precision!r}; known: {', '.join(PRECISIONS)}")
    if not getattr(backbone, "weights_id", ""):
        # no id to key a cache on (a backbone built by hand): convert, keep nothing on disk
        return convert_encoder(backbone.encoder, quantize=precision == "int8")
    path = cache_dir() / model_key(backbone.weights_id, precision)
    if path.is_file():
        blob = path.read_bytes()
        try:
            _interpreter(blob, 1)
            return blob
        except (ValueError, RuntimeError):
            pass                                   # truncated or foreign file: convert again
    blob = convert_encoder(backbone.encoder, quantize=precision == "int8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
        os.replace(tmp, path)
    except OSError as exc:                         # read-only home: run without a cache
        warnings.warn(f"could not cache the converted Whisper encoder in {path.parent}: {exc}")
    return blob


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
