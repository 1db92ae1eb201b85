"""Slow-client benchmark: /healthz latency with and without 500 slow connections, same server, same run.

Trains iris into a temporary registry and starts one ``tabserve serve``
(default limits: 10 s head deadline, 30 s body pause, 1000 connections). In
each round it times back-to-back ``GET /healthz`` on one keep-alive
connection, first alone, then while 500 other connections are held open:
a third idle since they connected, a third with half-sent headers, a third
with a promised body never sent. It reports p50 and p99 in both states and
their ratio per round (the spread is the range of the rounds), and how many of
the slow connections the server had closed by the end of the round.

Then the trickled-body flood, on a second server with a small connection cap
(``FLOOD_CAP``) and a short body deadline: ``FLOOD_CAP + 20`` connections
each send a large POST body a byte every second, while a probe opens a fresh
connection for ``GET /healthz`` (as a kubelet does) every 0.1 s. Every probe
must be answered 200, and the server must have ended the trickled bodies by
their deadline. Bounded: about ``rounds x 2 x seconds`` plus the flood's
``FLOOD_SECONDS`` plus training. Prints pass/miss per target and always exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import platform
import socket
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve import _tabserve, free_port, prepare, server

SLOW_CLIENTS = 500
FLOOD_CAP = 100
FLOOD_DEADLINE_S = 4
FLOOD_SECONDS = 8.0
TRICKLE_HEAD = (
    b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Content-Length: 1000000\r\n\r\n["
)
TARGETS = {"p50_ratio": 1.5, "p99_ratio": 3.0}
HALF_HEAD = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
HALF_BODY = (
    b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b"Content-Length: 100\r\n\r\n[5.1,"
)


def healthz_latencies(port: int, seconds: float) -> list[float]:
    """Milliseconds of each back-to-back GET /healthz on one keep-alive connection for ``seconds``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    latencies = []
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        sent = time.perf_counter()
        connection.request("GET", "/healthz")
        response = connection.getresponse()
        body = response.read()
        latencies.append((time.perf_counter() - sent) * 1000)
        if response.status != 200:
            raise RuntimeError(f"/healthz answered {response.status}: {body[:200]!r}")
    connection.close()
    return latencies


def open_slow_clients(port: int, count: int) -> list[socket.socket]:
    """``count`` connections: idle, half a head, or a head whose body never comes, in turn."""
    sockets = []
    for index in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        kind = index % 3
        if kind == 1:
            sock.sendall(HALF_HEAD)
        elif kind == 2:
            sock.sendall(HALF_BODY)
        sockets.append(sock)
    return sockets


def closed_by_server(sockets: list[socket.socket]) -> int:
    """How many of these connections the server has closed (or answered and closed)."""
    closed = 0
    for sock in sockets:
        sock.setblocking(False)
        try:
            data = sock.recv(4096)
            closed += 1 if data == b"" or data.startswith(b"HTTP/1.1 4") else 0
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
    return closed


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_round(port: int, seconds: float) -> dict:
    healthz_latencies(port, 0.5)  # warm up
    alone = healthz_latencies(port, seconds)
    sockets = open_slow_clients(port, SLOW_CLIENTS)
    try:
        time.sleep(0.5)  # let the server accept them all before timing
        crowded = healthz_latencies(port, seconds)
        closed = closed_by_server(sockets)
    finally:
        for sock in sockets:
            sock.close()
    return {
        "alone": (statistics.median(alone), percentile(alone, 0.99), len(alone)),
        "crowded": (statistics.median(crowded), percentile(crowded, 0.99), len(crowded)),
        "closed": closed,
    }


def probe_once(port: int) -> int:
    """One GET /healthz on a fresh connection; its status (0 if it failed to answer)."""
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", "/healthz")
        status = connection.getresponse().status
        connection.close()
        return status
    except OSError:
        return 0


def trickle_flood(port: int) -> dict:
    """Trickled bodies on more connections than the cap; fresh-connection probes meanwhile."""
    sockets = []
    for _ in range(FLOOD_CAP + 20):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(TRICKLE_HEAD)
        sockets.append(sock)
    statuses: list[int] = []
    started = last_byte = time.monotonic()
    while time.monotonic() - started < FLOOD_SECONDS:
        if time.monotonic() - last_byte >= 1.0:
            for sock in sockets:
                with contextlib.suppress(OSError):
                    sock.send(b"1")
            last_byte = time.monotonic()
        statuses.append(probe_once(port))
        time.sleep(0.1)
    ended = closed_by_server(sockets)
    for sock in sockets:
        sock.close()
    return {"probes": len(statuses), "ok": statuses.count(200), "ended": ended, "trickling": len(sockets)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each timing run")
    args = parser.parse_args()
    print(f"tabserve slow-client benchmark  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    rounds = []
    with tempfile.TemporaryDirectory() as tmp:
        env, _config = prepare(Path(tmp))
        port = free_port()
        with server(_tabserve(port), port, env):
            for number in range(1, args.rounds + 1):
                result = run_round(port, args.seconds)
                (p50a, p99a, na), (p50c, p99c, nc) = result["alone"], result["crowded"]
                result["p50_ratio"], result["p99_ratio"] = p50c / p50a, p99c / p99a
                rounds.append(result)
                print(
                    f"round {number}: alone p50 {p50a:.3f} ms p99 {p99a:.3f} ms ({na} requests); "
                    f"with {SLOW_CLIENTS} slow clients p50 {p50c:.3f} ms p99 {p99c:.3f} ms ({nc} requests); "
                    f"ratios p50 {result['p50_ratio']:.2f} p99 {result['p99_ratio']:.2f}; "
                    f"slow connections closed by the server meanwhile: {result['closed']}"
                )
        flood_port = free_port()
        flood_env = {
            **env,
            "TABSERVE_SERVER__MAX_CONNECTIONS": str(FLOOD_CAP),
            "TABSERVE_SERVER__BODY_DEADLINE_S": str(FLOOD_DEADLINE_S),
        }
        with server(_tabserve(flood_port), flood_port, flood_env):
            flood = trickle_flood(flood_port)
    print(
        f"trickled-body flood: {flood['trickling']} connections over a cap of {FLOOD_CAP}, a byte a second; "
        f"/healthz on fresh connections: {flood['ok']} of {flood['probes']} answered 200; "
        f"trickled bodies ended by the server within {FLOOD_SECONDS:g} s: {flood['ended']}"
    )
    verdict = "pass" if flood["ok"] == flood["probes"] > 0 else "MISS"
    print(f"healthz_during_flood: {flood['ok']}/{flood['probes']}, target all: {verdict}")
    for key, target in TARGETS.items():
        values = [r[key] for r in rounds]
        median = statistics.median(values)
        verdict = "pass" if median <= target else "MISS"
        print(
            f"{key}: median {median:.2f} (rounds {min(values):.2f}-{max(values):.2f}), "
            f"target <= {target}: {verdict}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
