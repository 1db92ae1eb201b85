"""Open Inference Protocol v2 routes (KServe / Triton "V2"): health, metadata and infer.

Thin: the codec in ``tabserve.service.protocols.oip.codec`` turns bytes into a batch and a
result into bytes; the predict core does the rest. Errors are ``{"error": ...}``.
The infer routes call what ``OipAdapter`` (the dispatcher's hot path) calls.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response

from tabserve import __version__
from tabserve.service.deps import get_core, get_state
from tabserve.service.http.bodies import read_request
from tabserve.service.predict.state import ServiceState
from tabserve.service.predict.version_numbers import VERSION_PATTERN
from tabserve.service.predict.version_numbers import parse_version as version_number
from tabserve.service.protocols import ProtocolError
from tabserve.service.protocols.errors import error_response as protocol_error
from tabserve.service.protocols.errors import error_responses
from tabserve.service.protocols.oip import codec as oip
from tabserve.service.protocols.oip.adapter import check_infer_media, error_body, infer_answer

router = APIRouter(tags=["open inference protocol v2"])

_ANY_OBJECT = {"type": "object"}


def _json(status: int, body: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def error_response(exc: BaseException) -> Response:
    return protocol_error(exc, error_body)


def parse_version(text: str) -> int:
    """A path's version as OIP takes it (a string of digits); a 400 in OIP's shape otherwise."""
    number = version_number(text)
    if number is None:
        raise ProtocolError("a model version is a positive integer")
    return number


def _state(request: Request) -> ServiceState:
    return get_state(request)


@router.get("/v2", responses={200: {"content": {"application/json": {"schema": _ANY_OBJECT}}}})
def server_metadata() -> Response:
    """Server name, version and protocol extensions (the binary tensor data extension)."""
    body = {"name": "tabserve", "version": __version__, "extensions": ["binary_tensor_data"]}
    return _json(200, oip.orjson.dumps(body))


@router.get("/v2/health/live", responses={200: {"content": {"application/json": {"schema": _ANY_OBJECT}}}})
def live() -> Response:
    """200 while the process answers."""
    return _json(200, b'{"live":true}')


@router.get(
    "/v2/health/ready",
    responses={200: {"content": {"application/json": {"schema": _ANY_OBJECT}}}, **error_responses(503)},
)
def ready(request: Request) -> Response:
    """200 once every served model has a version loaded; 503 otherwise."""
    state = _state(request)
    if state.task_failures or any(slot.predictor is None for slot in state.slots.values()):
        return _json(503, b'{"ready":false}')
    return _json(200, b'{"ready":true}')


async def _metadata(request: Request, name: str, version: str | None) -> Response:
    state = _state(request)
    core = get_core(request)
    try:
        slot = state.slot(name)
        if version is None:
            predictor = slot.require()
        else:
            predictor = await core.version(name, parse_version(version))
        records = await asyncio.to_thread(state.registry.versions, name)
    except Exception as exc:
        return error_response(exc)
    versions = [r.version for r in records] if version is None else [predictor.version]
    return _json(200, oip.orjson.dumps(oip.model_metadata(predictor, versions)))


async def _model_ready(request: Request, name: str, version: str | None) -> Response:
    core = get_core(request)
    try:
        if version is None:
            predictor = _state(request).slot(name).require()
        else:
            predictor = await core.version(name, parse_version(version))
    except Exception as exc:
        return error_response(exc)
    body = {"name": predictor.model, "version": str(predictor.version), "ready": True}
    return _json(200, oip.orjson.dumps(body))


async def _infer(request: Request, name: str, version: str | None) -> Response:
    core = get_core(request)
    try:
        number = None if version is None else parse_version(version)
        check_infer_media(request.headers.get("content-type"))
        body = await read_request(request, core.body_limit)
        media, payload, headers = await infer_answer(
            core, name, number, body, request.headers.get(oip.HEADER_LENGTH), request.headers.raw
        )
    except Exception as exc:
        return error_response(exc)
    extra = {key.decode(): value.decode() for key, value in headers}
    return Response(payload, media_type=media.decode(), headers=extra)


# OIP versions are strings; the version is read from the path (not a FastAPI parameter) so a bad
# one is answered in OIP's error shape, and documented here with the pattern of the digits
# parse_version takes (built from the same bound).
_VERSION_PARAM: dict[str, Any] = {
    "parameters": [
        {
            "name": "version",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": VERSION_PATTERN},
            "description": "A model version number, as a string of digits.",
        }
    ]
}
_METADATA = {
    200: {"content": {"application/json": {"schema": _ANY_OBJECT}}},
    **error_responses(400, 404, 409, 503),
}
_INFER_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["inputs"],
                    "properties": {
                        "id": {"type": "string"},
                        "inputs": {"type": "array", "items": _ANY_OBJECT, "minItems": 1},
                        "outputs": {"type": "array", "items": _ANY_OBJECT},
                        "parameters": _ANY_OBJECT,
                    },
                }
            },
            "application/octet-stream": {
                "schema": {"type": "string", "format": "binary", "description": "JSON header, then tensors"}
            },
        },
    }
}
_INFER = {
    200: {
        "content": {
            "application/json": {"schema": _ANY_OBJECT},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        }
    },
    **error_responses(400, 404, 409, 413, 415, 503),
}


@router.get("/v2/models/{name}", responses=_METADATA)
async def model_metadata(request: Request, name: str) -> Response:
    """Model metadata from the production version's feature schema: inputs, outputs, versions."""
    return await _metadata(request, name, None)


@router.get("/v2/models/{name}/versions/{version}", responses=_METADATA, openapi_extra=_VERSION_PARAM)
async def version_metadata(request: Request, name: str) -> Response:
    """Metadata of one version."""
    return await _metadata(request, name, request.path_params["version"])


@router.get("/v2/models/{name}/ready", responses=_METADATA)
async def model_ready(request: Request, name: str) -> Response:
    """200 when the model's production version is loaded."""
    return await _model_ready(request, name, None)


@router.get("/v2/models/{name}/versions/{version}/ready", responses=_METADATA, openapi_extra=_VERSION_PARAM)
async def version_ready(request: Request, name: str) -> Response:
    """200 when the version can answer (it is loaded on demand)."""
    return await _model_ready(request, name, request.path_params["version"])


@router.post("/v2/models/{name}/infer", responses=_INFER, openapi_extra=_INFER_BODY)
async def infer(request: Request, name: str) -> Response:
    """Predict with the production version: tensors in, ``predict`` / ``predict_proba`` out."""
    return await _infer(request, name, None)


@router.post(
    "/v2/models/{name}/versions/{version}/infer",
    responses=_INFER,
    openapi_extra={**_INFER_BODY, **_VERSION_PARAM},
)
async def version_infer(request: Request, name: str) -> Response:
    """Predict with one version."""
    return await _infer(request, name, request.path_params["version"])
