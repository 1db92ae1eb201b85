"""MLflow scoring routes for the default model: ``/invocations``, ``/ping``, ``/health``, ``/version``.

``invocations_answer`` is shared with the raw ASGI fast path.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from tabserve import __version__
from tabserve.service.http.bodies import check_media, decode_json, media_type, read_body
from tabserve.service.predict.core import PredictCore
from tabserve.service.protocols.errors import status_and_message
from tabserve.service.protocols.mlflow import codec as mlflow
from tabserve.service.protocols.tabserve.handler import body_limit

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


def error_answer(exc: BaseException) -> tuple[int, bytes]:
    status, message = status_and_message(exc)
    return status, mlflow.error_body(status, message)


async def invocations_answer(core: PredictCore, body: bytes, content_type: bytes | str | None) -> bytes:
    """The JSON answer to an /invocations body; errors propagate."""
    is_csv = check_media(media_type(content_type), csv=True)
    predictor = core.production()
    if is_csv:
        from tabserve.service.protocols.tabserve.csv_codec import read_csv_payload

        batch = core.rows(predictor, read_csv_payload(body, predictor.schema))
        probabilities = False
    else:
        batch, probabilities = mlflow.decode_json(core, predictor, decode_json(body))
    result = core.predict(predictor, batch, protocol="mlflow", labels_only=not probabilities)
    return mlflow.encode_response(result, probabilities)


@router.post(
    "/invocations",
    responses={
        200: {"content": {"application/json": {"schema": _PREDICTIONS}}},
        **{
            s: {"description": "Error", "content": {"application/json": {"schema": _ERROR}}}
            for s in (400, 409, 413, 415, 503)
        },
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
    core: PredictCore = request.app.state.predict_core
    try:
        body = await read_body(
            request.receive, body_limit(core.max_rows), request.headers.get("content-length")
        )
        answer = await invocations_answer(core, body, request.headers.get("content-type"))
    except Exception as exc:
        status, payload = error_answer(exc)
        return Response(payload, status_code=status, media_type="application/json")
    return Response(answer, media_type="application/json")


def _loaded(request: Request) -> Response:
    ready = request.app.state.service.default.predictor is not None
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
