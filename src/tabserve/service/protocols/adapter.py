"""The protocol adapter interface: all the one raw-ASGI dispatcher knows of a protocol.

An adapter says which requests are its hot path (``match``), answers one
(``handle``: decode the body, call the predict core, encode the answer) and
words any failure in its protocol's error shape (``error``). The dispatcher in
``service.http.dispatch`` reads the headers once, times the call and sends the
reply; it never imports a protocol, it is handed a table of adapters::

    class Adapter(Protocol):
        def match(self, path: str, method: str) -> Route | None: ...
        async def handle(self, route: Route, request: RawRequest) -> Reply: ...
        def error(self, exc: BaseException) -> Reply: ...

Each protocol's declared FastAPI routes (for /docs and for requests the adapter
does not match) call the same decode/encode functions, so both answer alike.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from tabserve.service.predict.version_numbers import parse_version

Headers = list[tuple[bytes, bytes]]


class Route(NamedTuple):
    """A matched hot path: its metrics label (the route template) and the model and version it names."""

    label: str
    model: str | None = None
    version: int | None = None


class Reply(NamedTuple):
    """What the dispatcher sends: status, content type, body and any further headers."""

    status: int
    media: bytes
    body: bytes
    headers: Headers = []


@dataclass(slots=True)
class RawRequest:
    """The parts of an ASGI request an adapter reads; the body is read by the adapter, after its checks."""

    content_type: bytes | None  # the first Content-Type, as Starlette reads it
    content_length: bytes | None
    query: bytes
    headers: Headers
    receive: Callable[[], Awaitable[dict]]

    def header(self, name: bytes) -> bytes | None:
        """The last value of header ``name`` (lower case), or None."""
        found = None
        for key, value in self.headers:
            if key == name:
                found = value
        return found


class Adapter(Protocol):
    """One protocol's hot path behind the dispatcher."""

    def match(self, path: str, method: str) -> Route | None:
        """The route this request takes here, or None to leave it to FastAPI."""
        ...

    async def handle(self, route: Route, request: RawRequest) -> Reply:
        """The successful answer; any failure is raised and worded by ``error``."""
        ...

    def error(self, exc: BaseException) -> Reply:
        """``exc`` in this protocol's error shape (never echoing the input)."""
        ...


def model_and_version(path: str, prefix: str, suffix: str) -> tuple[str, int | None] | None:
    """(model, version) of a ``{prefix}{name}[/versions/{v}]{suffix}`` path, else None.

    A version must pass ``parse_version``; any other path is left to FastAPI's declared
    routes, which answer it (a bad version included) in the protocol's own words.
    """
    if not (path.startswith(prefix) and path.endswith(suffix)):
        return None
    parts = path[len(prefix) : -len(suffix)].split("/")
    if len(parts) == 1 and parts[0]:
        return parts[0], None
    if len(parts) == 3 and parts[0] and parts[1] == "versions":
        version = parse_version(parts[2])
        if version is not None:
            return parts[0], version
    return None
