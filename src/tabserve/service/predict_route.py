"""POST /predict: a raw ASGI fast path in front of FastAPI, and the route declared for OpenAPI.

The fast path skips routing, request objects, dependency injection and
pydantic: it reads the body, decodes it with orjson (or CSV), validates it
with ``inputs.parse_payload``, calls ``Predictor.predict`` and encodes the
answer with orjson. FastAPI still declares the route so /docs and
/openapi.json describe it; that endpoint runs the same ``PredictHandler``.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import parse_qs

import numpy as np
import orjson
from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, Field

from tabserve.inputs import Batch, BatchTooLargeError, parse_payload, wants_labels_only
from tabserve.numeric_codec import csv_answer, parse_numeric_csv, parse_numeric_json
from tabserve.predictor import Prediction, Predictor
from tabserve.schema import FeatureSchema
from tabserve.service.errors import (
    PROBLEM_JSON,
    BodyTooLargeError,
    MalformedBodyError,
    UnsupportedMediaTypeError,
    problem_for,
    problem_responses,
)
from tabserve.service.state import ServiceState

log = logging.getLogger(__name__)

PREDICT_PATHS = frozenset({"/predict", "/predict/"})
ROUTE_LABEL = "/predict"
JSON_TYPES = frozenset(
    {"", "application/json", "application/x-www-form-urlencoded", "text/plain", "*/*"}
)  # curl -d sends form-urlencoded: the seed's clients must keep working
CSV_TYPES = frozenset({"text/csv", "application/csv"})
JSON_CT = b"application/json"
CSV_CT = b"text/csv; charset=utf-8"
BASE_BODY_BYTES = 64 * 1024
BODY_BYTES_PER_ROW = 1024
SINGLE_ROW_MAX_BYTES = 2048  # bodies this small may be one row: try the pure-Python path first
_BIG_INT = 2**53  # larger integers do not survive the trip to float exactly: general path
NUMERIC_CODEC_MIN_BYTES = 4096  # below this, orjson's Python objects are cheaper than numpy's set-up


def body_limit(max_batch_rows: int) -> int:
    """Bytes a predict body may have: generous for ``max_batch_rows`` rows, bounded for memory."""
    return BASE_BODY_BYTES + max_batch_rows * BODY_BYTES_PER_ROW


def _media_type(raw: bytes | None) -> str:
    if not raw:
        return ""
    return raw.split(b";", 1)[0].strip().lower().decode("latin-1")


def _labels_only_query(query: bytes) -> bool:
    if not query:
        return False
    values = parse_qs(query.decode("latin-1")).get("labels_only", [])
    return any(v.lower() in ("1", "true", "yes") for v in values)


class PredictHandler:
    """Bytes in, bytes out: the whole predict call, shared by the fast path and the declared route."""

    def __init__(self, state: ServiceState) -> None:
        self.state = state
        self.max_rows = state.settings.server.max_batch_rows
        self.limit = body_limit(self.max_rows)

    def answer(self, body: bytes, content_type: bytes | None, query: bytes) -> tuple[bytes, bytes]:
        """The response's content type and body; domain errors propagate to the error table."""
        media = _media_type(content_type)
        is_csv = media in CSV_TYPES
        if not is_csv and media not in JSON_TYPES and not media.endswith("+json"):
            raise UnsupportedMediaTypeError(
                f"Content-Type '{media[:60]}' is not accepted; send application/json or text/csv"
            )
        predictor = self.state.require_predictor()
        if not body.strip():
            raise MalformedBodyError('the body is empty; send a row, {"instances": [...]} or CSV')
        if not is_csv and len(body) <= SINGLE_ROW_MAX_BYTES:
            answer_row = self._answer_row(body, predictor, query)
            if answer_row is not None:
                return JSON_CT, answer_row
        batch, labels_only = self._decode(body, is_csv, predictor.schema)
        labels_only = labels_only or _labels_only_query(query)
        result = predictor.predict(batch, labels_only)
        probabilities = result.probabilities
        self.state.metrics.count_predictions(predictor.model, result.classes, result.indices)
        shown = None if labels_only else probabilities
        if is_csv:
            return CSV_CT, self._csv_answer(result, shown)
        answer: dict[str, Any] = {
            "model": predictor.model,
            "version": predictor.version,
            "labels": result.labels,
            "classes": result.classes,
        }
        if shown is not None:
            columns = np.ascontiguousarray(shown.T, dtype=np.float64)
            answer["probabilities"] = dict(zip(result.classes, columns, strict=True))
        return JSON_CT, orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY)

    def _answer_row(self, body: bytes, predictor: Predictor, query: bytes) -> bytes | None:
        """One plain numeric row on the model's pure-Python path; None leaves it to the general path.

        Only the clear-cut case is taken here (a list of finite numbers of the
        right length, bare or as the single row of "instances"); anything else,
        valid or not, goes the general way, which also words every error.
        """
        if predictor.row_width is None:
            return None
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        labels_only = False
        if type(payload) is dict:
            rows = payload.get("instances")
            flag = payload.get("labels_only", False)
            if type(rows) is not list or len(rows) != 1 or type(flag) is not bool:
                return None
            if len(payload) != 1 + ("labels_only" in payload):
                return None
            payload, labels_only = rows[0], flag
        if type(payload) is not list or len(payload) != predictor.row_width:
            return None
        row = []
        for value in payload:
            kind = type(value)
            if kind is not float and (kind is not int or not -_BIG_INT < value < _BIG_INT):
                return None
            row.append(float(value))
        probabilities = predictor.predict_row(row)
        if probabilities is None:
            return None
        index = probabilities.index(max(probabilities))  # the first maximum, as numpy's argmax
        classes = predictor.classes
        self.state.metrics.count_predictions(predictor.model, classes, (index,))
        answer: dict[str, Any] = {
            "model": predictor.model,
            "version": predictor.version,
            "labels": [classes[index]],
            "classes": classes,
        }
        if not (labels_only or _labels_only_query(query)):
            answer["probabilities"] = {c: [p] for c, p in zip(classes, probabilities, strict=True)}
        return orjson.dumps(answer)

    def _decode(self, body: bytes, is_csv: bool, schema: FeatureSchema) -> tuple[Batch, bool]:
        """A validated batch and the body's labels_only flag; big numeric bodies skip Python objects."""
        if schema.all_numeric and len(body) >= NUMERIC_CODEC_MIN_BYTES:
            if is_csv:
                matrix, labels_only = parse_numeric_csv(body, schema.names), False
            else:
                matrix, labels_only = parse_numeric_json(body, schema.names) or (None, False)
            if matrix is not None:
                if len(matrix) > self.max_rows:
                    raise BatchTooLargeError(
                        f"{len(matrix)} rows is more than the limit of {self.max_rows} rows per request"
                    )
                return Batch(len(matrix), matrix, None), labels_only
        if is_csv:
            from tabserve.service.csv_codec import read_csv_payload

            payload: Any = read_csv_payload(body, schema)
        else:
            try:
                payload = orjson.loads(body)
            except orjson.JSONDecodeError as exc:
                raise MalformedBodyError(f"the body is not valid JSON: {exc}") from None
        return parse_payload(payload, schema, self.max_rows), wants_labels_only(payload)

    @staticmethod
    def _csv_answer(result: Prediction, shown: np.ndarray | None) -> bytes:
        fast = csv_answer(result.indices, result.classes, shown)
        if fast:
            return fast
        from tabserve.service.csv_codec import write_predictions_csv

        return write_predictions_csv(result.labels, result.classes, shown)


async def _read_body(receive: Any, limit: int) -> bytes:
    message = await receive()
    body = message.get("body", b"")
    if not message.get("more_body", False):
        if len(body) > limit:
            raise BodyTooLargeError(f"the body is larger than the limit of {limit} bytes")
        return body
    chunks = [body]
    size = len(body)
    while message.get("more_body", False):
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(f"the body is larger than the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class PredictFastPath:
    """ASGI middleware answering POST /predict itself; every other request goes to FastAPI."""

    def __init__(self, app: Any, handler: PredictHandler) -> None:
        self.app = app
        self.handler = handler
        self.observe = handler.state.metrics.observe_request

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] not in PREDICT_PATHS or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        content_type = None
        length = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value
            elif name == b"content-length":
                length = value
        try:
            if length is not None and length.isdigit() and int(length) > self.handler.limit:
                raise BodyTooLargeError(f"the body is larger than the limit of {self.handler.limit} bytes")
            body = await _read_body(receive, self.handler.limit)
            media, payload = self.handler.answer(body, content_type, scope["query_string"])
            status = 200
            headers = [(b"content-type", media), (b"content-length", str(len(payload)).encode())]
        except Exception as exc:
            status, extra, payload = problem_for(exc)
            headers = [
                (b"content-type", PROBLEM_JSON),
                (b"content-length", str(len(payload)).encode()),
                *extra,
            ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        self.observe(ROUTE_LABEL, "POST", status, time.perf_counter() - started)


# ---- the same route as FastAPI declares it, for /docs and /openapi.json ----
_SCALAR = {"anyOf": [{"type": "number"}, {"type": "string"}, {"type": "null"}]}
_ROW = {"type": "array", "items": _SCALAR, "minItems": 1}
_RECORD = {"type": "object", "additionalProperties": _SCALAR, "minProperties": 1}
REQUEST_SCHEMA = {
    "oneOf": [
        {**_ROW, "title": "One row", "example": [5.1, 3.8, 1.5, 0.3]},
        {
            "type": "object",
            "title": "Instances",
            "description": "Rows as lists in schema order, or as objects keyed by column name.",
            "required": ["instances"],
            "additionalProperties": False,
            "properties": {
                "instances": {"type": "array", "minItems": 1, "items": {"anyOf": [_ROW, _RECORD]}},
                "labels_only": {"type": "boolean"},
            },
        },
        {
            "type": "object",
            "title": "Columnar",
            "required": ["columns", "data"],
            "additionalProperties": False,
            "properties": {
                "columns": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "data": {"type": "array", "items": _ROW, "minItems": 1},
                "labels_only": {"type": "boolean"},
            },
        },
    ]
}


class PredictAnswer(BaseModel):
    model: str = Field(description="Registry name of the model that answered.")
    version: int = Field(description="The model version that answered.")
    labels: list[str] = Field(description="The predicted label of each row.")
    classes: list[str] = Field(description="Every class the model knows, in probability order.")
    probabilities: dict[str, list[float]] = Field(
        default_factory=dict, description="Per class, the probability of each row (absent with labels_only)."
    )


def declare_predict_route(app: FastAPI, handler: PredictHandler) -> None:
    """Declare POST /predict on FastAPI (normally answered by ``PredictFastPath`` first)."""

    async def predict(request: Request) -> Response:
        """Predict labels (and class probabilities) for one row or a batch, as JSON or CSV."""
        media, body = handler.answer(
            await request.body(),
            request.headers.get("content-type", "").encode(),
            request.scope["query_string"],
        )
        return Response(body, media_type=media.decode())

    openapi_extra = {
        "parameters": [
            {
                "name": "labels_only",
                "in": "query",
                "required": False,
                "schema": {"type": "boolean"},
                "description": "Answer labels without probabilities.",
            }
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": REQUEST_SCHEMA},
                "text/csv": {
                    "schema": {"type": "string", "description": "A header row of column names, then rows."}
                },
            },
        },
    }
    responses = {
        200: {
            "description": "Labels and probabilities",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        **problem_responses(400, 413, 415, 422, 503),
    }
    app.add_api_route(
        "/predict",
        predict,
        methods=["POST"],
        response_model=PredictAnswer,
        responses=responses,
        openapi_extra=openapi_extra,
        tags=["predict"],
        summary="Predict",
    )
    app.add_api_route("/predict/", predict, methods=["POST"], include_in_schema=False)
