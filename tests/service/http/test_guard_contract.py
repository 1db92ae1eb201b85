"""The part of uvicorn the HTTP guard leans on, checked by name, so an upgrade says what moved.

``GuardedHttpToolsProtocol`` subclasses uvicorn's httptools protocol, overrides
its parser callbacks and reads its per-connection fields; none of that is public
API. These tests fail with the name of what changed: the version series, the
class uvicorn picks for ``http="httptools"``, a method's parameters, a method of
uvicorn's that a guard helper would shadow, a status line, or what the base class
does with the callbacks (checked on a live protocol over a fake transport).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from packaging.requirements import Requirement
from uvicorn.config import HTTP_PROTOCOLS, Config
from uvicorn.importer import import_from_string
from uvicorn.protocols.http import httptools_impl
from uvicorn.server import ServerState

from tabserve.service.http import guard
from tabserve.service.http.guard import GuardedHttpToolsProtocol, HttpLimits
from tabserve.service.http.one_write import HOLD_HEAD, OneWrite

ROOT = Path(__file__).resolve().parents[3]
BASE = httptools_impl.HttpToolsProtocol

# Every uvicorn method the guard overrides, with the parameters it is written for.
OVERRIDDEN = {
    "connection_made": ["self", "transport"],
    "connection_lost": ["self", "exc"],
    "data_received": ["self", "data"],
    "on_headers_complete": ["self"],
    "on_body": ["self", "body"],
    "on_message_complete": ["self"],
    "send_400_response": ["self", "msg"],
}
# What the guard reads on the protocol (set by uvicorn's __init__ or connection_made) and on its cycle.
PROTOCOL_FIELDS = ("connections", "transport", "loop", "parser", "cycle")
CYCLE_FIELDS = {"more_body": True, "response_started": False, "disconnected": False}
STATUSES = (400, 408, 414, 431, 503)


def _series(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def test_the_installed_uvicorn_is_the_series_the_guard_is_checked_against():
    assert _series(uvicorn.__version__) == guard.UVICORN_SERIES, (
        f"uvicorn {uvicorn.__version__} is installed but the guard is checked against "
        f"{guard.UVICORN_SERIES}: run this file, fix what it names, then move UVICORN_SERIES and the pin"
    )


def test_pyproject_pins_uvicorn_to_that_series():
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = [Requirement(text) for text in dependencies if Requirement(text).name == "uvicorn"]
    assert len(pins) == 1, "pyproject.toml names uvicorn once"
    major, minor = guard.UVICORN_SERIES
    assert str(pins[0].specifier) == f"<{major}.{minor + 1},>={major}.{minor}", (
        f"uvicorn is pinned as '{pins[0].specifier}': the guard needs >={major}.{minor},<{major}.{minor + 1}"
    )
    assert "standard" in pins[0].extras  # httptools and uvloop come with it


def test_the_guard_subclasses_what_uvicorn_runs_for_httptools():
    picked = import_from_string(HTTP_PROTOCOLS["httptools"])
    assert picked is BASE, f"uvicorn's http='httptools' is now {HTTP_PROTOCOLS['httptools']}"
    assert GuardedHttpToolsProtocol.__bases__ == (BASE,)
    config = Config(app=_noop_app, http=GuardedHttpToolsProtocol)
    config.load()
    assert config.http_protocol_class is GuardedHttpToolsProtocol, "uvicorn no longer takes a protocol class"


@pytest.mark.parametrize("name", sorted(OVERRIDDEN))
def test_each_overridden_method_is_still_uvicorns_with_the_same_parameters(name: str):
    found = getattr(BASE, name, None)
    assert callable(found), (
        f"uvicorn's HttpToolsProtocol has no {name}() any more: the guard's is never called"
    )
    parameters = list(inspect.signature(found).parameters)
    assert parameters == OVERRIDDEN[name], (
        f"uvicorn's {name}{inspect.signature(found)} changed its parameters"
    )


def test_no_guard_helper_shadows_a_uvicorn_method():
    """A guard name uvicorn also defines would replace uvicorn's own without anyone meaning to."""
    own = {name for name in vars(GuardedHttpToolsProtocol) if not name.startswith("__")}
    shared = {name for name in own if hasattr(BASE, name)}
    assert shared == set(OVERRIDDEN), f"the guard now also overrides {sorted(shared - set(OVERRIDDEN))}"


@pytest.mark.parametrize("status", STATUSES)
def test_the_status_lines_the_guard_writes_exist(status: int):
    line = httptools_impl.STATUS_LINE.get(status)
    assert isinstance(line, bytes), f"httptools_impl.STATUS_LINE has no {status}"
    assert re.fullmatch(rb"HTTP/1\.1 %d [A-Za-z -]+\r\n" % status, line), line


# ---- a live protocol over a fake transport: what uvicorn does with the callbacks -----------------


class FakeTransport(asyncio.Transport):
    """Collects what the protocol writes; no socket."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _noop_app(scope: dict, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]}
    )
    await send({"type": "http.response.body", "body": body})


def _connect(server_state: ServerState) -> tuple[GuardedHttpToolsProtocol, FakeTransport]:
    config = Config(app=_noop_app, http=GuardedHttpToolsProtocol, log_level="warning")
    protocol = GuardedHttpToolsProtocol(
        config=config, server_state=server_state, app_state={}, _loop=asyncio.get_running_loop()
    )
    transport = FakeTransport()
    protocol.connection_made(transport)
    return protocol, transport


def _problem(written: bytes) -> tuple[int, dict]:
    head, _, body = bytes(written).partition(b"\r\n\r\n")
    assert b"content-type: application/problem+json" in head, head
    return int(head.split(b" ")[1]), json.loads(body)


def _live(scenario: Any) -> Any:
    async def run() -> Any:
        result = await scenario()
        await asyncio.sleep(0)  # let the app task finish its answer
        return result

    return asyncio.run(run())


def test_uvicorn_sets_the_fields_the_guard_reads_and_runs_a_request_through_it():
    async def scenario() -> tuple[GuardedHttpToolsProtocol, FakeTransport, dict]:
        protocol, transport = _connect(ServerState())
        for name in PROTOCOL_FIELDS:
            assert hasattr(protocol, name), f"uvicorn's protocol has no '{name}' field any more"
        assert protocol in protocol.connections, "connection_made no longer adds to server_state.connections"
        protocol.data_received(b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\n\r\n")
        cycle = protocol.cycle
        assert cycle is not None, "on_headers_complete no longer makes protocol.cycle"
        seen = {name: getattr(cycle, name, "missing") for name in CYCLE_FIELDS}
        assert isinstance(getattr(cycle, "message_event", None), asyncio.Event), "cycle.message_event changed"
        assert protocol._on_due == protocol._body_timed_out  # the body deadline armed after the head
        protocol.data_received(b"abcd")
        for _ in range(20):
            if transport.written:
                break
            await asyncio.sleep(0)
        return protocol, transport, seen

    protocol, transport, seen = _live(scenario)
    assert seen == CYCLE_FIELDS, f"the request cycle's flags are now {seen}"
    assert bytes(transport.written).startswith(b"HTTP/1.1 200 ") and transport.written.endswith(b"abcd")
    assert protocol._on_due is None and protocol._in_head  # message complete: back to reading a head


def test_uvicorn_sends_parser_errors_and_callback_errors_to_send_400_response():
    async def scenario() -> tuple[bytes, bytes]:
        bad, bad_transport = _connect(ServerState())
        bad.data_received(b"GET /a b HTTP/1.1\r\nhost: x\r\n\r\n")
        twice, twice_transport = _connect(ServerState())
        twice.data_received(
            b"POST /p HTTP/1.1\r\nhost: x\r\ncontent-type: a/b\r\ncontent-type: c/d\r\n"
            b"content-length: 0\r\n\r\n"
        )
        return bytes(bad_transport.written), bytes(twice_transport.written)

    malformed, duplicate = _live(scenario)
    assert _problem(malformed)[0] == 400, "a parser error no longer reaches send_400_response"
    status, problem = _problem(duplicate)
    assert status == 400 and "more than one Content-Type" in problem["detail"], (
        "an error raised in on_headers_complete no longer reaches send_400_response"
    )


def test_connection_made_counts_the_connection_before_the_guard_checks_the_limit(monkeypatch):
    monkeypatch.setattr(guard, "_limits", HttpLimits(max_connections=1))
    monkeypatch.setattr(guard, "PROBE_RESERVE", 0)  # no room kept for probes: the next one is refused

    async def scenario() -> tuple[bytes, bytes]:
        shared = ServerState()
        _, first = _connect(shared)
        _, second = _connect(shared)
        return bytes(first.written), bytes(second.written)

    first, second = _live(scenario)
    assert first == b""
    assert _problem(second)[0] == 503


class CountingTransport(FakeTransport):
    """Also keeps each write apart."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        super().write(data)


def _answer_app(hold: bool) -> Any:
    async def app(scope: dict, receive: Any, send: Any) -> None:
        await receive()
        if hold:
            scope[HOLD_HEAD]()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


@pytest.mark.parametrize("hold", [True, False])
def test_a_held_head_goes_out_with_the_body_in_one_write_through_the_request_cycle(hold: bool):
    """uvicorn's request cycle writes through ``cycle.transport``, which the guard swaps per request."""

    async def scenario() -> list[bytes]:
        config = Config(app=_answer_app(hold), http=GuardedHttpToolsProtocol, log_level="warning")
        config.load()
        protocol = GuardedHttpToolsProtocol(
            config=config, server_state=ServerState(), app_state={}, _loop=asyncio.get_running_loop()
        )
        transport = CountingTransport()
        protocol.connection_made(transport)
        for _ in range(2):  # the second request on the kept-alive connection holds its head too
            protocol.data_received(b"POST /p HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\n\r\na")
            for _ in range(20):
                await asyncio.sleep(0)
        return transport.writes

    writes = _live(scenario)
    answers = [w for w in writes if w.startswith(b"HTTP/1.1 200 ")]
    assert len(answers) == 2
    assert all(w.endswith(b"\r\n\r\nok") for w in answers) == hold, writes
    assert b"".join(writes).count(b"\r\n\r\nok") == 2  # the same bytes either way
    assert len(writes) == (2 if hold else 4)


def test_a_held_head_is_written_before_the_connection_closes():
    transport = CountingTransport()
    one_write = OneWrite(transport)
    one_write.hold()
    one_write.write(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n")
    assert transport.writes == []
    one_write.close()
    assert transport.writes == [b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n"]
    assert transport.closed
