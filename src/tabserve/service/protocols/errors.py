"""Errors for protocols whose error bodies are not problem+json (OIP v2, KServe V1, MLflow).

Each protocol words its error body its own way (``encode(status, message)``),
but all take the status and a message safe to show from here, and from the one
table in ``service.http.errors``: a protocol error or bad input is a 400 (as
those protocols say), unknown errors are logged and hidden. The same helpers
give the declared routes their error responses and their OpenAPI entries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import Response

from tabserve.service.http.errors import INTERNAL, lookup
from tabserve.service.protocols import ProtocolError
from tabserve.service.protocols.adapter import Reply

log = logging.getLogger(__name__)

HIDDEN = "an unexpected error occurred; it has been logged"
MAX_MESSAGE_CHARS = 500
JSON_CT = b"application/json"
# OIP's and KServe V1's error body; MLflow's has its own schema.
ERROR_SCHEMA = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}

Encode = Callable[[int, str], bytes]


def status_and_message(exc: BaseException) -> tuple[int, str]:
    """HTTP status and a message safe to show (never the input) for ``exc``."""
    if isinstance(exc, ProtocolError):
        status = 400
    else:
        found = lookup(exc)
        if found is INTERNAL:
            log.error("unhandled error", exc_info=exc)
            return 500, HIDDEN
        status = 400 if found.status == 422 else found.status
    message = str(exc)
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[: MAX_MESSAGE_CHARS - 3] + "..."
    return status, message


def error_reply(exc: BaseException, encode: Encode) -> Reply:
    """``exc`` as a JSON error reply for the dispatcher, its body worded by ``encode``."""
    status, message = status_and_message(exc)
    return Reply(status, JSON_CT, encode(status, message))


def error_response(exc: BaseException, encode: Encode) -> Response:
    """``exc`` as a JSON error response for a declared route, its body worded by ``encode``."""
    reply = error_reply(exc, encode)
    return Response(reply.body, status_code=reply.status, media_type="application/json")


def error_responses(*statuses: int, schema: dict | None = None) -> dict[int | str, dict]:
    """OpenAPI ``responses`` entries for ``statuses``: a JSON body of ``schema`` (default: ``{"error"}``)."""
    body = ERROR_SCHEMA if schema is None else schema
    return {s: {"description": "Error", "content": {"application/json": {"schema": body}}} for s in statuses}
