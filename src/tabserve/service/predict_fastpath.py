"""The raw ASGI fast path: tabserve's predict routes answered before FastAPI's middleware stack.

It skips routing, request objects, dependency injection and pydantic, and
calls the same ``PredictHandler.handle`` as the declared FastAPI routes. Only
well-formed predict paths are taken here; anything else (a bad version number,
another method) goes to FastAPI, which answers it with the declared route.
"""

from __future__ import annotations

import time
from typing import Any

from tabserve.service.errors import PROBLEM_JSON, problem_for
from tabserve.service.predict_handler import PredictHandler

DEFAULT_PATHS = frozenset({"/predict", "/predict/"})
DEFAULT_LABEL = "/predict"
MODEL_LABEL = "/models/{name}/predict"
VERSION_LABEL = "/models/{name}/versions/{version}/predict"
MODELS_PREFIX = "/models/"
PREDICT_SUFFIX = "/predict"
MAX_VERSION = 2_147_483_647


def predict_target(path: str) -> tuple[str, str | None, int | None] | None:
    """(metrics label, model, version) for a predict path this wrapper answers, else None."""
    if path in DEFAULT_PATHS:
        return DEFAULT_LABEL, None, None
    if not (path.startswith(MODELS_PREFIX) and path.endswith(PREDICT_SUFFIX)):
        return None
    parts = path[len(MODELS_PREFIX) : -len(PREDICT_SUFFIX)].split("/")
    if len(parts) == 1 and parts[0]:
        return MODEL_LABEL, parts[0], None
    if len(parts) == 3 and parts[0] and parts[1] == "versions" and parts[2].isascii() and parts[2].isdigit():
        version = int(parts[2])
        if 1 <= version <= MAX_VERSION:
            return VERSION_LABEL, parts[0], version
    return None


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
