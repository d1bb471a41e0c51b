"""Raw tensor bytes to values and back: the Open Inference Protocol's binary layout.

Shared by the REST binary extension and gRPC's ``raw_input_contents`` /
``raw_output_contents``: fixed-size types are little-endian arrays, BOOL one byte per
element, BYTES a 4-byte little-endian length before each element. A buffer that does
not fit its datatype is a :class:`RequestError` naming the input.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from kfops.serving.errors import RequestError

DTYPES: dict[str, np.dtype] = {
    name: np.dtype(code)
    for name, code in {
        "BOOL": "?",
        "INT8": "<i1",
        "INT16": "<i2",
        "INT32": "<i4",
        "INT64": "<i8",
        "UINT8": "<u1",
        "UINT16": "<u2",
        "UINT32": "<u4",
        "UINT64": "<u8",
        "FP16": "<f2",
        "FP32": "<f4",
        "FP64": "<f8",
    }.items()
}
_LENGTH = struct.Struct("<I")


def decode(name: str, datatype: str, raw: bytes | memoryview) -> list[Any]:
    """The flat values of one input's raw buffer (strings for BYTES)."""
    if datatype == "BYTES":
        return _decode_bytes(name, raw)
    dtype = DTYPES.get(datatype)
    if dtype is None:
        raise RequestError(f"input '{name}': datatype '{datatype}' is not an Open Inference type")
    if len(raw) % dtype.itemsize:
        raise RequestError(
            f"input '{name}': {len(raw)} bytes is not a whole number of {datatype} values "
            f"({dtype.itemsize} bytes each); check its binary_data_size"
        )
    values = np.frombuffer(raw, dtype=dtype)
    if datatype == "BOOL" and np.any(np.frombuffer(raw, dtype=np.uint8) > 1):
        raise RequestError(f"input '{name}': BOOL bytes must be 0 or 1")
    return values.tolist()


def _decode_bytes(name: str, raw: bytes | memoryview) -> list[Any]:
    view = memoryview(raw)
    values: list[Any] = []
    offset = 0
    while offset < len(view):
        if offset + 4 > len(view):
            raise RequestError(
                f"input '{name}': BYTES element {len(values)} has a truncated length prefix"
            )
        (size,) = _LENGTH.unpack_from(view, offset)
        offset += 4
        if offset + size > len(view):
            raise RequestError(
                f"input '{name}': BYTES element {len(values)} declares {size} bytes, "
                f"{len(view) - offset} are left"
            )
        element = bytes(view[offset : offset + size])
        offset += size
        try:
            values.append(element.decode("utf-8"))
        except UnicodeDecodeError:
            raise RequestError(
                f"input '{name}': BYTES element {len(values)} is not UTF-8 text"
            ) from None
    return values


def encode(datatype: str, values: np.ndarray) -> bytes:
    """The raw buffer of one output (row-major)."""
    flat = values.ravel()
    if datatype == "BYTES":
        parts = []
        for value in flat.tolist():
            data = value if isinstance(value, bytes) else str(value).encode("utf-8")
            parts.append(_LENGTH.pack(len(data)))
            parts.append(data)
        return b"".join(parts)
    return np.ascontiguousarray(flat, dtype=DTYPES[datatype]).tobytes()
