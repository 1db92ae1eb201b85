"""HTTP guard benchmark: what service/http/guard.py costs a request, against uvicorn's own protocol.

Serves the no-op app (benchmarks/noop_app.py) twice on the same stack, once
through uvicorn's HttpToolsProtocol and once through tabserve's guard (default
limits), and drives each in turn with the same 8-connection single-row load
for several rounds. Reports req/s and the server's CPU time per request for
each (CPU time barely moves with other load on the machine), and the guard's
cost per request as the difference. No target; exits 0. Bounded: about
``rounds x 2 x seconds``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import drive, load_tool
from serve import ROW, free_port, server

NOOP = Path(__file__).with_name("noop_app.py")
SETUPS = {"uvicorn": [], "guarded": ["guarded"]}


def cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def run(rounds: int, seconds: float) -> dict[str, list[dict]]:
    env = dict(os.environ)
    results: dict[str, list[dict]] = {name: [] for name in SETUPS}
    with ExitStack() as stack:
        targets = {}
        for name, extra in SETUPS.items():
            port = free_port()
            process = stack.enter_context(server([sys.executable, str(NOOP), str(port), *extra], port, env))
            targets[name] = (f"http://127.0.0.1:{port}/predict", psutil.Process(process.pid))
            drive(targets[name][0], ROW, 8, 1.0)  # warm up
        for number in range(1, rounds + 1):
            for name, (url, process) in targets.items():
                before = cpu_s(process)
                load = drive(url, ROW, 8, seconds)
                used = cpu_s(process) - before
                results[name].append(
                    {
                        "rps": load.requests_per_s,
                        "cpu_us": 1e6 * used / max(1.0, load.requests_per_s * seconds),
                    }
                )
            row = ", ".join(
                f"{name} {results[name][-1]['rps']:,.0f} req/s, {results[name][-1]['cpu_us']:.1f} us CPU"
                for name in SETUPS
            )
            print(f"round {number}: {row}")
    return results


def _row(label: str, values: list[float]) -> str:
    return f"| {label} | {statistics.median(values):,.1f} | {min(values):,.1f}-{max(values):,.1f} |"


def report(results: dict[str, list[dict]]) -> None:
    print("\n| measure | median | rounds (min-max) |")
    print("| --- | --- | --- |")
    for name, rows in results.items():
        for key, label in (("rps", "req/s"), ("cpu_us", "server CPU per request (us)")):
            print(_row(f"{label}, {name}", [r[key] for r in rows]))
    costs = [g["cpu_us"] - u["cpu_us"] for g, u in zip(results["guarded"], results["uvicorn"], strict=True)]
    print(_row("guard's CPU per request (us)", costs))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each load run")
    args = parser.parse_args()
    print(f"tabserve HTTP guard benchmark  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"load generator: {load_tool()}")
    report(run(args.rounds, args.seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
