"""The hot paths of other protocols on raw ASGI: OIP v2 infer and MLflow's /invocations.

Like ``PredictFastPath`` for tabserve's own predict routes, this answers
``POST /v2/models/{name}[/versions/{v}]/infer`` and ``POST /invocations``
before FastAPI's routing and middleware, calling the same functions as the
declared routes (``routes_oip.infer_answer``, ``routes_mlflow.invocations_answer``),
so both answer and fail alike. Any other request, or a path it does not
recognise exactly, goes on to FastAPI.
"""

from __future__ import annotations

import time
from typing import Any

from tabserve.service.http.bodies import read_body
from tabserve.service.http.dispatch import model_and_version
from tabserve.service.predict.core import PredictCore
from tabserve.service.protocols.errors import status_and_message
from tabserve.service.protocols.mlflow import routes as routes_mlflow
from tabserve.service.protocols.oip import codec as oip
from tabserve.service.protocols.oip import routes as routes_oip
from tabserve.service.protocols.tabserve.handler import body_limit

INVOCATIONS = "/invocations"
V2_PREFIX = "/v2/models/"
INFER_SUFFIX = "/infer"
INFER_LABEL = "/v2/models/{name}/infer"
VERSION_INFER_LABEL = "/v2/models/{name}/versions/{version}/infer"
_HEADER_LENGTH = oip.HEADER_LENGTH.encode()


def infer_target(path: str) -> tuple[str, str, int | None] | None:
    """(metrics label, model, version) of an OIP infer path, else None."""
    found = model_and_version(path, V2_PREFIX, INFER_SUFFIX)
    if found is None:
        return None
    return (INFER_LABEL if found[1] is None else VERSION_INFER_LABEL), *found


class ProtocolFastPath:
    """ASGI middleware answering OIP infer and /invocations itself; the rest goes to FastAPI."""

    def __init__(self, app: Any, core: PredictCore) -> None:
        self.app = app
        self.core = core
        self.limit = body_limit(core.max_rows)
        self.observe = core.state.metrics.observe_request

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path == INVOCATIONS:
            await self._invocations(scope, receive, send)
            return
        target = infer_target(path)
        if target is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        label, model, version = target
        content_type = length = header_length = None
        for name, value in scope["headers"]:
            if name == b"content-type" and content_type is None:  # the first, as Starlette reads it
                content_type = value
            elif name == b"content-length":
                length = value
            elif name == _HEADER_LENGTH:
                header_length = value.decode("latin-1")
        extra: list[tuple[bytes, bytes]] = []
        try:
            routes_oip.check_infer_media(content_type)
            body = await read_body(receive, self.limit, length)
            media, payload, binary_at = await routes_oip.infer_answer(
                self.core, model, version, body, header_length
            )
            status = 200
            if binary_at is not None:
                extra.append((_HEADER_LENGTH, str(binary_at).encode()))
        except Exception as exc:
            status, message = status_and_message(exc)
            media, payload = oip.JSON_CT, oip.error_body(message)
        await _send(send, status, media, payload, extra)
        self.observe(label, "POST", status, time.perf_counter() - started)

    async def _invocations(self, scope: dict, receive: Any, send: Any) -> None:
        started = time.perf_counter()
        content_type = length = None
        for name, value in scope["headers"]:
            if name == b"content-type" and content_type is None:  # the first, as Starlette reads it
                content_type = value
            elif name == b"content-length":
                length = value
        try:
            body = await read_body(receive, self.limit, length)
            payload = await routes_mlflow.invocations_answer(self.core, body, content_type)
            status = 200
        except Exception as exc:
            status, payload = routes_mlflow.error_answer(exc)
        await _send(send, status, oip.JSON_CT, payload, [])
        self.observe(INVOCATIONS, "POST", status, time.perf_counter() - started)


async def _send(
    send: Any, status: int, media: bytes, payload: bytes, extra: list[tuple[bytes, bytes]]
) -> None:
    headers = [(b"content-type", media), (b"content-length", str(len(payload)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
