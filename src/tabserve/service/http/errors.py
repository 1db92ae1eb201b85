"""Domain errors to HTTP, in one table: status, title and an ``application/problem+json`` body.

Both the raw predict path and FastAPI's exception handlers use ``problem_for``,
so an error looks the same whichever route raised it.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

import orjson

from tabserve.errors import (
    BackendUnavailableError,
    ConfigError,
    ConflictError,
    DataError,
    GateRefusedError,
    InputError,
    IntegrityError,
    NoModelError,
    NotAcceptedError,
    NotFoundError,
    ServeOnlyError,
    TabserveError,
)
from tabserve.inputs import BatchTooLargeError

log = logging.getLogger(__name__)

PROBLEM_JSON = b"application/problem+json"
MAX_DETAIL_CHARS = 500  # a message never carries a whole request body


class ServiceError(TabserveError):
    """An error that only exists over HTTP (framing, content type, credentials)."""


class MalformedBodyError(ServiceError):
    """The body cannot be decoded at all (not JSON, not UTF-8, not CSV)."""


class BodyTooLargeError(ServiceError):
    """The body is bigger than the route accepts."""


class UnsupportedMediaTypeError(ServiceError):
    """The Content-Type is not one the route reads."""


class UnauthorizedError(ServiceError):
    """A bearer token is configured and the request did not carry it."""


class CrossOriginError(ServiceError):
    """A mutating request sent by another site's page (its Origin is not this server)."""


class NotReadyError(ServiceError):
    """The process cannot serve as it should (e.g. a background task died); /readyz says why."""


@dataclass(frozen=True)
class Problem:
    status: int
    title: str
    slug: str


# Order matters: the first class in an error's MRO that appears here wins.
PROBLEMS: dict[type[BaseException], Problem] = {
    BatchTooLargeError: Problem(413, "Batch too large", "batch-too-large"),
    InputError: Problem(422, "Invalid input", "invalid-input"),
    MalformedBodyError: Problem(400, "Malformed body", "malformed-body"),
    BodyTooLargeError: Problem(413, "Body too large", "body-too-large"),
    UnsupportedMediaTypeError: Problem(415, "Unsupported media type", "unsupported-media-type"),
    UnauthorizedError: Problem(401, "Unauthorized", "unauthorized"),
    CrossOriginError: Problem(403, "Cross-origin request refused", "cross-origin"),
    NotAcceptedError: Problem(422, "Not accepted", "not-accepted"),
    NoModelError: Problem(503, "No model", "no-model"),
    NotReadyError: Problem(503, "Not ready", "not-ready"),
    NotFoundError: Problem(404, "Not found", "not-found"),
    ConflictError: Problem(409, "Conflict", "conflict"),
    BackendUnavailableError: Problem(503, "Registry unavailable", "backend-unavailable"),
    ConfigError: Problem(422, "Invalid configuration", "invalid-config"),
    DataError: Problem(503, "Training data unavailable", "data-unavailable"),
    # A stored file that fails its checksum (or holds untrusted types) is a state of the registry
    # the caller can work around (another version, a re-registration), not a server fault.
    IntegrityError: Problem(409, "Stored file failed its integrity check", "integrity"),
    ServeOnlyError: Problem(501, "This install serves only", "serve-only"),
}
INTERNAL = Problem(500, "Internal error", "internal")


def lookup(exc: BaseException) -> Problem:
    for cls in type(exc).__mro__:
        found = PROBLEMS.get(cls)
        if found is not None:
            return found
    return INTERNAL


_last_outage = ""


def public_detail(exc: BaseException) -> str:
    """What an answer may say about ``exc``: an outage names no host, user or driver (the log does)."""
    global _last_outage
    if isinstance(exc, BackendUnavailableError):
        message = str(exc)
        if message != _last_outage:  # once per distinct outage, not once per refused request
            _last_outage = message
            log.warning("answering 503: %s", message)
        return exc.public
    return str(exc)


def problem_body(status: int, title: str, detail: str, slug: str, **extra: object) -> bytes:
    if len(detail) > MAX_DETAIL_CHARS:
        detail = detail[: MAX_DETAIL_CHARS - 3] + "..."
    body = {"type": f"urn:tabserve:problem:{slug}", "title": title, "status": status, "detail": detail}
    body.update({k: v for k, v in extra.items() if v is not None})
    return orjson.dumps(body)


def log_internal(exc: BaseException) -> str:
    """Log an unexpected error with a new request id; the id, for the answer to carry (so a user's
    report finds the log line and its traceback)."""
    request_id = uuid.uuid4().hex
    log.error("unhandled error (request id %s)", request_id, exc_info=exc)
    return request_id


def internal_detail(request_id: str) -> str:
    return f"an unexpected error occurred; it has been logged with request id {request_id}"


def problem_for(exc: BaseException) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, extra headers and body for any exception; unknown ones are logged and hidden, the
    answer and the log line sharing a request id."""
    found = lookup(exc)
    headers: list[tuple[bytes, bytes]] = []
    extra: dict[str, object] = {}
    if found is INTERNAL:
        request_id = log_internal(exc)
        detail = internal_detail(request_id)
        extra["request_id"] = request_id
        headers.append((b"x-request-id", request_id.encode()))
    else:
        detail = public_detail(exc)
    if isinstance(exc, ConflictError) and exc.job_id:
        extra["job_id"] = exc.job_id
        extra["job_url"] = f"/jobs/{exc.job_id}"
        headers.append((b"location", f"/jobs/{exc.job_id}".encode()))
    if isinstance(exc, GateRefusedError):
        extra["gates"] = exc.gates
        extra["overridable"] = exc.overridable
    if isinstance(exc, UnauthorizedError):
        headers.append((b"www-authenticate", b'Bearer realm="tabserve"'))
    if found.status == 503:
        headers.append((b"retry-after", b"5"))
    return found.status, headers, problem_body(found.status, found.title, detail, found.slug, **extra)


# For the OpenAPI document: the shape every error body has.
PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "job_id": {"type": "string"},
        "job_url": {"type": "string"},
        "request_id": {"type": "string", "description": "An unexpected error's id, also in the log."},
        "gates": {
            "type": "array",
            "items": {"type": "string"},
            "description": "A promotion refused by gates: their names (the detail has the figures).",
        },
        "overridable": {"type": "boolean", "description": "Whether force=true would get past those gates."},
    },
}


def problem_responses(*statuses: int) -> dict[int | str, dict]:
    """OpenAPI ``responses`` entries for the given error statuses."""
    return {
        status: {
            "description": next((p.title for p in PROBLEMS.values() if p.status == status), "Error"),
            "content": {"application/problem+json": {"schema": PROBLEM_SCHEMA}},
        }
        for status in statuses
    }
