"""Status and message of any error, for protocols whose error bodies are not problem+json.

OIP v2, KServe V1 and MLflow each word errors their own way, but all take the
status from the one table in ``service.errors``: a protocol error or bad input
is a 400 (as those protocols say), unknown errors are logged and hidden.
"""

from __future__ import annotations

import logging

from tabserve.service.http.errors import INTERNAL, lookup, public_detail
from tabserve.service.protocols import ProtocolError

log = logging.getLogger(__name__)

HIDDEN = "an unexpected error occurred; it has been logged"
MAX_MESSAGE_CHARS = 500


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
    message = public_detail(exc)
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[: MAX_MESSAGE_CHARS - 3] + "..."
    return status, message
