"""MLflow scoring routes for the default model: ``/invocations``, ``/ping``, ``/health``, ``/version``.

``/invocations`` calls what ``MlflowAdapter`` (the dispatcher's hot path) calls.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from tabserve import __version__
from tabserve.service.deps import get_core, get_state
from tabserve.service.http.bodies import read_request
from tabserve.service.protocols.errors import error_response, error_responses
from tabserve.service.protocols.mlflow import codec as mlflow
from tabserve.service.protocols.mlflow.adapter import invocations_answer

router = APIRouter(tags=["mlflow"])

_ERROR = {
    "type": "object",
    "required": ["error_code", "message"],
    "properties": {"error_code": {"type": "string"}, "message": {"type": "string"}},
}
_PREDICTIONS = {
    "type": "object",
    "required": ["predictions"],
    "properties": {"predictions": {"type": "array"}},
}


@router.post(
    "/invocations",
    responses={
        200: {"content": {"application/json": {"schema": _PREDICTIONS}}},
        **error_responses(400, 409, 413, 415, 503, schema=_ERROR),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "dataframe_split": {"type": "object"},
                            "dataframe_records": {"type": "array", "items": {"type": "object"}},
                            "instances": {"type": "array"},
                            "inputs": {},
                            "params": {"type": "object"},
                        },
                    }
                },
                "text/csv": {"schema": {"type": "string", "minLength": 1, "pattern": "\\S"}},
            },
        }
    },
)
async def invocations(request: Request) -> Response:
    """Predict with the default model, MLflow style (``params.probabilities`` for probabilities)."""
    core = get_core(request)
    try:
        body = await read_request(request, core.body_limit)
        answer, headers = await invocations_answer(
            core, body, request.headers.get("content-type"), request.headers.raw
        )
    except Exception as exc:
        return error_response(exc, mlflow.error_body)
    extra = {name.decode(): value.decode() for name, value in headers}
    return Response(answer, media_type="application/json", headers=extra)


def _loaded(request: Request) -> Response:
    ready = get_state(request).default.predictor is not None
    return Response("\n", status_code=200 if ready else 503, media_type="text/plain")


_HEALTH = {
    200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
    503: {"description": "No model loaded", "content": {"text/plain": {"schema": {"type": "string"}}}},
}


@router.get("/ping", responses=_HEALTH, response_class=Response)
def ping(request: Request) -> Response:
    """200 when the default model is loaded, 503 otherwise."""
    return _loaded(request)


@router.get("/health", responses=_HEALTH, response_class=Response)
def health(request: Request) -> Response:
    """The same as /ping."""
    return _loaded(request)


@router.get("/version", responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
def version() -> Response:
    """The tabserve version that serves."""
    return Response(__version__, media_type="text/plain")
