"""KServe V1 routes: model status and ``:predict``, errors as ``{"error": ...}``.

KServe V1 has no hot path in the dispatcher: its requests go through FastAPI
(and its request metrics, in-flight gauge included) like any other route.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from starlette.convertors import Convertor, register_url_convertor

from tabserve.inputs import Batch
from tabserve.predictor import Predictor
from tabserve.service.deps import get_core, get_state
from tabserve.service.http.bodies import check_media, decode_json, media_type, read_request
from tabserve.service.http.errors import problem_responses
from tabserve.service.predict.core import PredictCore, ignored_headers, request_id_header, version_header
from tabserve.service.protocols.errors import error_response, error_responses
from tabserve.service.protocols.kserve_v1 import codec as kserve_v1

router = APIRouter(tags=["kserve v1"])


class _NameConvertor(Convertor):
    """A model name without ':', so ``GET /v1/models/iris:predict`` is not the status of 'iris:predict'
    but the ``:predict`` route with the wrong method (405, as the schema says)."""

    regex = "[^/:]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("kserve_name", _NameConvertor())
ModelName = Annotated[str, Path(pattern="^[^/:]+$", description="A model this server serves.")]

_STATUS = {
    "type": "object",
    "required": ["name", "ready"],
    "properties": {"name": {"type": "string"}, "ready": {"type": "boolean"}},
}
_PREDICTIONS = {
    "type": "object",
    "required": ["predictions"],
    "properties": {"predictions": {"type": "array", "items": {"type": "string"}}},
}


def _errors(*statuses: int) -> dict[int | str, dict]:
    answers = error_responses(*statuses)
    if 404 in answers:  # a name with '/' or ':' matches no KServe route: the app's own 404 problem
        answers[404] = {
            "description": "No such model, or a name no route takes",
            "content": {**answers[404]["content"], **problem_responses(404)[404]["content"]},
        }
    return answers


def _error_body(status: int, message: str) -> bytes:
    return kserve_v1.error_body(message)


def _error(exc: BaseException) -> Response:
    return error_response(exc, _error_body)


@router.get(
    "/v1/models/{name:kserve_name}",
    responses={200: {"content": {"application/json": {"schema": _STATUS}}}, **_errors(404)},
)
def model_status(request: Request, name: ModelName) -> Response:
    """Whether a served model has its production version loaded."""
    try:
        slot = get_state(request).slot(name)
    except Exception as exc:
        return _error(exc)
    return Response(kserve_v1.model_status(name, slot.predictor is not None), media_type="application/json")


@router.post(
    "/v1/models/{name:kserve_name}:predict",
    responses={
        200: {"content": {"application/json": {"schema": _PREDICTIONS}}},
        **_errors(400, 404, 409, 413, 415, 503),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["instances"],
                        "properties": {
                            "instances": {
                                "type": "array",
                                "items": {"type": ["array", "object"]},
                                "minItems": 1,
                            }
                        },
                    }
                }
            },
        }
    },
)
async def predict(request: Request, name: ModelName) -> Response:
    """Labels of ``instances`` from the model's production version."""
    core = get_core(request)
    try:
        check_media(media_type(request.headers.get("content-type")))
        body = await read_request(request, core.body_limit)
        predictor = core.production(name, request.headers.raw)
        batch = await core.off_loop(len(body), _decode, core, predictor, body)
        result = core.predict(predictor, batch, protocol="kserve_v1", labels_only=True)
    except Exception as exc:
        return _error(exc)
    headers = [request_id_header(result.request_id), version_header(result), *ignored_headers(result.ignored)]
    extra = {key.decode(): value.decode() for key, value in headers}
    return Response(kserve_v1.encode_response(result), media_type="application/json", headers=extra)


def _decode(core: PredictCore, predictor: Predictor, body: bytes) -> Batch:
    return kserve_v1.decode_request(core, predictor, decode_json(body))
