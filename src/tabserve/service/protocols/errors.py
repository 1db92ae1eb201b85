"""Status and message of any error, for protocols whose error bodies are not problem+json.

OIP v2, KServe V1 and MLflow each word errors their own way, but all take the
status from the one table in ``service.errors``: a protocol error or bad input
is a 400 (as those protocols say), unknown errors are logged and hidden.
"""

from __future__ import annotations

from tabserve.service.http.errors import INTERNAL, internal_detail, log_internal, lookup
from tabserve.service.protocols import ProtocolError

MAX_MESSAGE_CHARS = 500


def status_and_message(exc: BaseException) -> tuple[int, str]:
    """HTTP status and a message safe to show (never the input) for ``exc``."""
    if isinstance(exc, ProtocolError):
        status = 400
    else:
        found = lookup(exc)
        if found is INTERNAL:
            return 500, internal_detail(log_internal(exc))
        status = 400 if found.status == 422 else found.status
    message = str(exc)
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[: MAX_MESSAGE_CHARS - 3] + "..."
    return status, message
