"""The one raw-ASGI dispatcher: the first adapter that matches answers, everything else goes on.

Driven with plain ASGI messages and a made-up adapter, so these tests pin the
dispatcher's own job (header reading, sending, timing, error wording by the
adapter, passing through) apart from any protocol; the protocols' answers are
tested in test_predict.py and test_protocols.py through both ways in.
"""

from __future__ import annotations

import ast
from pathlib import Path

import anyio

from tabserve.service.http.dispatch import Dispatcher
from tabserve.service.protocols.adapter import RawRequest, Reply, Route

SRC = Path(__file__).resolve().parents[3] / "src" / "tabserve" / "service"


class Echo:
    """Answers POST /echo with the body it read; a body of b"boom" fails."""

    def __init__(self) -> None:
        self.seen: list[RawRequest] = []

    def match(self, path: str, method: str) -> Route | None:
        return Route("/echo") if path == "/echo" and method == "POST" else None

    async def handle(self, route: Route, request: RawRequest) -> Reply:
        self.seen.append(request)
        body = (await request.receive())["body"]
        if body == b"boom":
            raise ValueError("no booms")
        return Reply(200, b"text/plain", body, [(b"x-echo", b"1")])

    def error(self, exc: BaseException) -> Reply:
        return Reply(418, b"text/plain", str(exc).encode())


def _call(app, method: str, path: str, body: bytes, headers: list[tuple[bytes, bytes]]) -> list[dict]:
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": headers, "query_string": b"a=1"}
    anyio.run(app, scope, receive, send)
    return sent


def _fastapi_stand_in(calls: list[str]):
    async def app(scope, receive, send):
        calls.append(scope["path"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return app


def test_a_matched_request_is_answered_by_its_adapter_and_timed_under_its_label():
    adapter, passed, observed = Echo(), [], []
    dispatcher = Dispatcher(_fastapi_stand_in(passed), [adapter], lambda *args: observed.append(args))
    headers = [(b"content-type", b"text/a"), (b"content-type", b"text/b"), (b"content-length", b"5")]
    start, body = _call(dispatcher, "POST", "/echo", b"hello", headers)
    assert start["status"] == 200
    assert start["headers"] == [
        (b"content-type", b"text/plain"),
        (b"content-length", b"5"),
        (b"x-echo", b"1"),
    ]
    assert body == {"type": "http.response.body", "body": b"hello"}
    request = adapter.seen[0]
    assert (request.content_type, request.content_length, request.query) == (b"text/a", b"5", b"a=1")
    assert passed == []
    assert [args[:3] for args in observed] == [("/echo", "POST", 200)]


def test_a_failure_is_worded_by_the_adapter():
    observed = []
    dispatcher = Dispatcher(_fastapi_stand_in([]), [Echo()], lambda *args: observed.append(args))
    start, body = _call(dispatcher, "POST", "/echo", b"boom", [])
    assert start["status"] == 418 and body["body"] == b"no booms"
    assert observed[0][:3] == ("/echo", "POST", 418)


def test_what_no_adapter_matches_goes_on_to_fastapi():
    passed, observed = [], []
    dispatcher = Dispatcher(_fastapi_stand_in(passed), [Echo()], lambda *args: observed.append(args))
    assert _call(dispatcher, "GET", "/echo", b"", [])[0]["status"] == 204
    assert _call(dispatcher, "POST", "/other", b"", [])[0]["status"] == 204
    assert passed == ["/echo", "/other"] and observed == []


def _tabserve_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("tabserve"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("tabserve"))
    return found


def test_the_dispatcher_knows_only_the_adapter_interface_and_protocols_never_the_dispatcher():
    dispatcher_imports = _tabserve_imports(SRC / "http" / "dispatch.py")
    assert {m for m in dispatcher_imports if m.startswith("tabserve.service.")} <= {
        "tabserve.service.protocols.adapter",
        "tabserve.service.protocols.adapter.Adapter",
        "tabserve.service.protocols.adapter.RawRequest",
        "tabserve.service.protocols.adapter.Route",
    }
    for path in (SRC / "protocols").rglob("*.py"):
        assert "tabserve.service.http.dispatch" not in _tabserve_imports(path), path
