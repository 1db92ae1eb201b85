"""Canary benchmark (`make bench`): what a running canary costs single-row POST /predict.

Trains iris twice into a temporary registry (two versions of the same model),
serves it with one process, and loads it in cycles with the same 8-connection
single-row load under three setups, in a shuffled order each cycle: no canary,
a canary at 20 % (random split), and the same canary with every request
carrying an ``X-Routing-Key`` header (sticky split: the key is hashed). The
canary is started and stopped between runs over HTTP, and each run waits until
the server routes as asked. Prints each cycle's req/s and the server's CPU
time per request, and the ratios within a cycle (median and spread).
Target from the canary issue: a canary keeps >= 0.97x the req/s of no canary.

Also times, in this process, one single-row call through ``PredictCore``
(choosing the version, the single-row path, the figures) with no canary, with
the canary, with the canary and a key, and with the version chosen the way it
was before canaries existed: differences of nanoseconds that the load runs'
noise hides. Bounded: about two
minutes with the defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import psutil

from load import drive, load_tool
from serve import BIN, ROW, free_port, prepare, server

TARGET_RATIO = 0.97
WEIGHT = 20
KEY = "caller-42"
SETUPS = ("none", "canary", "canary+key")


def _http(port: int, method: str, path: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read() or b"{}")


def _route(port: int, candidate: int, wanted: bool) -> None:
    """Start or stop the canary and wait until this server routes accordingly."""
    shown = _http(port, "GET", "/models/iris/canary")
    if wanted and shown["canary"] is None:
        _http(port, "POST", f"/models/iris/versions/{candidate}/canary", {"weight": WEIGHT})
    elif not wanted and shown["canary"] is not None:
        _http(port, "DELETE", f"/models/iris/versions/{candidate}/canary")
    deadline = time.monotonic() + 30
    while _http(port, "GET", "/models/iris/canary")["served_here"] != wanted:
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not follow the canary within 30 s")
        time.sleep(0.05)


def _cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def run_cycles(env: dict, candidate: int, cycles: int, seconds: float) -> list[dict]:
    rng = random.Random(0)
    port = free_port()
    command = [str(BIN / "tabserve"), "serve", "--port", str(port)]
    url = f"http://127.0.0.1:{port}/predict"
    json_only = {"Content-Type": "application/json"}
    keyed = {**json_only, "X-Routing-Key": KEY}
    rows = []
    with server(command, port, env) as process:
        watched = psutil.Process(process.pid)
        _route(port, candidate, True)
        drive(url, ROW, 8, 1.0, keyed)  # warm up both versions' paths
        drive(url, ROW, 8, 1.0, json_only)
        for _ in range(cycles):
            order = list(SETUPS)
            rng.shuffle(order)
            row = {}
            for name in order:
                _route(port, candidate, name != "none")
                before = _cpu_s(watched)
                result = drive(url, ROW, 8, seconds, keyed if name == "canary+key" else json_only)
                cpu = _cpu_s(watched) - before
                row[name] = {
                    "rps": result.requests_per_s,
                    "errors": result.errors,
                    "cpu_us": 1e6 * cpu / max(1.0, result.requests_per_s * seconds),
                }
            for name in ("canary", "canary+key"):
                row[f"{name}/none"] = row[name]["rps"] / row["none"]["rps"]
                row[f"{name}/none cpu"] = row[name]["cpu_us"] / row["none"]["cpu_us"]
            rows.append(row)
    return rows


def path_cost_ns(env: dict, candidate: int) -> dict[str, float]:
    """ns per single-row call through ``PredictCore`` in this process (routing, the single-row path,
    the figures): no canary, a canary at ``WEIGHT`` %, the same with a routing key, and the method
    body that chose the version before canaries existed. Setups are timed in turns, best of 9."""
    from tabserve.config import load_settings
    from tabserve.registry import open_registry
    from tabserve.service.predict.canary import CanaryRoute
    from tabserve.service.predict.core import PredictCore
    from tabserve.service.predict.state import ServiceState
    from tabserve.smoke import load_checked

    settings = load_settings(Path(env["TABSERVE_CONFIG"]), environ={})
    registry = open_registry(settings)
    try:
        state = ServiceState.build(settings, registry)
        production = load_checked(registry, "iris", registry.serving_version("iris"))
        state.default.predictor = production
        route = CanaryRoute(1, load_checked(registry, "iris", candidate), WEIGHT, 1000, production.version)
        core = PredictCore(state)
        row = list(json.loads(ROW))
        plain = [(b"content-type", b"application/json"), (b"host", b"127.0.0.1")]
        keyed = [*plain, (b"x-routing-key", KEY.encode())]

        def call(headers: list) -> object:
            return core.single_row(core.production("iris", headers), row)

        def before() -> object:  # what production() did before canaries existed, then the same row
            return core.single_row(state.slot("iris").require(), row)

        setups = {
            "before": (None, before),
            "none": (None, lambda: call(plain)),
            "canary": (route, lambda: call(plain)),
            "canary+key": (route, lambda: call(keyed)),
        }
        number, best = 20_000, {name: float("inf") for name in setups}
        for _ in range(9):
            for name, (canary, run) in setups.items():
                state.canaries.clear()
                if canary is not None:
                    state.canaries["iris"] = canary
                best[name] = min(best[name], timeit.timeit(run, number=number) / number * 1e9)
    finally:
        registry.close()
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=12, help="turns through the three setups")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each load run")
    args = parser.parse_args()
    print(f"tabserve canary benchmark  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"load average: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(
        f"load generator: {load_tool()}; single-row POST /predict, 8 connections, {args.seconds:g} s runs, "
        f"canary at {WEIGHT}%"
    )
    with tempfile.TemporaryDirectory() as tmp:
        env, _config = prepare(Path(tmp))
        env["TABSERVE_SERVER__RELOAD_INTERVAL_S"] = "0.2"
        env["TABSERVE_CANARY__MAX_ERROR_RATE"] = "1"  # the rules are judged, and never end it
        env["TABSERVE_CANARY__MAX_P99_RATIO"] = "1000"
        env["TABSERVE_CANARY__EVALUATE_EVERY_S"] = "1"
        subprocess.run([str(BIN / "tabserve"), "train"], env=env, check=True, capture_output=True)
        listing = subprocess.run(
            [str(BIN / "tabserve"), "models", "list"], env=env, check=True, capture_output=True, text=True
        ).stdout
        candidate = 1 if "v2 [production]" in listing else 2
        rounds = run_cycles(env, candidate, args.cycles, args.seconds)
        path = path_cost_ns(env, candidate)
    for number, row in enumerate(rounds, 1):
        print(
            f"cycle {number:2}: none {row['none']['rps']:,.0f} req/s, canary {row['canary']['rps']:,.0f}, "
            f"canary+key {row['canary+key']['rps']:,.0f} (canary/none {row['canary/none']:.3f}, "
            f"canary+key/none {row['canary+key/none']:.3f})"
        )
    print(
        "in this process, one single-row call through PredictCore (best of 9, setups in turns): "
        + ", ".join(f"{name} {ns:,.0f} ns" for name, ns in path.items())
    )
    print()
    print("| measure | median | spread of cycles | target | met |")
    print("| --- | --- | --- | --- | --- |")
    for name in SETUPS:
        values = [r[name]["rps"] for r in rounds]
        print(
            f"| req/s, {name} | {statistics.median(values):,.0f} | "
            f"{min(values):,.0f}-{max(values):,.0f} | | |"
        )
    for name in SETUPS:
        values = [r[name]["cpu_us"] for r in rounds]
        print(
            f"| server CPU per request (us), {name} | {statistics.median(values):,.1f} | "
            f"{min(values):,.1f}-{max(values):,.1f} | | |"
        )
    met = True
    for name in ("canary", "canary+key"):
        values = [r[f"{name}/none cpu"] for r in rounds]
        print(
            f"| CPU per request, {name} / none | {statistics.median(values):.3f} | "
            f"{min(values):.3f}-{max(values):.3f} | | |"
        )
    for name in ("canary", "canary+key"):
        values = [r[f"{name}/none"] for r in rounds]
        median = statistics.median(values)
        met = met and median >= TARGET_RATIO
        print(
            f"| req/s, {name} / none | {median:.3f} | {min(values):.3f}-{max(values):.3f} "
            f"| >= {TARGET_RATIO} | {'yes' if median >= TARGET_RATIO else 'no'} |"
        )
    errors = sum(r[name]["errors"] for r in rounds for name in SETUPS)
    print(f"\nnon-2xx or socket errors during load: {errors}")
    print("target met" if met and not errors else "target MISSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
