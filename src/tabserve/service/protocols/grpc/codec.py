"""ModelInferRequest in, ModelInferResponse out, through the REST codec's own tensor checks.

A gRPC request is restated as the REST protocol's JSON header and binary tail:
``raw_input_contents`` become the tail, each entry the input's ``binary_data_size``
bytes, and typed ``contents`` become the input's ``data``. The REST decoder then
checks datatypes, shapes and values and builds the batch, so a tensor refused over
HTTP is refused here in the same words. Outputs always travel as
``raw_output_contents`` (as Triton answers): BYTES labels, each a 4-byte
little-endian length then UTF-8, and FP64 probabilities, little-endian. A
regressor answers ``predict`` as FP64 values and, when the request's
``parameters`` hold ``interval`` (a coverage, as a double), ``predict_interval``
as FP64 ``[N, 2]`` (lower, upper per row) whose ``parameters`` say the coverage.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tabserve.inputs import Batch
from tabserve.predictor import Predictor
from tabserve.service.predict.core import PredictCore, PredictResult
from tabserve.service.predict.version_numbers import MAX_VERSION
from tabserve.service.protocols import ProtocolError
from tabserve.service.protocols.grpc import inference_pb2 as pb
from tabserve.service.protocols.oip.codec import (
    InferRequest,
    encode_labels,
    model_metadata,
    offered_outputs,
    requested_interval,
    requested_outputs,
    to_batch,
)
from tabserve.service.protocols.oip.tensors import LENGTH, decode_inputs, text

# Which field of InferTensorContents holds each datatype tabserve reads.
CONTENTS = {
    "FP64": "fp64_contents",
    "FP32": "fp32_contents",
    "INT64": "int64_contents",
    "BOOL": "bool_contents",
    "BYTES": "bytes_contents",
}
FEW_ROWS = 64  # up to this many labels are joined in Python; more go through numpy


def parse_version(version: str) -> int | None:
    """``model_version`` as a number; None (the production version) when empty."""
    if not version:
        return None
    if not (version.isascii() and version.isdigit()) or not 1 <= int(version) <= MAX_VERSION:
        raise ProtocolError("a model version is a positive integer")
    return int(version)


def _typed_values(tensor: pb.ModelInferRequest.InferInputTensor) -> list[Any]:
    """An input's typed contents as the REST ``data`` list (BYTES as text); the field must match
    the datatype. An unsupported datatype gives no values: the decoder then names the datatype."""
    name = text(tensor.name)
    expected = CONTENTS.get(tensor.datatype)
    if expected is None:
        return []
    for field, _values in tensor.contents.ListFields():
        if field.name != expected:
            raise ProtocolError(
                f"input '{name}': {tensor.datatype} values go in contents.{expected}, not {field.name}"
            )
    values = getattr(tensor.contents, expected)
    if expected != "bytes_contents":
        return list(values)
    try:
        return [value.decode("utf-8") for value in values]
    except UnicodeDecodeError:
        raise ProtocolError(f"input '{name}': BYTES elements must be UTF-8 text") from None


def parameter_value(parameter: pb.InferParameter) -> Any:
    """An InferParameter's value, whichever of its fields is set (None when none is)."""
    field = parameter.WhichOneof("parameter_choice")
    return None if field is None else getattr(parameter, field)


def _parameters(request: pb.ModelInferRequest) -> dict[str, Any]:
    """The request parameters the REST codec reads (the interval's coverage), as its JSON would hold."""
    if "interval" not in request.parameters:
        return {}
    return {"interval": parameter_value(request.parameters["interval"])}


def to_header(request: pb.ModelInferRequest) -> tuple[dict[str, Any], memoryview]:
    """The request as the REST codec's JSON header and binary tail."""
    raw = request.raw_input_contents
    if raw and len(raw) != len(request.inputs):
        raise ProtocolError(
            f"raw_input_contents has {len(raw)} entries for {len(request.inputs)} inputs; "
            "send one per input, in order, or none"
        )
    inputs = []
    for position, tensor in enumerate(request.inputs):
        spec: dict[str, Any] = {"name": tensor.name, "datatype": tensor.datatype, "shape": list(tensor.shape)}
        if raw:
            if tensor.contents.ListFields():
                raise ProtocolError(
                    f"input '{text(tensor.name)}': values go in contents or raw_input_contents, not both"
                )
            spec["parameters"] = {"binary_data_size": len(raw[position])}
        else:
            spec["data"] = _typed_values(tensor)
        inputs.append(spec)
    header: dict[str, Any] = {"inputs": inputs, "parameters": _parameters(request)}
    if request.outputs:
        header["outputs"] = [{"name": output.name} for output in request.outputs]
    tail = memoryview(b"".join(raw)) if raw else memoryview(b"")  # one entry: no copy
    return header, tail


def one_raw_row(predictor: Predictor, request: pb.ModelInferRequest) -> Batch | None:
    """The batch of one raw FP64 ``[1, F]`` tensor of finite numbers in feature order, read without
    the general decoder (a lone row is what most gRPC clients send); None for anything else, which
    the general decoder then takes, with its checks and messages."""
    if len(request.inputs) != 1 or len(request.raw_input_contents) != 1:
        return None
    tensor = request.inputs[0]
    width = len(predictor.schema.names)
    raw = request.raw_input_contents[0]
    if (
        tensor.datatype != "FP64"
        or list(tensor.shape) != [1, width]
        or len(raw) != 8 * width
        or not predictor.schema.all_numeric
        or tensor.name in predictor.schema.names
        or tensor.contents.ListFields()
    ):
        return None
    row = np.frombuffer(raw, dtype="<f8").reshape(1, width)
    if not np.isfinite(row).all():
        return None
    return Batch(1, row.astype(np.float64), None)


def decode_request(core: PredictCore, predictor: Predictor, request: pb.ModelInferRequest) -> InferRequest:
    """A ModelInferRequest to a validated batch and the outputs asked for."""
    batch = one_raw_row(predictor, request)
    if batch is not None:
        asked = {
            "outputs": [{"name": o.name} for o in request.outputs] or None,
            "parameters": _parameters(request),
        }
        outputs = requested_outputs(asked, offered_outputs(predictor), predictor.is_regression)
        return InferRequest(request.id or None, batch, outputs, requested_interval(asked))
    header, tail = to_header(request)
    outputs = requested_outputs(header, offered_outputs(predictor), predictor.is_regression)
    interval = requested_interval(header)
    batch = to_batch(core, predictor, decode_inputs(header, tail))
    return InferRequest(request.id or None, batch, outputs, interval)


def encode_response(result: PredictResult, request: InferRequest) -> pb.ModelInferResponse:
    """The outputs asked for, in order, as raw little-endian contents (a regressor's ``predict``: FP64
    values, its ``predict_interval``: FP64 lower and upper per row, with the coverage)."""
    rows = len(result.labels) if result.values is None else len(result.values)
    tensor = pb.ModelInferResponse.InferOutputTensor
    outputs = []
    raw = []
    for name in request.outputs:
        if name == "predict_interval":
            assert result.interval is not None
            coverage = {"coverage": pb.InferParameter(double_param=result.interval.coverage)}
            outputs.append(tensor(name=name, datatype="FP64", shape=[rows, 2], parameters=coverage))
            bounds = np.column_stack([result.interval.lower, result.interval.upper])
            raw.append(np.ascontiguousarray(bounds, dtype="<f8").tobytes())
        elif result.values is not None:
            outputs.append(tensor(name=name, datatype="FP64", shape=[rows]))
            raw.append(np.ascontiguousarray(result.values, dtype="<f8").tobytes())
        elif name == "predict":
            outputs.append(tensor(name=name, datatype="BYTES", shape=[rows]))
            raw.append(_labels(result))
        else:
            assert result.probabilities is not None
            outputs.append(tensor(name=name, datatype="FP64", shape=[rows, len(result.classes)]))
            raw.append(np.ascontiguousarray(result.probabilities, dtype="<f8").tobytes())
    return pb.ModelInferResponse(
        model_name=result.model,
        model_version=str(result.version),
        id=request.id or "",
        parameters={"tabserve_request_id": pb.InferParameter(string_param=result.request_id)},
        outputs=outputs,
        raw_output_contents=raw,
    )


def _labels(result: PredictResult) -> bytes:
    """Each row's label as a BYTES element; a few rows without numpy's per-call setup."""
    if len(result.labels) > FEW_ROWS:
        return encode_labels(result.classes, result.indices)
    return b"".join(LENGTH.pack(len(b)) + b for b in (label.encode() for label in result.labels))


def metadata_response(predictor: Predictor, versions: list[int]) -> pb.ModelMetadataResponse:
    """The REST metadata (one input per feature, the two outputs) as a message."""
    found = model_metadata(predictor, versions)
    tensor = pb.ModelMetadataResponse.TensorMetadata
    return pb.ModelMetadataResponse(
        name=found["name"],
        versions=found["versions"],
        platform=found["platform"],
        inputs=[tensor(**spec) for spec in found["inputs"]],
        outputs=[tensor(**spec) for spec in found["outputs"]],
    )
