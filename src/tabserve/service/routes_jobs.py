"""POST /train and GET /jobs/{id}: training in its own process, followed through the registry."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from tabserve.service.auth import Authorized
from tabserve.service.deps import JobId, State
from tabserve.service.errors import (
    BodyTooLargeError,
    MalformedBodyError,
    NotAcceptedError,
    UnsupportedMediaTypeError,
    problem_responses,
)
from tabserve.service.jobs import OVERRIDABLE_SECTIONS, job_view
from tabserve.service.schemas import Job, TrainAccepted

router = APIRouter(tags=["training"])

MAX_TRAIN_BODY = 64 * 1024
_SECTION = {"type": "object", "additionalProperties": True}
TRAIN_BODY = {
    "required": False,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "description": "Config sections to change for this run only, validated like the config file.",
                "additionalProperties": False,
                "properties": {
                    "data": _SECTION,
                    "split": _SECTION,
                    "search": _SECTION,
                    "candidates": {"type": "array", "items": {"type": "object"}},
                },
                "example": {"search": {"cv": 5}},
            }
        }
    },
}


async def _overrides(request: Request) -> dict[str, Any]:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_TRAIN_BODY:
            raise BodyTooLargeError(f"the body is larger than the limit of {MAX_TRAIN_BODY} bytes")
    if not body.strip():
        return {}
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in ("", "application/json", "application/x-www-form-urlencoded") and not media.endswith(
        "+json"
    ):
        raise UnsupportedMediaTypeError(f"Content-Type '{media[:60]}' is not accepted; send application/json")
    try:
        overrides = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedBodyError(f"the body is not valid JSON: {exc}") from None
    if not isinstance(overrides, dict):
        raise NotAcceptedError(
            f"the body must be a JSON object of config sections ({', '.join(OVERRIDABLE_SECTIONS)})"
        )
    return overrides


@router.post(
    "/train",
    status_code=202,
    response_model=TrainAccepted,
    dependencies=[Authorized],
    openapi_extra={"requestBody": TRAIN_BODY},
    responses=problem_responses(400, 401, 409, 413, 415, 422, 503),
)
async def train(request: Request, state: State) -> Response:
    """Start a training job (optionally overriding config sections for this run); 202 with its URL."""
    overrides = await _overrides(request)
    job = await asyncio.to_thread(state.require_jobs().start, overrides)
    url = f"/jobs/{job.id}"
    body = orjson.dumps({"id": job.id, "status": job.status, "url": url})
    return Response(body, status_code=202, media_type="application/json", headers={"location": url})


@router.get("/jobs/{job_id}", response_model=Job, responses=problem_responses(404, 422, 503))
def get_job(job_id: JobId, state: State) -> dict:
    """A training job: queued, running, succeeded or failed; fits done of total; the version or the error."""
    return job_view(state.require_jobs().get(job_id))
