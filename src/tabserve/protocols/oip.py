"""Open Inference Protocol v2 (KServe / Triton "V2"), REST: tensors in, tensors out.

Inputs are either one ``[N, F]`` tensor whose columns are the features in
schema order (FP64, FP32, INT64 or BOOL), or one ``[N]`` / ``[N, 1]`` tensor
per feature named by column (BYTES for categorical columns). Outputs are
``predict`` (BYTES labels, ``[N]``) and ``predict_proba`` (FP64, ``[N, C]``);
without ``outputs`` in the request both are returned.

The binary tensor data extension works both ways: a request whose JSON header
is followed by raw tensor bytes (``Inference-Header-Content-Length`` says where
the header ends, each binary input's ``parameters.binary_data_size`` how many
bytes it takes), and outputs asked for with ``binary_data`` (or the request's
``binary_data_output``) come back as raw bytes after the JSON header.
Little-endian throughout; BYTES elements are a 4-byte length then the bytes.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from tabserve.inputs import Batch
from tabserve.predictor import Predictor
from tabserve.protocols import ProtocolError
from tabserve.service.predict_core import PredictCore, PredictResult

HEADER_LENGTH = "inference-header-content-length"
JSON_CT = b"application/json"
BINARY_CT = b"application/octet-stream"
OUTPUTS = ("predict", "predict_proba")
NUMERIC_TYPES = {"FP64": "<f8", "FP32": "<f4", "INT64": "<i8", "BOOL": "|b1"}
DATATYPES = (*NUMERIC_TYPES, "BYTES")
_LENGTH = struct.Struct("<I")
MAX_DIMS = 8
MAX_DIM = 2**31 - 1


@dataclass(frozen=True)
class InferRequest:
    """A decoded infer request: its id, the batch, and which outputs to send how."""

    id: str | None
    batch: Batch
    outputs: dict[str, bool]  # output name -> binary


def _text(value: Any, limit: int = 60) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def split_body(body: bytes, header_length: str | None) -> tuple[dict[str, Any], bytes]:
    """The JSON header and the binary tail of a request (an empty tail without the extension)."""
    if header_length is None:
        head, tail = body, b""
    else:
        if not header_length.strip().isdigit() or int(header_length) > len(body):
            raise ProtocolError(
                f"Inference-Header-Content-Length must be a byte count within the body ({len(body)} bytes)"
            )
        size = int(header_length)
        head, tail = body[:size], body[size:]
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
            f"input '{_text(name)}': shape must be a list of 1 to {MAX_DIMS} integers from 0 to {MAX_DIM}"
        )
    return shape


def _flatten(data: Any, name: str) -> list[Any]:
    """Row-major values of a JSON ``data`` field, nested or already flat."""
    if type(data) is not list:
        raise ProtocolError(f"input '{name}': data must be a list")
    if not data or type(data[0]) is not list:
        return data
    flat: list[Any] = []
    stack = [data]
    while stack:  # nested lists, depth first, in order
        item = stack.pop()
        if type(item) is list:
            stack.extend(reversed(item))
        else:
            flat.append(item)
    return flat


def _decode_bytes(raw: bytes, count: int, name: str) -> list[str]:
    values = []
    at = 0
    for _ in range(count):
        if at + 4 > len(raw):
            raise ProtocolError(f"input '{name}': binary BYTES data ends early")
        (size,) = _LENGTH.unpack_from(raw, at)
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


def decode_inputs(header: dict[str, Any], tail: bytes) -> list[Tensor]:
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
                f"input '{_text(name)}': datatype {_text(datatype)} not supported ({', '.join(DATATYPES)})"
            )
        shape = _shape(spec, name)
        count = math.prod(shape)
        parameters = spec.get("parameters") or {}
        if type(parameters) is not dict:
            raise ProtocolError(f"input '{_text(name)}': parameters must be an object")
        size = parameters.get("binary_data_size")
        if size is not None:
            if type(size) is not int or size < 0 or at + size > len(tail):
                raise ProtocolError(f"input '{_text(name)}': binary_data_size is beyond the binary data")
            raw = tail[at : at + size]
            at += size
            if datatype == "BYTES":
                values: Any = _decode_bytes(raw, count, name)
            else:
                dtype = np.dtype(NUMERIC_TYPES[datatype])
                if size != count * dtype.itemsize:
                    raise ProtocolError(
                        f"input '{_text(name)}': {size} bytes do not hold shape {shape} of {datatype}"
                    )
                values = np.frombuffer(raw, dtype=dtype)
        else:
            flat = _flatten(spec.get("data"), name)
            if len(flat) != count:
                raise ProtocolError(f"input '{_text(name)}': {len(flat)} values do not fill shape {shape}")
            values = _json_values(flat, datatype, name)
        tensors.append(Tensor(name, datatype, shape, values))
    if at != len(tail):
        raise ProtocolError("the body has binary data that no input's binary_data_size accounts for")
    return tensors


def _json_values(flat: list[Any], datatype: str, name: str) -> Any:
    if datatype == "BYTES":
        if not all(type(v) is str for v in flat):
            raise ProtocolError(f"input '{_text(name)}': BYTES data must be strings")
        return flat
    if datatype == "BOOL":
        if not all(type(v) is bool for v in flat):
            raise ProtocolError(f"input '{_text(name)}': BOOL data must be true or false")
        return np.asarray(flat, dtype=bool)
    kind = float if datatype.startswith("FP") else int
    for value in flat:
        if type(value) is bool or not isinstance(value, int | float):
            raise ProtocolError(f"input '{_text(name)}': {datatype} data must be numbers")
        if kind is int and type(value) is not int:
            raise ProtocolError(f"input '{_text(name)}': INT64 data must be integers")
    try:
        return np.asarray(flat, dtype=NUMERIC_TYPES[datatype])
    except OverflowError:
        raise ProtocolError(f"input '{_text(name)}': a value does not fit {datatype}") from None


def requested_outputs(header: dict[str, Any]) -> dict[str, bool]:
    """Output name -> send as binary; both outputs (as JSON unless ``binary_data_output``) by default."""
    parameters = header.get("parameters") or {}
    if type(parameters) is not dict:
        raise ProtocolError("'parameters' must be an object")
    default_binary = parameters.get("binary_data_output", False) is True
    outputs = header.get("outputs")
    if outputs is None:
        return dict.fromkeys(OUTPUTS, default_binary)
    if type(outputs) is not list or not outputs:
        raise ProtocolError("'outputs' must be a non-empty list")
    chosen: dict[str, bool] = {}
    for spec in outputs:
        name = spec.get("name") if type(spec) is dict else None
        if name not in OUTPUTS:
            raise ProtocolError(f"unknown output {_text(name)}; this model has {', '.join(OUTPUTS)}")
        spec_parameters = spec.get("parameters") or {}
        if type(spec_parameters) is not dict:
            raise ProtocolError(f"output '{name}': parameters must be an object")
        chosen[name] = spec_parameters.get("binary_data", default_binary) is True
    return chosen


def to_batch(core: PredictCore, predictor: Predictor, tensors: list[Tensor]) -> Batch:
    """One ``[N, F]`` tensor in feature order, or one tensor per feature named by column."""
    names = predictor.schema.names
    if len(tensors) == 1 and len(tensors[0].shape) == 2 and tensors[0].name not in names:
        tensor = tensors[0]
        if tensor.datatype == "BYTES":
            values = np.asarray(tensor.values, dtype=object).reshape(tensor.shape)
        else:
            values = np.asarray(tensor.values).reshape(tensor.shape)
        return core.matrix(predictor, values)
    columns: dict[str, Any] = {}
    numeric = {f.name for f in predictor.schema.features if f.type == "numeric"}
    for tensor in tensors:
        if tensor.name not in names:
            raise ProtocolError(
                f"input '{_text(tensor.name)}' is not a feature; send one [N, {len(names)}] tensor "
                f"or one tensor per feature ({', '.join(names)})"
            )
        if len(tensor.shape) > 2 or (len(tensor.shape) == 2 and tensor.shape[1] != 1):
            raise ProtocolError(f"input '{tensor.name}': a feature tensor has shape [N] or [N, 1]")
        values = tensor.values
        if type(values) is not list:  # BOOL into a numeric feature counts 0/1, as in a matrix tensor
            values = values.astype(np.float64) if tensor.name in numeric and values.dtype == bool else values
            values = values.tolist()
        columns[tensor.name] = values
    return core.columns(predictor, columns)


def decode_request(
    core: PredictCore, predictor: Predictor, body: bytes, header_length: str | None
) -> InferRequest:
    """Body bytes (and the header length of the binary extension) to a validated batch."""
    header, tail = split_body(body, header_length)
    request_id = header.get("id")
    if request_id is not None and type(request_id) is not str:
        raise ProtocolError("'id' must be a string")
    outputs = requested_outputs(header)
    batch = to_batch(core, predictor, decode_inputs(header, tail))
    return InferRequest(request_id, batch, outputs)


def _encode_labels(result: PredictResult) -> bytes:
    encoded = [_LENGTH.pack(len(b)) + b for b in (c.encode() for c in result.classes)]
    return b"".join([encoded[i] for i in result.indices.tolist()])


def encode_response(result: PredictResult, request: InferRequest) -> tuple[bytes, bytes, int | None]:
    """Content type, body and (when any output is binary) the JSON header's length."""
    rows = len(result.labels)
    entries = []
    tails = []
    for name, binary in request.outputs.items():
        if name == "predict":
            entry: dict[str, Any] = {"name": name, "datatype": "BYTES", "shape": [rows]}
            if binary:
                raw = _encode_labels(result)
            else:
                entry["data"] = result.labels
        else:
            assert result.probabilities is not None
            probabilities = np.ascontiguousarray(result.probabilities, dtype="<f8")
            entry = {"name": name, "datatype": "FP64", "shape": [rows, len(result.classes)]}
            if binary:
                raw = probabilities.tobytes()
            else:
                entry["data"] = probabilities.ravel()
        if binary:
            entry["parameters"] = {"binary_data_size": len(raw)}
            tails.append(raw)
        entries.append(entry)
    answer: dict[str, Any] = {"model_name": result.model, "model_version": str(result.version)}
    if request.id is not None:
        answer["id"] = request.id
    answer["outputs"] = entries
    head = orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY)
    if not tails:
        return JSON_CT, head, None
    return BINARY_CT, b"".join([head, *tails]), len(head)


def error_body(message: str) -> bytes:
    """The protocol's error shape."""
    return orjson.dumps({"error": message})


def model_metadata(predictor: Predictor, versions: list[int]) -> dict[str, Any]:
    """Name, versions, platform and one input per feature (a single [N, F] tensor is accepted too)."""
    schema = predictor.schema
    inputs = [
        {"name": f.name, "datatype": "FP64" if f.type == "numeric" else "BYTES", "shape": [-1]}
        for f in schema.features
    ]
    return {
        "name": predictor.model,
        "versions": [str(v) for v in versions],
        "platform": "sklearn",
        "inputs": inputs,
        "outputs": [
            {"name": "predict", "datatype": "BYTES", "shape": [-1]},
            {"name": "predict_proba", "datatype": "FP64", "shape": [-1, len(schema.classes)]},
        ],
    }
