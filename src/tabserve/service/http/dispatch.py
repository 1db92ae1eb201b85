"""The one raw-ASGI entry in front of FastAPI: hot paths answered by a table of protocol adapters.

For each HTTP request the dispatcher asks its adapters, in order, whether the
path is theirs (``Adapter.match``). The first that says yes answers it: the
headers are read once, the adapter decodes, calls the predict core and encodes
(``handle``) or words the failure (``error``), and the reply is sent and timed
here. This skips FastAPI's routing, request objects, dependency injection and
pydantic on the paths that carry the load. Anything no adapter matches (a bad
version number, another method, every other route) goes on to FastAPI, whose
declared routes call the same protocol functions.

The dispatcher knows only the adapter interface, never a protocol or a route.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from tabserve.service.protocols.adapter import Adapter, RawRequest

Observe = Callable[[str, str, int, float], None]


class Dispatcher:
    """ASGI app answering what its adapters match and passing everything else to ``app``."""

    def __init__(
        self, app: Any, adapters: Sequence[Adapter], observe: Observe, hold_head: str | None = None
    ) -> None:
        self.app = app
        self.adapters = tuple(adapters)
        self.observe = observe  # (route label, method, status, seconds), as FastAPI's requests are timed
        # A scope key under which the server may offer a callable that keeps the next response head
        # until its body is written, so both go out in one write (service/http/one_write.py).
        self.hold_head = hold_head

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            method = scope["method"]
            for adapter in self.adapters:
                route = adapter.match(path, method)
                if route is not None:
                    break
            else:
                route = None
            if route is not None:  # answered here, in this coroutine (no further await layer)
                started = time.perf_counter()
                headers = scope["headers"]
                content_type = length = None
                for name, value in headers:
                    if name == b"content-type":
                        if content_type is None:  # the first, as Starlette reads it
                            content_type = value
                    elif name == b"content-length":
                        length = value
                request = RawRequest(content_type, length, scope["query_string"], headers, receive)
                try:
                    reply = await adapter.handle(route, request)
                except Exception as exc:
                    reply = adapter.error(exc)
                body = reply.body
                out = [(b"content-type", reply.media), (b"content-length", b"%d" % len(body)), *reply.headers]
                hold = scope.get(self.hold_head)
                if hold is not None and method != "HEAD":  # uvicorn writes no body for HEAD
                    hold()  # the guard's protocol: the head goes out with the body, in one write
                await send({"type": "http.response.start", "status": reply.status, "headers": out})
                await send({"type": "http.response.body", "body": body})
                self.observe(route.label, method, reply.status, time.perf_counter() - started)
                return
        await self.app(scope, receive, send)
