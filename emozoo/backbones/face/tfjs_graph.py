"""A numpy reader for TensorFlow.js graph models (``model.json`` + ``*.bin`` weight shards).

Format (tfjs-converter, "graph-model"): ``model.json`` holds ``modelTopology`` (a TensorFlow
``GraphDef`` as JSON: ``node`` = ``[{name, op, input, attr}]``) and ``weightsManifest``, a list of
groups ``{"paths": [shard files], "weights": [{name, shape, dtype, quantization?}]}``. The shards
of one group are concatenated and the weights lie in it back to back, in manifest order, each
``prod(shape) * itemsize`` bytes (little-endian). Quantized weights carry
``quantization = {dtype, scale, min, original_dtype}``:

=========  ===========  ======================================================
stored     bytes/value  value
=========  ===========  ======================================================
uint8      1            ``q * scale + min`` (affine, tfjs ``dequantizeWeights``)
uint16     2            ``q * scale + min``
float16    2            IEEE half, widened to float32
=========  ===========  ======================================================

Plain dtypes read: ``float32``, ``int32``, ``bool`` (1 byte). Anything else (``string``,
``complex64``, unknown quantization) is refused with :class:`~emozoo.errors.WeightsError`, as is
a shard that is missing or shorter/longer than the manifest says, and a weight asked for by a
name the manifest does not hold. Nothing is executed: the graph is only read, so a converter
(``mobilenet.py``, ``mini_xception.py``) can check it has the structure it expects.

Example:

>>> graph = read_graph_model(emozoo.weights.path("face_mobilenet") / "faceres-deep.json")  # doctest: +SKIP
>>> graph.weight("feats/kernel").shape                                                    # doctest: +SKIP
(1024, 256)
>>> graph.node("conv_dw_2/depthwise").strides                                             # doctest: +SKIP
(2, 2)
"""
from __future__ import annotations

import base64
import dataclasses
import json
import os
from pathlib import Path

import numpy as np

from emozoo.errors import WeightsError

_PLAIN = {"float32": np.dtype("<f4"), "int32": np.dtype("<i4"), "bool": np.dtype("u1")}
_QUANT = {"uint8": np.dtype("u1"), "uint16": np.dtype("<u2"), "float16": np.dtype("<f2")}


@dataclasses.dataclass(frozen=True)
class GraphNode:
    """One ``GraphDef`` node: ``name``, ``op``, ``inputs`` (names, ``:k`` / ``^`` stripped), raw ``attr``."""

    name: str
    op: str
    inputs: tuple
    attr: dict

    def _list(self, key) -> tuple:
        return tuple(int(i) for i in self.attr.get(key, {}).get("list", {}).get("i", []))

    def _string(self, key) -> str:
        raw = self.attr.get(key, {}).get("s")
        return base64.b64decode(raw).decode("ascii") if raw else ""

    @property
    def strides(self) -> tuple:
        """Spatial strides ``(h, w)`` of a conv / pool node in NHWC."""
        s = self._list("strides")
        return (s[1], s[2]) if len(s) == 4 else ()

    @property
    def ksize(self) -> tuple:
        s = self._list("ksize")
        return (s[1], s[2]) if len(s) == 4 else ()

    @property
    def padding(self) -> str:
        """``SAME`` / ``VALID`` (attrs are base64 in the JSON GraphDef)."""
        return self._string("padding")

    @property
    def data_format(self) -> str:
        return self._string("data_format") or "NHWC"

    @property
    def fused_ops(self) -> tuple:
        raw = self.attr.get("fused_ops", {}).get("list", {}).get("s", [])
        return tuple(base64.b64decode(s).decode("ascii") for s in raw)


@dataclasses.dataclass(frozen=True)
class GraphModel:
    """A TF.js graph model read into numpy: ``nodes`` (in file order) and ``weights`` by name."""

    path: Path
    nodes: tuple
    weights: dict
    signature: dict
    metadata: dict

    def weight(self, name: str) -> np.ndarray:
        """The weight called ``name``; :class:`WeightsError` when the manifest has no such weight."""
        if name not in self.weights:
            raise WeightsError(f"{self.path}: the TF.js weights manifest has no weight {name!r} "
                               f"({len(self.weights)} weights); the file is not the model this converter "
                               "expects, or it is damaged: reinstall it")
        return self.weights[name]

    def node(self, name: str) -> GraphNode:
        for n in self.nodes:
            if n.name == name:
                return n
        raise WeightsError(f"{self.path}: the TF.js graph has no node {name!r}; the file is not the model "
                           "this converter expects, or it is damaged: reinstall it")

    def ops(self) -> dict:
        """``{op: count}`` over the nodes (a quick structural fingerprint)."""
        out: dict = {}
        for n in self.nodes:
            out[n.op] = out.get(n.op, 0) + 1
        return out

    def consumers(self, name: str) -> list:
        """Nodes that take ``name`` as an input."""
        return [n for n in self.nodes if name in n.inputs]


def _decode(entry: dict, raw: bytes, where: str) -> tuple[np.ndarray, int]:
    """One manifest entry from ``raw`` (starting at 0) -> (array, bytes used)."""
    name = entry.get("name")
    shape = tuple(int(d) for d in entry.get("shape", []))
    dtype = entry.get("dtype")
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    quant = entry.get("quantization")
    if quant is not None:
        qdtype = quant.get("dtype")
        if qdtype not in _QUANT:
            raise WeightsError(f"{where}: weight {name!r} uses TF.js quantization {qdtype!r}; "
                               f"supported: {', '.join(_QUANT)}")
        if dtype not in ("float32", None) or quant.get("original_dtype", "float32") != "float32":
            raise WeightsError(f"{where}: weight {name!r}: quantized {dtype!r} weights are not supported "
                               "(only quantized float32)")
        stored = _QUANT[qdtype]
        size = count * stored.itemsize
        if len(raw) < size:
            raise WeightsError(f"{where}: weight shards end inside weight {name!r} (truncated .bin); "
                               "reinstall the weights")
        q = np.frombuffer(raw[:size], stored)
        if qdtype == "float16":
            values = q.astype(np.float32)
        else:
            if "scale" not in quant or "min" not in quant:
                raise WeightsError(f"{where}: weight {name!r}: {qdtype} quantization without scale/min")
            values = q.astype(np.float32) * np.float32(quant["scale"]) + np.float32(quant["min"])
        return values.reshape(shape), size
    if dtype not in _PLAIN:
        raise WeightsError(f"{where}: weight {name!r} has dtype {dtype!r}; the reader supports "
                           f"{', '.join(_PLAIN)} and quantized {', '.join(_QUANT)}")
    stored = _PLAIN[dtype]
    size = count * stored.itemsize
    if len(raw) < size:
        raise WeightsError(f"{where}: weight shards end inside weight {name!r} (truncated .bin); "
                           "reinstall the weights")
    values = np.frombuffer(raw[:size], stored).copy()
    values = values.astype(bool) if dtype == "bool" else values.astype(stored.newbyteorder("="))
    return values.reshape(shape), size


def read_graph_model(model_json) -> GraphModel:
    """Read a TF.js graph model: ``model_json`` (path of ``model.json``) and the shards beside it.

    Raises:
        WeightsError: missing/invalid JSON, not a graph model, missing or truncated shards, extra
            bytes after the last weight, unsupported dtype or quantization.
    """
    path = Path(os.fspath(model_json))
    if not path.is_file():
        raise WeightsError(f"TF.js model file {path} does not exist")
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WeightsError(f"{path} is not valid JSON ({exc}); reinstall the weights") from None
    if not isinstance(spec, dict) or "modelTopology" not in spec or "weightsManifest" not in spec:
        raise WeightsError(f"{path} is not a TF.js model.json (no modelTopology / weightsManifest)")
    fmt = spec.get("format", "graph-model")
    if fmt != "graph-model":
        raise WeightsError(f"{path} is a TF.js {fmt!r}; this reader takes graph models only")
    topology = spec["modelTopology"]
    if not isinstance(topology, dict) or not isinstance(topology.get("node"), list):
        raise WeightsError(f"{path}: modelTopology has no GraphDef node list")
    nodes = []
    for n in topology["node"]:
        inputs = tuple(i.split(":")[0] for i in n.get("input", []) if not i.startswith("^"))
        nodes.append(GraphNode(n["name"], n["op"], inputs, n.get("attr", {})))
    weights: dict = {}
    for g, group in enumerate(spec["weightsManifest"]):
        shards = [path.parent / p for p in group.get("paths", [])]
        missing = [str(s) for s in shards if not s.is_file()]
        if missing:
            raise WeightsError(f"{path}: weight shard(s) missing: {', '.join(missing)}; reinstall the weights")
        raw = b"".join(s.read_bytes() for s in shards)
        where = f"{path} (group {g}: {', '.join(s.name for s in shards)})"
        offset = 0
        for entry in group.get("weights", []):
            values, used = _decode(entry, memoryview(raw)[offset:], where)
            weights[entry["name"]] = values
            offset += used
        if offset != len(raw):
            raise WeightsError(f"{where}: {len(raw) - offset} bytes after the last weight the manifest "
                               "lists; the shards do not match model.json: reinstall the weights")
    return GraphModel(path, tuple(nodes), weights, spec.get("signature", {}) or {},
                      spec.get("userDefinedMetadata", {}) or {})
