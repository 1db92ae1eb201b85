"""Canary releases over HTTP: start one, promote or stop it, and see both versions side by side."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from tabserve import canary as canary_story
from tabserve.registry import PRODUCTION
from tabserve.service.deps import Authorized, Served, State, VersionNumber
from tabserve.service.http.errors import problem_responses
from tabserve.service.predict.state import ModelSlot, ServiceState

router = APIRouter(tags=["canary"])


class CanaryStart(BaseModel):
    """What share of the model's production traffic the candidate answers."""

    model_config = ConfigDict(extra="forbid")
    weight: StrictInt = Field(
        ge=canary_story.MIN_WEIGHT, le=canary_story.MAX_WEIGHT, description="Percent of traffic, 1 to 99."
    )


def canary_view(slot: ModelSlot, state: ServiceState, record: Any, history: list[Any]) -> dict[str, Any]:
    """The model's canary as this server sees it: the registry's record, and both versions' figures here."""
    route = state.canaries.get(slot.name)
    production = slot.predictor
    versions = []
    if route is not None:
        candidate = route.stats[route.candidate.version].summary()
        versions.append({**candidate, "role": "candidate"})
        if production is not None and production.version in route.stats:
            versions.append({**route.stats[production.version].summary(), "role": "production"})
    rules = state.settings.canary
    return {
        "model": slot.name,
        "production_version": production.version if production is not None else None,
        "canary": None if record is None else record.summary(),
        "served_here": route is not None,
        "problem": state.canary_problems.get(slot.name),
        "versions": versions,
        "rules": rules.model_dump(mode="json"),
        "history": [item.summary() for item in history],
    }


@router.get("/models/{name}/canary", responses=problem_responses(404, 503))
async def show_canary(slot: Served, state: State) -> dict:
    """The model's canary (if one runs), both versions' requests, errors, latency and class mix on this
    server, the abort rules, and the model's past canaries with how each ended."""
    metadata = state.registry.metadata
    record = await asyncio.to_thread(metadata.active_canary, slot.name)
    history = await asyncio.to_thread(metadata.canary_history, slot.name)
    return canary_view(slot, state, record, history)


@router.post(
    "/models/{name}/versions/{version}/canary",
    dependencies=[Authorized],
    responses=problem_responses(401, 404, 409, 422, 503),
)
async def start_canary(slot: Served, version: VersionNumber, body: CanaryStart, state: State) -> dict:
    """Send ``weight`` percent of the model's production traffic to this version, once it answered its
    smoke prediction (409 otherwise, or while another version's canary runs); every server follows
    within a reload interval. Again with another weight: the canary takes it."""
    record = await asyncio.to_thread(
        canary_story.start, state.registry, slot.name, version, body.weight, "http"
    )
    state.model_changed()
    return {"model": slot.name, "canary": record.summary()}


@router.post(
    "/models/{name}/versions/{version}/canary/promote",
    dependencies=[Authorized],
    responses=problem_responses(401, 404, 409, 422, 503),
)
async def promote_canary(slot: Served, version: VersionNumber, state: State) -> dict:
    """Make the canary's version production (through the same checks as any promotion) and end the
    canary; 404 when no canary of this version runs."""
    record = await asyncio.to_thread(canary_story.promote, state.registry, slot.name, version, "http")
    state.model_changed()
    return {"model": slot.name, "alias": PRODUCTION, "version": version, "canary": record.summary()}


@router.delete(
    "/models/{name}/versions/{version}/canary",
    dependencies=[Authorized],
    responses=problem_responses(401, 404, 422, 503),
)
async def stop_canary(slot: Served, version: VersionNumber, state: State) -> dict:
    """End the canary of this version: production answers all the model's traffic again."""
    record = await asyncio.to_thread(canary_story.stop, state.registry, slot.name, version, "http")
    state.model_changed()
    return {"model": slot.name, "canary": record.summary()}
