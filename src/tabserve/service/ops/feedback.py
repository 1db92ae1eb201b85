"""Closing the loop over HTTP: ground truth in (POST /models/{name}/feedback), realised performance out."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from tabserve.errors import InputError, NotFoundError
from tabserve.monitoring.feedback import FeedbackStore
from tabserve.monitoring.feedback_records import JSON_LINES, read_records
from tabserve.monitoring.performance import model_report
from tabserve.service.deps import Authorized, Served, State, Watching
from tabserve.service.http.bodies import CSV_TYPES, is_json, media_type, read_body
from tabserve.service.http.errors import UnsupportedMediaTypeError, problem_responses

router = APIRouter(tags=["monitoring"])

FEEDBACK_BYTES = 16 * 1024 * 1024
FEEDBACK_RECORD = {
    "type": "object",
    "required": ["id", "actual"],
    "properties": {
        "id": {
            "type": "string",
            "description": "A row's id from a predict answer (ids, or the header's rule).",
        },
        "actual": {"description": "What really happened: a class label, or a number for a regressor."},
    },
}
FEEDBACK_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    {"type": "array", "items": FEEDBACK_RECORD},
                    FEEDBACK_RECORD,
                ]
            },
            "example": [{"id": "<an id from a predict answer>", "actual": "setosa"}],
        },
        "application/x-ndjson": {"schema": {"type": "string", "description": "One record per line."}},
        "text/csv": {"schema": {"type": "string", "description": "A header with id and actual, then rows."}},
    },
}


@router.post(
    "/models/{name}/feedback",
    dependencies=[Authorized],
    responses=problem_responses(400, 401, 404, 409, 413, 415, 422, 503),
    openapi_extra={"requestBody": FEEDBACK_BODY},
)
async def post_feedback(slot: Served, state: State, watch: Watching, request: Request) -> dict[str, Any]:
    """Ground truth for logged predictions, joined by id: counts what was accepted, and each kind of
    record that was not (unknown ids, duplicates, wrong-typed actuals, past the log's retention)."""
    media = media_type(request.headers.get("content-type"))
    if not (is_json(media) or media in CSV_TYPES or media in JSON_LINES):
        raise UnsupportedMediaTypeError(
            f"Content-Type '{media[:60]}' is not accepted; send application/json, application/x-ndjson "
            "or text/csv"
        )
    monitoring = state.settings.monitoring
    if monitoring.log_predictions <= 0:
        raise NotFoundError(
            "the prediction log is off on this server (monitoring.log_predictions: 0), "
            "so there are no predictions to join feedback to"
        )
    body = await read_body(request.receive, FEEDBACK_BYTES, request.headers.get("content-length"))
    records = read_records(body, "text/csv" if media in CSV_TYPES else media)
    if "log" in watch.channels:
        await watch.channels["log"].flush()  # predictions answered just now are in the log first
    store = FeedbackStore(lambda: state.registry.metadata, monitoring.retention_days)
    report = await asyncio.to_thread(store.record, slot.name, records)
    return {"model": slot.name, **report.as_dict()}


@router.get("/models/{name}/performance", responses=problem_responses(404, 422, 503))
async def get_performance(
    slot: Served,
    state: State,
    window: Annotated[
        str | None,
        Query(max_length=20, description="A window of monitoring.performance_windows (hour, day)."),
    ] = None,
) -> dict[str, Any]:
    """Realised performance per version from the ground truth sent back: accuracy with its Wilson
    interval and macro F1 (classification), RMSE and MAE with intervals (regression), with the number
    of labelled rows, overall and per time window, beside the hold-out figures."""
    monitoring = state.settings.monitoring
    windows = monitoring.performance_windows
    name = window or next(iter(windows))
    if name not in windows:
        raise InputError(
            f"window: '{name}' is not one of {', '.join(windows)} (monitoring.performance_windows)"
        )
    return await asyncio.to_thread(
        model_report, state.registry, slot.name, name, windows[name], monitoring.performance_days, time.time()
    )
