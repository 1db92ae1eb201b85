"""The one request-body reader: size limit, accepted media types and JSON decoding, for every route.

The raw predict path calls ``read_body`` with the ASGI ``receive``; FastAPI
routes call ``read_request`` with their ``Request``. Both stop reading as soon
as the limit is passed (a declared Content-Length over it is refused unread).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import Request

from tabserve.service.http.errors import BodyTooLargeError, MalformedBodyError, UnsupportedMediaTypeError

# curl -d sends form-urlencoded and some clients text/plain: both are read as JSON so they keep working.
JSON_TYPES = frozenset({"", "application/json", "application/x-www-form-urlencoded", "text/plain", "*/*"})
CSV_TYPES = frozenset({"text/csv", "application/csv"})


def media_type(raw: bytes | str | None) -> str:
    """The Content-Type without parameters, lower case; "" when absent."""
    if not raw:
        return ""
    if isinstance(raw, bytes):
        raw = raw.decode("latin-1")
    return raw.split(";", 1)[0].strip().lower()


def is_json(media: str) -> bool:
    return media in JSON_TYPES or media.endswith("+json")


def check_media(media: str, csv: bool = False) -> bool:
    """True for CSV (where ``csv`` allows it), False for JSON; 415 naming what to send otherwise."""
    if csv and media in CSV_TYPES:
        return True
    if is_json(media):
        return False
    send = "application/json or text/csv" if csv else "application/json"
    raise UnsupportedMediaTypeError(f"Content-Type '{media[:60]}' is not accepted; send {send}")


def _too_large(limit: int) -> BodyTooLargeError:
    return BodyTooLargeError(f"the body is larger than the limit of {limit} bytes")


async def read_body(
    receive: Callable[[], Awaitable[dict]], limit: int, content_length: bytes | str | None = None
) -> bytes:
    """The whole body from an ASGI ``receive``, or BodyTooLargeError once it passes ``limit`` bytes."""
    if content_length is not None:
        declared = content_length.decode("latin-1") if isinstance(content_length, bytes) else content_length
        if declared.isdigit() and int(declared) > limit:
            raise _too_large(limit)
    message = await receive()
    body = message.get("body", b"")
    if not message.get("more_body", False):
        if len(body) > limit:
            raise _too_large(limit)
        return body
    chunks = [body]
    size = len(body)
    while message.get("more_body", False):
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_request(request: Request, limit: int) -> bytes:
    """``read_body`` for a FastAPI route."""
    return await read_body(request.receive, limit, request.headers.get("content-length"))


def decode_json(body: bytes) -> Any:
    """Parsed JSON, or a 400 saying where it broke (orjson's message names a position, not content)."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedBodyError(f"the body is not valid JSON: {exc}") from None
