"""The predict routes as FastAPI declares them: for /docs and /openapi.json, and without the dispatcher.

``TabserveAdapter`` normally answers these paths first; the endpoints here call
the same ``PredictHandler.handle``, so the two answer and fail alike (the
tests run the predict matrix through both).
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, Field

from tabserve.service.deps import ModelName, VersionNumber
from tabserve.service.http.errors import problem_responses
from tabserve.service.protocols.tabserve.handler import PredictHandler

_SCALAR = {"anyOf": [{"type": "number"}, {"type": "string"}, {"type": "null"}]}
_ROW = {"type": "array", "items": _SCALAR, "minItems": 1}
_RECORD = {"type": "object", "additionalProperties": _SCALAR, "minProperties": 1}
_INTERVAL = {
    "type": "number",
    "exclusiveMinimum": 0,
    "exclusiveMaximum": 1,
    "description": "Regression: answer intervals at this coverage, e.g. 0.9.",
}
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
                "interval": _INTERVAL,
            },
        },
        {
            "type": "object",
            "title": "Columnar",
            "required": ["columns", "data"],
            "additionalProperties": False,
            "properties": {
                "columns": {
                    "type": "array",
                    "items": {"type": "string", "minLength": 1},
                    "minItems": 1,
                    "uniqueItems": True,
                    "description": "The model's column names, each once, in any order.",
                },
                "data": {"type": "array", "items": _ROW, "minItems": 1},
                "labels_only": {"type": "boolean"},
                "interval": _INTERVAL,
            },
        },
    ]
}


class Intervals(BaseModel):
    coverage: float = Field(
        description="The coverage asked for: each interval holds the true value with "
        "this probability, on average over rows (split-conformal)."
    )
    lower: list[float] = Field(description="Lower end of each row's interval.")
    upper: list[float] = Field(description="Upper end of each row's interval.")


class PredictAnswer(BaseModel):
    model: str = Field(description="Registry name of the model that answered.")
    version: int = Field(description="The model version that answered.")
    labels: list[str] = Field(
        default_factory=list, description="Classification: the predicted label of each row."
    )
    classes: list[str] = Field(
        default_factory=list, description="Classification: every class the model knows, in probability order."
    )
    probabilities: dict[str, list[float]] = Field(
        default_factory=dict, description="Per class, the probability of each row (absent with labels_only)."
    )
    predictions: list[float] | None = Field(None, description="Regression: the predicted value of each row.")
    intervals: Intervals | None = Field(
        None, description="Regression, when asked with interval: the intervals."
    )
    ids: list[str] = Field(
        default_factory=list,
        description="Each row's prediction id (row i: the X-Tabserve-Request-Id header, '-', i): the key "
        "to send its actual outcome back with (POST /models/{name}/feedback).",
    )


OPENAPI_EXTRA = {
    "parameters": [
        {
            "name": "labels_only",
            "in": "query",
            "required": False,
            "schema": {"type": "boolean"},
            "description": "Answer labels without probabilities: true or false, given once.",
        },
        {
            "name": "interval",
            "in": "query",
            "required": False,
            "schema": _INTERVAL,
            "description": "Regression: answer prediction intervals at this coverage (0 < c < 1), e.g. 0.9.",
        },
        {
            "name": "ids",
            "in": "query",
            "required": False,
            "schema": {"type": "boolean"},
            "description": "CSV answers: an id column first, each row's prediction id (JSON answers always "
            "have ids).",
        },
    ],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": REQUEST_SCHEMA},
            "text/csv": {
                "schema": {
                    "type": "string",
                    "minLength": 1,
                    "pattern": "\\S",
                    "description": "A header row of column names, then rows; an empty body is a 400.",
                }
            },
        },
    },
}
RESPONSES: dict[int | str, dict] = {
    200: {"description": "Labels and probabilities", "content": {"text/csv": {"schema": {"type": "string"}}}},
    **problem_responses(400, 404, 409, 413, 415, 422, 503),
}


def declare_predict_routes(app: FastAPI, handler: PredictHandler) -> None:
    """Declare the predict routes on FastAPI (normally answered by ``TabserveAdapter`` first)."""

    async def answer(request: Request, model: str | None, version: int | None) -> Response:
        headers = request.headers
        answer = await handler.handle(
            model,
            version,
            request.receive,
            headers.get("content-type"),
            headers.get("content-length"),
            request.scope["query_string"],
            headers.raw,
        )
        extra = {name.decode(): value.decode() for name, value in answer.headers}
        return Response(answer.body, media_type=answer.media.decode(), headers=extra)

    async def predict(request: Request) -> Response:
        """Predict labels (and class probabilities) with the default model's production version."""
        return await answer(request, None, None)

    async def predict_model(name: ModelName, request: Request) -> Response:
        """Predict with this model's production version."""
        return await answer(request, name, None)

    async def predict_version(name: ModelName, version: VersionNumber, request: Request) -> Response:
        """Predict with one version of this model, production or not (others are loaded on demand)."""
        return await answer(request, name, version)

    common = {
        "methods": ["POST"],
        "response_model": PredictAnswer,
        "responses": RESPONSES,
        "openapi_extra": OPENAPI_EXTRA,
        "tags": ["predict"],
    }
    app.add_api_route("/predict", predict, summary="Predict", **common)
    app.add_api_route("/predict/", predict, include_in_schema=False, **common)
    app.add_api_route("/models/{name}/predict", predict_model, summary="Predict with a model", **common)
    app.add_api_route(
        "/models/{name}/versions/{version}/predict",
        predict_version,
        summary="Predict with a version",
        **common,
    )
