"""Domain errors as gRPC status codes, with the words the HTTP protocols use.

The status comes from the one table HTTP uses (``service.http.errors`` through
``protocols.errors.status_and_message``), so an error is classed the same on
both; only the final mapping from an HTTP status to a gRPC code is here.
"""

from __future__ import annotations

import grpc

from tabserve.service.protocols.errors import status_and_message

CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,  # bad tensors, rows that do not fit the schema
    401: grpc.StatusCode.UNAUTHENTICATED,
    404: grpc.StatusCode.NOT_FOUND,  # a model or version not served
    409: grpc.StatusCode.FAILED_PRECONDITION,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,  # more rows than server.max_batch_rows
    415: grpc.StatusCode.INVALID_ARGUMENT,
    501: grpc.StatusCode.UNIMPLEMENTED,
    503: grpc.StatusCode.UNAVAILABLE,  # no version loaded, the registry unreachable
}


def status_for(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The gRPC code and a message safe to show (never the input); unknown errors are logged."""
    status, message = status_and_message(exc)
    return CODES.get(status, grpc.StatusCode.INTERNAL), message
