"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response

from tabserve.service.deps import State
from tabserve.service.errors import problem_responses
from tabserve.service.metrics import CONTENT_TYPE
from tabserve.service.schemas import Health, Ready

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health)
async def healthz() -> dict:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Ready, responses=problem_responses(503))
async def readyz(state: State) -> dict:
    """Readiness: 200 once a model is loaded, 503 (saying why) until then."""
    predictor = state.require_predictor()
    return {"status": "ready", "model": predictor.model, "version": predictor.version}


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE: {}}}})
async def metrics(state: State) -> Response:
    """Prometheus metrics of this process: requests, latency, predictions, model version, jobs."""
    body = await asyncio.to_thread(state.metrics.render)  # the job gauge asks the database
    return Response(body, media_type=CONTENT_TYPE)
