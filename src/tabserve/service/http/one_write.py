"""A response's head and body in one write: one system call and one segment instead of two.

uvicorn's request cycle writes the head at ``http.response.start`` and the body
at ``http.response.body``, each with its own ``transport.write`` (on loopback,
each call also carries the TCP delivery to the client). The guard's protocol
gives each request cycle a ``OneWrite`` in place of the socket's transport and
puts its ``hold`` in the scope under ``HOLD_HEAD``: an app that sends start and
body back to back (the dispatcher) calls it first, and the head waits for the
body. The bytes on the wire are the same; nothing is held unless asked, and a
held head goes out before the connection closes.
"""

from __future__ import annotations

import asyncio

HOLD_HEAD = "tabserve.hold_head"  # scope key: call it to send the next response head with the body


class OneWrite:
    """The connection's transport as a request cycle sees it: a held head goes out with the next write."""

    __slots__ = ("held", "holding", "transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.holding = False
        self.held: bytes | None = None

    def hold(self) -> None:
        """Keep the next write (the head) until the one after it (the body)."""
        self.holding = True

    def write(self, data: bytes) -> None:
        if self.holding:
            self.holding = False
            self.held = data
            return
        held = self.held
        if held is not None:
            self.held = None
            data = held + data
        self.transport.write(data)

    def close(self) -> None:
        self.holding = False
        if self.held is not None:
            self.write(b"")
        self.transport.close()

    def is_closing(self) -> bool:
        return self.transport.is_closing()
