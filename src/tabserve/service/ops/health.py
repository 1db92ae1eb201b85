"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response

from tabserve.service.deps import State
from tabserve.service.http.errors import NotReadyError, problem_responses
from tabserve.service.manage.schemas import Health, Ready
from tabserve.service.predict.metrics import CONTENT_TYPE
from tabserve.service.predict.state import SlotStatus

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health)
async def healthz() -> dict:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get(
    "/readyz", response_model=Ready, response_model_exclude_none=True, responses=problem_responses(503)
)
async def readyz(state: State) -> dict:
    """Readiness: 200 once every served model has a version loaded; 503 saying why otherwise
    (a model not loaded, or a background task that died)."""
    if state.task_failures:
        raise NotReadyError(state.unready_reason() or "a background task died")
    models = {slot.name: slot.require().version for slot in state.slots.values()}
    default = state.default.require()
    degraded = {
        slot.name: slot.degraded_reason
        for slot in state.slots.values()
        if slot.status is SlotStatus.LOAD_FAILED and slot.degraded_reason
    }
    answer: dict = {
        "status": "degraded" if degraded else "ready",
        "model": default.model,
        "version": default.version,
    }
    return {**answer, "models": models, **({"degraded": degraded} if degraded else {})}


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE: {}}}})
async def metrics(state: State) -> Response:
    """Prometheus metrics of this process: requests, latency, predictions, model version, jobs."""
    body = await asyncio.to_thread(state.metrics.render)  # the job gauge asks the database
    return Response(body, media_type=CONTENT_TYPE)
