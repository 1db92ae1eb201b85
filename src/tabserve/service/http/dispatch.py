"""The raw ASGI fast path: tabserve's predict routes answered before FastAPI's middleware stack.

It skips routing, request objects, dependency injection and pydantic, and
calls the same ``PredictHandler.handle`` as the declared FastAPI routes. Only
well-formed predict paths are taken here; anything else (a bad version number,
another method) goes to FastAPI, which answers it with the declared route.
"""

from __future__ import annotations

import time
from typing import Any

from tabserve.service.http.errors import PROBLEM_JSON, problem_for
from tabserve.service.protocols.tabserve.handler import PredictHandler

DEFAULT_PATHS = frozenset({"/predict", "/predict/"})
DEFAULT_LABEL = "/predict"
MODEL_LABEL = "/models/{name}/predict"
VERSION_LABEL = "/models/{name}/versions/{version}/predict"
MODELS_PREFIX = "/models/"
PREDICT_SUFFIX = "/predict"
MAX_VERSION = 2_147_483_647


def model_and_version(path: str, prefix: str, suffix: str) -> tuple[str, int | None] | None:
    """(model, version) of a ``{prefix}{name}[/versions/{v}]{suffix}`` path, else None.

    Shared by every raw-ASGI path (tabserve's predict, OIP infer): a version is a whole
    number from 1 to MAX_VERSION; anything else is left to FastAPI's declared routes.
    """
    if not (path.startswith(prefix) and path.endswith(suffix)):
        return None
    parts = path[len(prefix) : -len(suffix)].split("/")
    if len(parts) == 1 and parts[0]:
        return parts[0], None
    if len(parts) == 3 and parts[0] and parts[1] == "versions" and parts[2].isascii() and parts[2].isdigit():
        version = int(parts[2])
        if 1 <= version <= MAX_VERSION:
            return parts[0], version
    return None


def predict_target(path: str) -> tuple[str, str | None, int | None] | None:
    """(metrics label, model, version) for a predict path this wrapper answers, else None."""
    if path in DEFAULT_PATHS:
        return DEFAULT_LABEL, None, None
    found = model_and_version(path, MODELS_PREFIX, PREDICT_SUFFIX)
    if found is None:
        return None
    return (MODEL_LABEL if found[1] is None else VERSION_LABEL), *found


class PredictFastPath:
    """ASGI middleware answering POST predict routes itself; every other request goes to FastAPI."""

    def __init__(self, app: Any, handler: PredictHandler) -> None:
        self.app = app
        self.handler = handler
        self.observe = handler.core.state.metrics.observe_request

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        target = None
        if scope["type"] == "http" and scope["method"] == "POST":
            target = predict_target(scope["path"])
        if target is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        label, model, version = target
        content_type = None
        length = None
        for name, value in scope["headers"]:
            if name == b"content-type" and content_type is None:  # the first, as Starlette reads it
                content_type = value
            elif name == b"content-length":
                length = value
        try:
            media, payload = await self.handler.handle(
                model, version, receive, content_type, length, scope["query_string"]
            )
            status = 200
            headers = [(b"content-type", media), (b"content-length", str(len(payload)).encode())]
        except Exception as exc:
            status, extra, payload = problem_for(exc)
            headers = [
                (b"content-type", PROBLEM_JSON),
                (b"content-length", str(len(payload)).encode()),
                *extra,
            ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        self.observe(label, "POST", status, time.perf_counter() - started)
