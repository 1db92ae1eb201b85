"""POST /train, POST /models/{name}/train, POST /models/{name}/score, GET /jobs, GET /jobs/{id}.

Training and scoring jobs run in their own process and are recorded in the registry.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response

from tabserve.jobs.launcher import OVERRIDABLE_SECTIONS, job_view
from tabserve.service.deps import Authorized, JobId, Served, State
from tabserve.service.http.bodies import check_media, decode_json, media_type, read_request
from tabserve.service.http.errors import NotAcceptedError, problem_responses
from tabserve.service.manage.schemas import Job, JobAccepted, JobList
from tabserve.service.predict.state import ServiceState
from tabserve.service.predict.version_numbers import MAX_VERSION

router = APIRouter(tags=["training"])

MAX_TRAIN_BODY = 64 * 1024
_SECTION = {"type": "object", "additionalProperties": True}
_CANDIDATE = {
    "type": "object",
    "required": ["estimator"],
    "additionalProperties": False,
    "properties": {
        "estimator": {
            "type": "string",
            "minLength": 1,
            "description": "Dotted path of a scikit-learn classifier.",
        },
        "grid": {"type": "object", "additionalProperties": {"type": "array"}},
    },
}
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
                    "candidates": {"type": "array", "items": _CANDIDATE},
                },
                "example": {"search": {"cv": 5}},
            }
        }
    },
}


async def _overrides(request: Request) -> dict[str, Any]:
    body = await read_request(request, MAX_TRAIN_BODY)
    if not body.strip():
        return {}
    check_media(media_type(request.headers.get("content-type")))
    overrides = decode_json(body)
    if not isinstance(overrides, dict):
        raise NotAcceptedError(
            f"the body must be a JSON object of config sections ({', '.join(OVERRIDABLE_SECTIONS)})"
        )
    return overrides


async def _start(request: Request, state: ServiceState, model: str) -> Response:
    overrides = await _overrides(request)
    job = await asyncio.to_thread(state.jobs.start, overrides, model)
    return _accepted(job.id, job.status)


def _accepted(job_id: str, status: str) -> Response:
    url = f"/jobs/{job_id}"
    body = orjson.dumps({"id": job_id, "status": status, "url": url})
    return Response(body, status_code=202, media_type="application/json", headers={"location": url})


@router.post(
    "/train",
    status_code=202,
    response_model=JobAccepted,
    dependencies=[Authorized],
    openapi_extra={"requestBody": TRAIN_BODY},
    responses=problem_responses(400, 401, 409, 413, 415, 422, 501, 503),
)
async def train(request: Request, state: State) -> Response:
    """Train the default model (optionally overriding config sections for this run); 202 with its URL."""
    return await _start(request, state, state.default.name)


@router.post(
    "/models/{name}/train",
    status_code=202,
    response_model=JobAccepted,
    dependencies=[Authorized],
    openapi_extra={"requestBody": TRAIN_BODY},
    responses=problem_responses(400, 401, 404, 409, 413, 415, 422, 501, 503),
)
async def train_model(slot: Served, request: Request, state: State) -> Response:
    """Train a new version of this served model, like POST /train; 202 with the job's URL."""
    return await _start(request, state, slot.name)


SCORE_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "description": "Names from the server's config: never a path, URL or database.",
                "required": ["source", "sink"],
                "additionalProperties": False,
                "properties": {
                    "source": {
                        "type": "string",
                        "minLength": 1,
                        "description": "The name of one of score.sources.",
                    },
                    "sink": {
                        "type": "string",
                        "minLength": 1,
                        "description": "The name of score.sink or one of score.sinks.",
                    },
                    "version": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_VERSION,
                        "description": "The version to score with (default: production).",
                    },
                },
                "example": {"source": "daily", "sink": "scored"},
            }
        }
    },
}


@router.post(
    "/models/{name}/score",
    status_code=202,
    response_model=JobAccepted,
    dependencies=[Authorized],
    openapi_extra={"requestBody": SCORE_BODY},
    tags=["scoring"],
    responses=problem_responses(400, 401, 404, 409, 413, 415, 422, 503),
)
async def score_model(slot: Served, request: Request, state: State) -> Response:
    """Score a configured source into a configured sink with this model (production, or the version
    named) in its own process; 202 with the job's URL. One job writes to a sink at a time."""
    body = await read_request(request, MAX_TRAIN_BODY)
    check_media(media_type(request.headers.get("content-type")))
    job = await asyncio.to_thread(state.jobs.start_scoring, slot.name, decode_json(body))
    return _accepted(job.id, job.status)


@router.get(
    "/jobs/{job_id}",
    response_model=Job,
    response_model_exclude_unset=True,  # a training job's progress has no row counts
    dependencies=[Authorized],
    responses=problem_responses(401, 404, 422, 503),
)
def get_job(job_id: JobId, state: State) -> dict:
    """A job: queued, running, succeeded or failed; a training job's fits and the version it made, or
    a scoring job's partitions, rows scored and rejected and the version it scored with; or the error.

    Needs the token when one is set: a job's overrides and error describe the server's data.
    """
    return job_view(state.jobs.get(job_id))


@router.get(
    "/jobs",
    response_model=JobList,
    response_model_exclude_unset=True,
    dependencies=[Authorized],
    responses=problem_responses(401, 422, 503),
)
def list_jobs(state: State, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict:
    """Recent jobs (training and scoring) of the models this server serves, newest first (the token,
    when one is set)."""
    records = state.registry.metadata.recent_jobs(limit, list(state.slots))
    return {"jobs": [job_view(job) for job in records]}
