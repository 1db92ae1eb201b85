"""One client must not starve the rest: limits on the HTTP/1.1 connection, below the ASGI app.

uvicorn's httptools protocol buffers a request head without bound, never
closes a connection that is idle before its first request or that stalls
mid-head or mid-body, and answers malformed requests in plain text. This
subclass adds, per connection:

- a cap on the request line (414) and on the whole head (431), counted on the
  raw bytes before the parser buffers them;
- a deadline for a complete head once a connection opens or a request starts
  (408, or a plain close if nothing was sent), an idle limit between body
  chunks and a deadline for the whole body (408): a body trickled a byte at a
  time cannot hold a connection for longer than ``server.body_deadline_s``;
- ``server.max_connections``: past it, a small reserve of connections is kept
  for the probes (``/healthz``, ``/readyz``, answered as usual; anything else
  503 once its head arrives), and a connection beyond the reserve is answered
  503 at once, so a flood of slow clients cannot make a liveness probe fail;
- problem+json for what the parser rejects (bad Content-Length, a space in the
  path, ...), instead of uvicorn's ``text/plain`` 400;
- a 400 for a request with two Content-Type headers: which one counts would
  depend on the reader (the fast path and Starlette picked different ones);
- one write for a response's head and body when the app asks for it
  (``one_write.HOLD_HEAD`` in the scope; the dispatcher does).

Deadlines are armed once the parser is done with a chunk, so a request that
arrives whole (the usual case) arms and clears none of them.

The limits are process-wide (``configure``) because uvicorn builds the
protocol itself, in each worker, from an import path.

The subclass hooks into uvicorn internals (the parser callbacks, ``STATUS_LINE``,
the request cycle's flags), so pyproject pins uvicorn to ``UVICORN_SERIES``
and tests/service/http/test_guard_contract.py names whatever of that surface changes.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from tabserve.config import ServerSettings
from tabserve.service.http.errors import PROBLEM_JSON, problem_body
from tabserve.service.http.one_write import HOLD_HEAD, OneWrite

log = logging.getLogger(__name__)

UVICORN_SERIES = (0, 55)  # the uvicorn minor version this subclass is written and checked against


@dataclass(frozen=True)
class HttpLimits:
    max_request_line_bytes: int = 8 * 1024
    max_header_bytes: int = 64 * 1024
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    body_deadline_s: float = 120.0
    max_connections: int = 1000


PROBE_RESERVE = 16  # connections past the cap that may still reach a probe
PROBE_HEAD_TIMEOUT_S = 2.0  # a probe sends its head at once; a reserve slot is not held longer
PROBE_PATHS = (b"/healthz", b"/readyz")


_limits = HttpLimits()


def configure(server: ServerSettings) -> None:
    """Set this process's limits from the config (before uvicorn accepts connections)."""
    global _limits
    _limits = HttpLimits(
        max_request_line_bytes=server.max_request_line_bytes,
        max_header_bytes=server.max_header_bytes,
        header_timeout_s=server.header_timeout_s,
        body_timeout_s=server.body_timeout_s,
        body_deadline_s=server.body_deadline_s,
        max_connections=server.max_connections,
    )


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with head caps, read deadlines and a connection limit."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = _limits
        self._timer: asyncio.TimerHandle | None = None  # at most one pending per connection
        self._timer_at = 0.0
        self._due = 0.0
        self._on_due: Any = None  # what to do at ``_due``; None: no deadline armed
        self._refusal: str | None = None
        self._probes_only = False  # a reserve connection past max_connections
        self._body_due = 0.0
        self._headers_done = False  # on_headers_complete ran for the chunk being parsed
        self._one_write: OneWrite | None = None
        self._start_head()

    def _start_head(self) -> None:
        self._in_head = True
        self._head_bytes = 0
        self._line_done = False
        self._tail = b""

    # -- connection ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._one_write = OneWrite(transport)
        count = len(self.connections)
        if count > self.limits.max_connections:
            if count > self.limits.max_connections + PROBE_RESERVE:
                log.warning(
                    "refused a connection: server.max_connections (%d) reached", self.limits.max_connections
                )
                self._too_many()
                return
            self._probes_only = True
            self._arm(min(PROBE_HEAD_TIMEOUT_S, self.limits.header_timeout_s), self._head_timed_out)
            return
        self._arm(self.limits.header_timeout_s, self._head_timed_out)

    def _too_many(self) -> None:
        self._reject(503, "Too many connections", "the server has as many connections as it takes; retry")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        in_head = self._in_head
        if in_head and self._head_too_big(data):
            return
        self._headers_done = False
        super().data_received(data)
        # The deadline for what is still awaited, armed at this chunk's time (the loop's clock
        # does not move while a callback runs): a request that came whole needs none.
        if self._headers_done:
            self._headers_done = False
            if not self._in_head and self.parser is not None and not self.transport.is_closing():
                self._body_due = self.loop.time() + self.limits.body_deadline_s
                self._arm_body()  # the body goes on past this chunk
        elif in_head:
            if self._on_due is None and not self.transport.is_closing():
                # the first bytes of a kept-alive connection's next request, its head not complete
                self._arm(self.limits.header_timeout_s, self._head_timed_out)
        elif not self._in_head and not self.transport.is_closing():
            self._arm_body()  # more of the body: the idle limit starts again

    def _head_too_big(self, data: bytes) -> bool:
        """Count the head's bytes in this chunk, before the parser buffers them; answer 414/431 if over."""
        if not self._line_done:
            newline = data.find(b"\n")
            line = self._head_bytes + (len(data) if newline == -1 else newline)
            self._line_done = newline != -1
            if line > self.limits.max_request_line_bytes:
                limit = self.limits.max_request_line_bytes
                self._reject(414, "URI too long", f"the request line is over {limit} bytes")
                return True
        end = self._head_end(data)
        head = self._head_bytes + (len(data) if end == -1 else end)
        if head > self.limits.max_header_bytes:
            limit = self.limits.max_header_bytes
            self._reject(
                431, "Request header fields too large", f"the request line and headers are over {limit} bytes"
            )
            return True
        self._head_bytes += len(data)
        self._tail = (self._tail + data[-3:])[-3:]
        return False

    def _head_end(self, data: bytes) -> int:
        """How far into ``data`` the head runs (past its blank line), or -1 if it goes on.

        The blank line may straddle two chunks; the search goes no further than a head
        may reach, and copies nothing (the first chunk often carries the body too).
        """
        if self._tail:
            edge = (self._tail + data[:3]).find(b"\r\n\r\n")
            if edge != -1:
                return edge + 4 - len(self._tail)
        end = data.find(b"\r\n\r\n", 0, self.limits.max_header_bytes + 4)
        return -1 if end == -1 else end + 4

    # -- parser callbacks ------------------------------------------------------------
    def on_headers_complete(self) -> None:
        self._in_head = False
        self._on_due = None
        if self._probes_only and self.url.split(b"?", 1)[0] not in PROBE_PATHS:
            self._too_many()  # the rest of what was sent is parsed, and dropped
            return
        content_types = 0
        for name, _ in self.headers:  # uvicorn's on_header lower-cased the names
            if name == b"content-type":
                content_types += 1
        if content_types > 1:
            self._refusal = "the request has more than one Content-Type header; send one"
            raise ValueError(self._refusal)  # the parser stops; data_received answers via send_400_response
        super().on_headers_complete()
        self._headers_done = True  # data_received arms the body's deadline if the body goes on
        cycle = self.cycle
        if cycle is not None and cycle.scope is self.scope:  # a request cycle made for this head
            cycle.transport = self._one_write
            self.scope[HOLD_HEAD] = self._one_write.hold

    def on_body(self, body: bytes) -> None:
        if self.transport.is_closing():
            return
        super().on_body(body)

    def _arm_body(self) -> None:
        """The sooner of the idle limit and the whole body's deadline."""
        idle = self.limits.body_timeout_s
        self._arm(min(idle, max(self._body_due - self.loop.time(), 0.0)), self._body_timed_out)

    def on_message_complete(self) -> None:
        if self._probes_only and self.transport.is_closing():
            return
        self._on_due = None
        self._start_head()
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        """What the parser rejects, as a problem (the reason stays generic: the parser's is internal)."""
        detail = self._refusal or "the request is not valid HTTP/1.1 (request line, headers or framing)"
        self._reject(400, "Malformed HTTP request", detail)

    # -- deadlines ---------------------------------------------------------------------
    # Every request arms and disarms several deadlines; a timer each time would cost more than
    # the rest of this class. So a deadline is a time and a callback, and one pending timer per
    # connection checks it when it fires, moving itself to a later deadline if there is one.
    def _arm(self, seconds: float, callback: Any) -> None:
        due = self.loop.time() + seconds
        self._due, self._on_due = due, callback
        if self._timer is not None:
            if self._timer_at <= due:
                return  # it fires first and moves itself to ``due``
            self._timer.cancel()
        self._timer, self._timer_at = self.loop.call_at(due, self._check_due), due

    def _disarm(self) -> None:
        self._on_due = None  # a pending timer finds nothing due and stops

    def _check_due(self) -> None:
        self._timer = None
        if self._on_due is None:
            return
        if self.loop.time() < self._due:
            self._timer, self._timer_at = self.loop.call_at(self._due, self._check_due), self._due
            return
        callback, self._on_due = self._on_due, None
        callback()

    def _head_timed_out(self) -> None:
        if self.transport.is_closing():
            return
        if self._head_bytes == 0:
            self.transport.close()  # idle since it opened: nothing to answer
            return
        self._reject(
            408,
            "Request timeout",
            f"the request head did not arrive within {self.limits.header_timeout_s:g} s",
        )

    def _body_timed_out(self) -> None:
        if self.transport.is_closing() or self.cycle is None or not self.cycle.more_body:
            return
        if self.cycle.response_started:
            self.transport.close()
            return
        self.cycle.disconnected = True  # the app sees a disconnect if it is still reading
        self.cycle.message_event.set()
        if self.loop.time() >= self._body_due:
            detail = f"the body did not arrive within {self.limits.body_deadline_s:g} s"
        else:
            detail = f"no body bytes for {self.limits.body_timeout_s:g} s"
        self._reject(408, "Request timeout", detail)

    def _reject(self, status: int, title: str, detail: str) -> None:
        """Answer with a problem and close (nothing else is read from this connection)."""
        self._disarm()
        body = problem_body(status, title, detail, title.lower().replace(" ", "-"))
        head = [
            STATUS_LINE[status],
            b"content-type: " + PROBLEM_JSON + b"\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"connection: close\r\n",
            b"\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()
