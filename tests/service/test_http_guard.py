"""One client must not starve the rest: head caps, read deadlines, a connection limit (issue 9, 9-11).

Each test talks raw HTTP/1.1 over a socket to a real `tabserve serve` and
waits for the observable end (an answer, or the server closing) with a
deadline; no test sleeps.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from tests.service.conftest import copy_registry, write_config

DEADLINE_S = 20


@pytest.fixture(scope="module")
def guarded(tmp_path_factory, trained_iris) -> Iterator:
    from tests.service.conftest import Server

    root = tmp_path_factory.mktemp("guarded")
    config = write_config(
        root,
        copy_registry(trained_iris[0], root / "registry"),
        server={
            "max_connections": 40,
            "max_request_line_bytes": 2048,
            "max_header_bytes": 16384,
            "header_timeout_s": 1.0,
            "body_timeout_s": 1.0,
            "body_deadline_s": 2.0,
        },
    )
    server = Server(config)
    server.wait()
    yield server
    server.terminate()


def connect(server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE_S)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or the deadline fails the test)."""
    chunks = []
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
    raise AssertionError(
        f"the server kept the connection open past {DEADLINE_S} s: {b''.join(chunks)[:200]!r}"
    )


def problem(raw: bytes) -> tuple[int, dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert b"content-type: application/problem+json" in head.lower(), head
    return status, json.loads(body)


def healthy(server) -> bool:
    return server.client.get("/healthz").status_code == 200


def test_a_huge_header_is_431_and_the_server_stays_responsive(guarded):
    sock = connect(guarded)
    try:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
        with pytest.raises(OSError):  # the server stops reading and closes long before 4 MB
            for _ in range(64):
                sock.sendall(b"a" * 65536)
        raw = read_until_closed(sock)
    finally:
        sock.close()
    if raw:  # the answer may be lost to the reset when the client was still sending
        status, body = problem(raw)
        assert status == 431 and "16384 bytes" in body["detail"]
    assert healthy(guarded)


def test_a_header_over_the_cap_is_431(guarded):
    sock = connect(guarded)
    try:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
        status, body = problem(read_until_closed(sock))
    finally:
        sock.close()
    assert status == 431 and body["title"] == "Request header fields too large"


@pytest.mark.parametrize("split_at", [None, -2, -3], ids=["one-send", "split-crlf", "split-in-terminator"])
def test_a_head_near_the_cap_with_its_body_in_the_same_chunk_is_served(guarded, split_at):
    """The head is measured in the first chunk only as far as it can reach, and across chunk edges."""
    body = json.dumps({"instances": [[5.1, 3.8, 1.5, 0.3]] * 5000}).encode()  # ~100 KB after the head
    start = (
        b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\nX-Pad: "
    )
    head = start + b"a" * (16384 - len(start) - 4) + b"\r\n\r\n"
    assert len(head) == 16384  # exactly the cap
    sock = connect(guarded)
    try:
        if split_at is None:
            sock.sendall(head + body)
        else:
            sock.sendall(head[:split_at])
            time.sleep(0.05)  # let the server read the first part as a chunk of its own
            sock.sendall(head[split_at:] + body)
        raw = read_until_closed(sock)
    finally:
        sock.close()
    assert raw.startswith(b"HTTP/1.1 200"), raw[:300]
    assert json.loads(raw.split(b"\r\n\r\n", 1)[1])["labels"] == ["setosa"] * 5000


def test_a_long_request_line_is_414(guarded):
    sock = connect(guarded)
    try:
        sock.sendall(b"GET /healthz?" + b"a=1&" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        status, body = problem(read_until_closed(sock))
    finally:
        sock.close()
    assert status == 414 and body["title"] == "URI too long"


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000000000000000000\r\n\r\n",
        b"GET /heal thz HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n",
    ],
    ids=["negative-length", "huge-length", "space-in-path", "tls-hello"],
)
def test_malformed_http_is_a_problem_not_plain_text(guarded, request_bytes):
    sock = connect(guarded)
    try:
        sock.sendall(request_bytes)
        status, body = problem(read_until_closed(sock))
    finally:
        sock.close()
    assert status == 400 and body["title"] == "Malformed HTTP request"


def test_half_sent_headers_are_answered_408_and_closed(guarded):
    sock = connect(guarded)
    try:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        status, body = problem(read_until_closed(sock))
    finally:
        sock.close()
    assert status == 408 and "head" in body["detail"]


def test_an_idle_connection_is_closed(guarded):
    sock = connect(guarded)
    try:
        assert read_until_closed(sock) == b""
    finally:
        sock.close()


def test_a_promised_body_never_sent_is_408(guarded):
    sock = connect(guarded)
    try:
        sock.sendall(
            b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n[5.1,"
        )
        status, body = problem(read_until_closed(sock))
    finally:
        sock.close()
    assert status == 408 and "body" in body["detail"]


def test_a_kept_alive_connection_still_serves_its_next_request(guarded):
    sock = connect(guarded)
    try:
        for _ in range(3):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while not answer.endswith(b'{"status":"ok"}'):
                chunk = sock.recv(65536)
                assert chunk, f"closed after {answer!r}"
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200"), answer
    finally:
        sock.close()


def _hold(server, count: int) -> list[socket.socket]:
    held = []
    for _ in range(count):
        sock = connect(server)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")  # open, and counted by the server
        held.append(sock)
    return held


def _ask(server, request: bytes) -> bytes:
    sock = connect(server)
    try:
        sock.sendall(request)
        return read_until_closed(sock)
    finally:
        sock.close()


def _wait_healthy(server) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        try:
            if healthy(server):
                return
        except Exception:
            pass
        time.sleep(0.05)
    assert healthy(server)


def test_past_the_limit_probes_are_answered_and_the_rest_get_503(guarded):
    held = _hold(guarded, 39)  # with the test client's own connection: the limit of 40
    try:
        status, body = problem(_ask(guarded, b"GET /models HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
        assert status == 503 and "connections" in body["detail"]
        probe = _ask(guarded, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert probe.startswith(b"HTTP/1.1 200"), probe[:200]
        ready = _ask(guarded, b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert ready.startswith(b"HTTP/1.1 200"), ready[:200]
    finally:
        for sock in held:
            sock.close()
    _wait_healthy(guarded)


def test_beyond_the_probe_reserve_a_connection_gets_503_at_once(guarded):
    from tabserve.service.http.guard import PROBE_RESERVE

    held = _hold(guarded, 39)
    reserve = [connect(guarded) for _ in range(PROBE_RESERVE)]  # silent: they hold the reserve
    try:
        extra = connect(guarded)
        try:
            status, body = problem(read_until_closed(extra))
        finally:
            extra.close()
        assert status == 503 and "connections" in body["detail"]
    finally:
        for sock in held + reserve:
            sock.close()
    _wait_healthy(guarded)


def test_a_trickled_body_is_408_at_the_body_deadline(guarded):
    """One byte at a time, each within the idle limit: the whole-body deadline still ends it."""
    sock = connect(guarded)
    started = time.monotonic()
    try:
        sock.sendall(
            b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000000\r\n\r\n["
        )
        sock.settimeout(0.3)  # under the 1 s idle limit
        raw = b""
        while time.monotonic() - started < DEADLINE_S:
            try:
                sock.sendall(b"1")
            except (BrokenPipeError, ConnectionResetError):
                break
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            raw += chunk
            break  # the server answered: stop sending, read the rest
        sock.settimeout(DEADLINE_S)
        if raw and not raw.endswith(b"}"):
            raw += read_until_closed(sock)
    finally:
        sock.close()
    status, body = problem(raw)
    assert status == 408 and "did not arrive within 2 s" in body["detail"]
