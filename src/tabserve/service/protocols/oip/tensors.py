"""OIP v2 tensors off the wire: the JSON header and binary tail split, each input decoded and checked.

Values come from an input's JSON ``data`` (flat, or nested exactly as the shape
says; row-major) or from
its ``binary_data_size`` bytes of the tail (little-endian; BYTES elements are a
4-byte length then UTF-8 text); either way the count must fill the shape.
"""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np
import orjson

from tabserve.service.protocols import ProtocolError

NUMERIC_TYPES = {"FP64": "<f8", "FP32": "<f4", "INT64": "<i8", "BOOL": "|b1"}
DATATYPES = (*NUMERIC_TYPES, "BYTES")
LENGTH = struct.Struct("<I")
MAX_DIMS = 8
MAX_DIM = 2**31 - 1


def text(value: Any, limit: int = 60) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def split_body(body: bytes, header_length: str | None) -> tuple[dict[str, Any], memoryview]:
    """The JSON header and the binary tail of a request (an empty tail without the extension).

    The tail is a view of the body, not a copy: a 10k-row batch's tensors are read in place.
    """
    if header_length is None:
        head, tail = body, memoryview(b"")
    else:
        if not header_length.strip().isdigit() or int(header_length) > len(body):
            raise ProtocolError(
                f"Inference-Header-Content-Length must be a byte count within the body ({len(body)} bytes)"
            )
        size = int(header_length)
        head, tail = body[:size], memoryview(body)[size:]
    try:
        header = orjson.loads(head)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"the inference header is not valid JSON: {exc}") from None
    if type(header) is not dict:
        raise ProtocolError("the inference request must be a JSON object")
    return header, tail


def _shape(spec: dict[str, Any], name: str) -> list[int]:
    shape = spec.get("shape")
    if (
        type(shape) is not list
        or not 0 < len(shape) <= MAX_DIMS
        or not all(type(d) is int and 0 <= d <= MAX_DIM for d in shape)
    ):
        raise ProtocolError(
            f"input '{text(name)}': shape must be a list of 1 to {MAX_DIMS} integers from 0 to {MAX_DIM}"
        )
    return shape


def _flatten(data: Any, shape: list[int], name: str) -> list[Any]:
    """Row-major values of a JSON ``data`` field: flat, or nested exactly as ``shape`` says."""
    if type(data) is not list:
        raise ProtocolError(f"input '{text(name)}': data must be a list")
    if not data or type(data[0]) is not list:
        return data
    flat: list[Any] = []
    level = [data]
    for depth, size in enumerate(shape):
        last = depth == len(shape) - 1
        following: list[Any] = []
        for item in level:
            if type(item) is not list or len(item) != size:
                raise ProtocolError(f"input '{text(name)}': nested data does not match shape {shape}")
            if last:
                if any(type(value) is list for value in item):
                    raise ProtocolError(f"input '{text(name)}': nested data is deeper than shape {shape}")
                flat.extend(item)
            else:
                following.extend(item)
        level = following
    return flat


def _decode_bytes(raw: bytes, count: int, name: str) -> list[str]:
    values = []
    at = 0
    for _ in range(count):
        if at + 4 > len(raw):
            raise ProtocolError(f"input '{name}': binary BYTES data ends early")
        (size,) = LENGTH.unpack_from(raw, at)
        at += 4
        if at + size > len(raw):
            raise ProtocolError(f"input '{name}': binary BYTES data ends early")
        try:
            values.append(raw[at : at + size].decode("utf-8"))
        except UnicodeDecodeError:
            raise ProtocolError(f"input '{name}': BYTES elements must be UTF-8 text") from None
        at += size
    if at != len(raw):
        raise ProtocolError(f"input '{name}': binary_data_size is larger than its {count} elements")
    return values


class Tensor:
    """One input tensor: its name, datatype, shape and values (a numpy array or a list of str)."""

    def __init__(self, name: str, datatype: str, shape: list[int], values: Any) -> None:
        self.name, self.datatype, self.shape, self.values = name, datatype, shape, values


def decode_inputs(header: dict[str, Any], tail: memoryview) -> list[Tensor]:
    """Each input's values from JSON ``data`` or from its slice of the binary tail, checked against shape."""
    inputs = header.get("inputs")
    if type(inputs) is not list or not inputs:
        raise ProtocolError("'inputs' must be a non-empty list of tensors")
    tensors = []
    at = 0
    for spec in inputs:
        if type(spec) is not dict or type(spec.get("name")) is not str:
            raise ProtocolError("each input must be an object with a 'name'")
        name = spec["name"]
        datatype = spec.get("datatype")
        if datatype not in DATATYPES:
            raise ProtocolError(
                f"input '{text(name)}': datatype {text(datatype)} not supported ({', '.join(DATATYPES)})"
            )
        shape = _shape(spec, name)
        count = math.prod(shape)
        parameters = spec.get("parameters") or {}
        if type(parameters) is not dict:
            raise ProtocolError(f"input '{text(name)}': parameters must be an object")
        size = parameters.get("binary_data_size")
        if size is not None:
            if type(size) is not int or size < 0 or at + size > len(tail):
                raise ProtocolError(f"input '{text(name)}': binary_data_size is beyond the binary data")
            raw = tail[at : at + size]
            at += size
            if datatype == "BYTES":
                values: Any = _decode_bytes(bytes(raw), count, name)
            else:
                dtype = np.dtype(NUMERIC_TYPES[datatype])
                if size != count * dtype.itemsize:
                    raise ProtocolError(
                        f"input '{text(name)}': {size} bytes do not hold shape {shape} of {datatype}"
                    )
                values = np.frombuffer(raw, dtype=dtype)
                if datatype == "BOOL" and values.view(np.uint8).max(initial=0) > 1:
                    raise ProtocolError(f"input '{text(name)}': BOOL bytes must be 0 or 1")
        else:
            flat = _flatten(spec.get("data"), shape, name)
            if len(flat) != count:
                raise ProtocolError(f"input '{text(name)}': {len(flat)} values do not fill shape {shape}")
            values = _json_values(flat, datatype, name)
        tensors.append(Tensor(name, datatype, shape, values))
    if at != len(tail):
        raise ProtocolError("the body has binary data that no input's binary_data_size accounts for")
    return tensors


def _json_values(flat: list[Any], datatype: str, name: str) -> Any:
    if datatype == "BYTES":
        if not all(type(v) is str for v in flat):
            raise ProtocolError(f"input '{text(name)}': BYTES data must be strings")
        return flat
    if datatype == "BOOL":
        if not all(type(v) is bool for v in flat):
            raise ProtocolError(f"input '{text(name)}': BOOL data must be true or false")
        return np.asarray(flat, dtype=bool)
    kind = float if datatype.startswith("FP") else int
    for value in flat:
        if type(value) is bool or not isinstance(value, int | float):
            raise ProtocolError(f"input '{text(name)}': {datatype} data must be numbers")
        if kind is int and type(value) is not int:
            raise ProtocolError(f"input '{text(name)}': INT64 data must be integers")
    try:
        return np.asarray(flat, dtype=NUMERIC_TYPES[datatype])
    except OverflowError:
        raise ProtocolError(f"input '{text(name)}': a value does not fit {datatype}") from None
