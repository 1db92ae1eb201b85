"""Watching a served model: live drift against its training profile."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from tabserve.errors import NotFoundError
from tabserve.monitoring.watch import Watch
from tabserve.service.deps import Served
from tabserve.service.errors import problem_responses

router = APIRouter(tags=["monitoring"])

OptionalVersion = Annotated[
    int | None, Query(ge=1, le=2_147_483_647, description="A version; default: the one serving now.")
]


def _watch(request: Request) -> Watch:
    return request.app.state.service.watch


@router.get("/models/{name}/drift", responses=problem_responses(404, 422, 503))
async def drift(slot: Served, request: Request, version: OptionalVersion = None) -> dict[str, Any]:
    """Live drift of a version's recent rows against its training profile: per feature PSI and the
    shares missing, out of range and unseen; the predicted class mix against the hold-out's."""
    watch = _watch(request)
    if watch.drift is None:
        raise NotFoundError("drift is off on this server (monitoring.drift: false)")
    if version is None:
        version = slot.require().version
    await watch.channels["drift"].flush()
    return await asyncio.to_thread(watch.drift.report, slot.name, version)
