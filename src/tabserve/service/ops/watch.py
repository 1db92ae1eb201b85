"""Watching a served model: live drift against its training profile; shadow scoring of a candidate."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query

from tabserve.errors import NotFoundError
from tabserve.service.deps import Authorized, Served, State, VersionNumber, Watching
from tabserve.service.http.errors import problem_responses
from tabserve.service.predict.version_numbers import MAX_VERSION

router = APIRouter(tags=["monitoring"])

OptionalVersion = Annotated[
    int | None, Query(ge=1, le=MAX_VERSION, description="A version; default: the one serving now.")
]


@router.get("/models/{name}/drift", responses=problem_responses(404, 422, 503))
async def drift(slot: Served, watch: Watching, version: OptionalVersion = None) -> dict[str, Any]:
    """Live drift of a version's recent rows against its training profile: per feature PSI and the
    shares missing, out of range and unseen; the predicted class mix (a regressor: the bins of its
    predicted values) against the hold-out's."""
    if watch.drift is None:
        raise NotFoundError("drift is off on this server (monitoring.drift: false)")
    if version is None:
        version = slot.require().version
    await watch.channels["drift"].flush()
    return await asyncio.to_thread(watch.drift.report, slot.name, version)


@router.get("/models/{name}/shadow", responses=problem_responses(404, 422))
async def shadow(slot: Served, watch: Watching) -> dict[str, Any]:
    """The model's shadow version, and per production/shadow pair: rows scored, agreement and the
    confusion between their labels (a regressor: mean absolute and relative difference of the
    values), errors and the shadow's time per call."""
    await watch.channels["shadow"].flush()
    return watch.shadow.report(slot.name)


@router.post(
    "/models/{name}/versions/{version}/shadow",
    dependencies=[Authorized],
    responses=problem_responses(401, 404, 422, 500, 503),
)
async def start_shadow(slot: Served, version: VersionNumber, state: State, watch: Watching) -> dict[str, Any]:
    """Score live requests with this version too, off the response path (this server process only;
    server.shadow sets it for every replica). The version is loaded now, so a bad one fails here."""
    from tabserve.predictor import Predictor

    registry = state.registry
    candidate = await asyncio.to_thread(Predictor.load, registry, slot.name, version)
    watch.shadow.set(slot.name, version, candidate)
    watch.refresh()
    serving = slot.predictor
    return {
        "model": slot.name,
        "shadow_version": version,
        "production_version": serving.version if serving else None,
    }


@router.delete("/models/{name}/shadow", dependencies=[Authorized], responses=problem_responses(401, 404, 422))
async def stop_shadow(slot: Served, watch: Watching) -> dict[str, Any]:
    """Stop shadow scoring for this model (its figures so far stay on GET /models/{name}/shadow)."""
    stopped = watch.shadow.clear(slot.name)
    watch.refresh()
    if stopped is None:
        raise NotFoundError(f"model '{slot.name}' has no shadow version on this server")
    return {"model": slot.name, "shadow_version": None, "stopped_version": stopped}
