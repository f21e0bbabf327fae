"""A numpy-only reader of CTranslate2's binary model format (``model.bin``, spec version 6).

Source: CTranslate2 ``python/ctranslate2/specs/model_spec.py`` (``ModelSpec._serialize``) and
``src/models/model.cc`` (``Model::load``). The layout, all integers little-endian:

- ``uint32`` binary version (this reader accepts 6; the one current releases write),
- the spec name (``uint16`` length incl. a trailing NUL, then UTF-8 bytes), ``uint32`` revision,
- ``uint32`` number of variables, then per variable: name, ``uint8`` rank, ``rank x uint32``
  shape, ``uint8`` dtype id, ``uint32`` byte count, the raw row-major bytes,
- ``uint32`` number of aliases, then per alias: alias name, target variable name.

The dtype ids are CTranslate2's ``DataType`` enum: 0 float32, 1 int8, 2 int16, 3 int32,
4 float16, 5 bfloat16 (bfloat16 is returned widened to float32; int8 quantised models also store
``<name>_scale`` variables, returned as they are).

Example:

>>> model = read_ct2_model(emozoo.weights.path("whisper_base") / "model.bin")  # doctest: +SKIP
>>> model.name, model.variables["encoder/conv1/weight"].shape  # doctest: +SKIP
('WhisperSpec', (512, 80, 3))
"""
from __future__ import annotations

import dataclasses
import mmap
import os
import struct
from pathlib import Path

import numpy as np

from emozoo.errors import WeightsError

SUPPORTED_VERSIONS = (6,)

# CTranslate2 DataType enum -> numpy dtype (bfloat16 handled separately).
_DTYPES = {0: np.dtype("<f4"), 1: np.dtype("i1"), 2: np.dtype("<i2"), 3: np.dtype("<i4"),
           4: np.dtype("<f2")}
_BFLOAT16 = 5


@dataclasses.dataclass
class CT2Model:
    """The content of a CTranslate2 ``model.bin``.

    Args:
        name: the spec's name (``WhisperSpec``, ``TransformerSpec`` ...).
        revision: the spec's revision number.
        version: the binary format version of the file.
        variables: variable name -> numpy array in its stored dtype (bfloat16 widened to float32).
        aliases: alias name -> the variable name it refers to.
    """

    name: str
    revision: int
    version: int
    variables: dict
    aliases: dict

    def get(self, name: str) -> np.ndarray:
        """The variable ``name`` (following an alias); a clear error when it is absent."""
        target = self.aliases.get(name, name)
        if target not in self.variables:
            raise WeightsError(f"CTranslate2 model {self.name!r} has no variable {name!r}")
        return self.variables[target]


class _Cursor:
    def __init__(self, buf, path):
        self.buf, self.pos, self.path = buf, 0, path

    def take(self, n: int, what: str):
        end = self.pos + n
        if n < 0 or end > len(self.buf):
            raise WeightsError(f"{self.path}: truncated or corrupt CTranslate2 model "
                               f"(needs {n} bytes for {what} at offset {self.pos}, file has {len(self.buf)}); "
                               "reinstall the weights (python -m emozoo.weights install NAME)")
        out = self.buf[self.pos:end]  # a bytes copy (mmap slicing)
        self.pos = end
        return out

    def skip(self, n: int, what: str) -> None:
        if self.pos + n > len(self.buf):
            self.take(n, what)  # raises the truncation error
        self.pos += n

    def unpack(self, fmt: str, what: str):
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))

    def string(self, what: str) -> str:
        (n,) = self.unpack("H", what + " length")
        raw = self.take(n, what)
        if n == 0 or raw[-1] != 0:
            raise WeightsError(f"{self.path}: corrupt CTranslate2 model (string {what!r} at offset "
                               f"{self.pos - n} is not NUL-terminated)")
        try:
            return raw[:-1].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WeightsError(f"{self.path}: corrupt CTranslate2 model ({what} is not UTF-8)") from exc


def read_ct2_model(path: str | os.PathLike, *, prefix: str | None = None) -> CT2Model:
    """Read a CTranslate2 ``model.bin`` with numpy only.

    Args:
        path: the ``model.bin`` file.
        prefix: optional; when given, only variables whose name starts with it are
            materialised (e.g. ``"encoder/"``), the others are skipped without copying.

    Returns:
        A :class:`CT2Model`. Arrays are writable copies (the file is closed on return).

    Raises:
        WeightsError: the file is missing, truncated, corrupt, or of an unsupported version.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"CTranslate2 model file {path} does not exist; "
                           "run: python -m emozoo.weights install NAME")
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size < 4:
            raise WeightsError(f"{path}: truncated CTranslate2 model ({size} bytes)")
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            return _parse(_Cursor(mm, path), prefix)


def _parse(cur: _Cursor, prefix: str | None) -> CT2Model:
    (version,) = cur.unpack("I", "the binary version")
    if version not in SUPPORTED_VERSIONS:
        raise WeightsError(f"{cur.path}: CTranslate2 binary version {version} is not supported "
                           f"(this reader reads {SUPPORTED_VERSIONS}); is it a CTranslate2 model.bin?")
    name = cur.string("the spec name")
    (revision,) = cur.unpack("I", "the revision")
    (count,) = cur.unpack("I", "the variable count")
    variables = {}
    for i in range(count):
        var = cur.string(f"variable {i} name")
        (rank,) = cur.unpack("B", f"{var} rank")
        shape = cur.unpack(f"{rank}I", f"{var} shape") if rank else ()
        (dtype_id,) = cur.unpack("B", f"{var} dtype")
        (nbytes,) = cur.unpack("I", f"{var} byte count")
        if prefix is not None and not var.startswith(prefix):
            cur.skip(nbytes, f"{var} values")
            continue
        raw = cur.take(nbytes, f"{var} values")
        n = int(np.prod(shape, dtype=np.int64))
        if dtype_id == _BFLOAT16:
            itemsize = 2
        elif dtype_id in _DTYPES:
            itemsize = _DTYPES[dtype_id].itemsize
        else:
            raise WeightsError(f"{cur.path}: variable {var!r} has unknown CTranslate2 dtype id {dtype_id}")
        if n * itemsize != nbytes:
            raise WeightsError(f"{cur.path}: corrupt CTranslate2 model: variable {var!r} of shape {shape} "
                               f"declares {nbytes} bytes, expected {n * itemsize}")
        if dtype_id == _BFLOAT16:
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = bits.view(np.float32).reshape(shape)
        else:
            arr = np.frombuffer(bytearray(raw), dtype=_DTYPES[dtype_id]).reshape(shape)  # writable
        variables[var] = arr
    (n_alias,) = cur.unpack("I", "the alias count")
    aliases = {}
    for i in range(n_alias):
        alias = cur.string(f"alias {i}")
        aliases[alias] = cur.string(f"alias {i} target")
    if cur.pos != len(cur.buf):
        raise WeightsError(f"{cur.path}: corrupt CTranslate2 model ({len(cur.buf) - cur.pos} unexpected "
                           "bytes after the aliases)")
    return CT2Model(name, int(revision), int(version), variables, aliases)
