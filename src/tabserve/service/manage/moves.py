"""Moving a model's production alias over HTTP (promote, roll back) and the history of every move.

A move may carry a JSON body ``{"reason": ..., "force": ..., "actor": "http" | "console"}`` (all
optional; ``?force=true`` works too): the reason and the actor are recorded with the move, and
``force`` overrides refusing promotion gates when the config allows it, never the smoke
prediction. A refusal is 409 problem+json naming the gates and their figures.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tabserve import promotion
from tabserve.errors import NotAcceptedError
from tabserve.registry import PRODUCTION
from tabserve.registry.records import MAX_REASON_CHARS
from tabserve.service.deps import Authorized, Served, State, VersionNumber
from tabserve.service.http.bodies import check_media, decode_json, media_type, read_request
from tabserve.service.http.errors import problem_responses
from tabserve.service.manage.schemas import AliasMove, History

router = APIRouter(tags=["models"])

MAX_MOVE_BODY = 4096
MAX_HISTORY_LIMIT = 500
MAX_MOVE_ID = 2**31 - 1  # the history's id column is a 32-bit integer on every backend


class MoveRequest(BaseModel):
    """What a promote or rollback may say about itself; every key optional."""

    model_config = ConfigDict(extra="forbid", strict=True)

    reason: str = Field("", max_length=MAX_REASON_CHARS, description="Why: recorded with the move.")
    force: bool = Field(
        False, description="Override refusing promotion gates (recorded); not the smoke check."
    )
    actor: Literal["http", "console"] = Field("http", description="Who asks: recorded with the move.")


MOVE_BODY = {
    "required": False,
    "content": {
        "application/json": {
            "schema": {**MoveRequest.model_json_schema(), "example": {"reason": "better on the new data"}}
        }
    },
}


async def _move_request(request: Request, force: bool) -> MoveRequest:
    body = await read_request(request, MAX_MOVE_BODY)
    raw: Any = {}
    if body.strip():
        check_media(media_type(request.headers.get("content-type")))
        raw = decode_json(body)
        if not isinstance(raw, dict):
            raise NotAcceptedError("the body must be a JSON object: {reason, force, actor}, each optional")
    try:
        move = MoveRequest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        raise NotAcceptedError(f"{where}: {message}") from None
    return move.model_copy(update={"force": True}) if force else move


ForceQuery = Annotated[bool, Query(description="Override refusing promotion gates (as the body's force).")]


@router.post(
    "/models/{name}/versions/{version}/promote",
    response_model=AliasMove,
    dependencies=[Authorized],
    responses=problem_responses(401, 404, 409, 415, 422, 503),
    openapi_extra={"requestBody": MOVE_BODY},
)
async def promote(
    slot: Served, version: VersionNumber, state: State, request: Request, force: ForceQuery = False
) -> dict:
    """Point the model's production alias at this version once it passed the promotion gates and
    answered its smoke prediction (409 naming the gate and its figures, or the version and the error,
    otherwise); servers switch to it within a reload interval."""
    move = await _move_request(request, force)
    await asyncio.to_thread(
        promotion.promote,
        state.registry,
        slot.name,
        version,
        actor=move.actor,
        reason=move.reason,
        force=move.force,
    )
    state.model_changed()
    return {"model": slot.name, "alias": PRODUCTION, "version": version}


@router.post(
    "/models/{name}/rollback",
    response_model=AliasMove,
    dependencies=[Authorized],
    responses=problem_responses(401, 404, 409, 415, 422, 503),
    openapi_extra={"requestBody": MOVE_BODY},
)
async def rollback(slot: Served, state: State, request: Request, force: ForceQuery = False) -> dict:
    """Move the model's production alias back to where it pointed before the last promotion.

    Like promote, the target version must pass the gates that apply to a rollback, its checksums and
    its smoke prediction (409 naming what failed otherwise).
    """
    move = await _move_request(request, force)
    version = await asyncio.to_thread(
        promotion.rollback, state.registry, slot.name, actor=move.actor, reason=move.reason, force=move.force
    )
    state.model_changed()
    return {"model": slot.name, "alias": PRODUCTION, "version": version}


@router.get("/models/{name}/history", response_model=History, responses=problem_responses(404, 422, 503))
def history(
    slot: Served,
    state: State,
    limit: Annotated[int, Query(ge=1, le=MAX_HISTORY_LIMIT, description="Most moves in one answer.")] = 50,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_MOVE_ID, description="Only moves older than this id (the next page).")
    ] = None,
    alias: Annotated[
        str | None,
        Query(
            min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_.-]+$", description="Only this alias's moves."
        ),
    ] = None,
) -> dict:
    """Every move of the model's aliases (or of one), newest first: from and to which version, who moved it
    (train, register, import, cli, http, console, canary, ...), when, why, and whether it was forced."""
    moves = state.registry.history(slot.name, limit=limit, before=before, alias=alias)
    more = len(moves) == limit and moves[-1].id > 1
    only = f"&alias={alias}" if alias else ""
    following = f"/models/{slot.name}/history?limit={limit}&before={moves[-1].id}{only}" if more else None
    return {"model": slot.name, "moves": [move.to_dict() for move in moves], "next": following}
