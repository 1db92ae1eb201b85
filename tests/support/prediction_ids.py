"""Answers compared without their prediction ids, which differ on every call by design."""

from __future__ import annotations

import re
from typing import Any

import orjson

REQUEST_ID = re.compile(rb"\b[0-9a-f]{24,39}\b")


def masked(content: bytes) -> bytes:
    """The body with every request id (and so every row id's prefix) replaced by ``<id>``."""
    return REQUEST_ID.sub(b"<id>", content)


def masked_json(response: Any) -> Any:
    """A JSON answer with its ids masked."""
    return orjson.loads(masked(response.content))
