"""Prediction-id benchmark: what giving every answer its ids costs single-row POST /predict.

Serves the same trained iris registry twice at once: from this tree and from a
base source tree without prediction ids (``--base-src``, e.g. the ``src``
folder of ``git archive`` of the commit before them), and loads the two in
turn, in a shuffled order, with the same 8-connection single-row load.
Interleaving short runs gives both the same background load (on a shared host
a whole run's req/s drifts far more than the effect measured). Prints each
cycle's req/s, the ratio ids / base within a cycle (median and spread), server
CPU per request for both, and the in-process cost of one request id and its
row id. Target: the ids keep >= 0.97x the base's req/s. Exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import random
import statistics
import sys
import tempfile
import timeit
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import psutil

from load import drive, load_tool
from serve import BIN, ROW, free_port, prepare, server

TARGET = 0.97
HERE_SRC = Path(__file__).resolve().parents[1] / "src"


def _cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def run_cycles(env: dict, base_src: Path, cycles: int, seconds: float) -> list[dict]:
    setups = {"base": str(base_src), "ids": str(HERE_SRC)}
    rng = random.Random(0)
    with contextlib.ExitStack() as stack:
        ports, processes = {}, {}
        for name, src in setups.items():
            port = free_port()
            command = [str(BIN / "tabserve"), "serve", "--port", str(port)]
            started = stack.enter_context(server(command, port, {**env, "PYTHONPATH": src}))
            processes[name], ports[name] = psutil.Process(started.pid), port
        for port in ports.values():
            drive(f"http://127.0.0.1:{port}/predict", ROW, 8, 1.0)  # warm up
        rows = []
        for _ in range(cycles):
            order = list(setups)
            rng.shuffle(order)
            row: dict = {}
            for name in order:
                before = _cpu_s(processes[name])
                result = drive(f"http://127.0.0.1:{ports[name]}/predict", ROW, 8, seconds)
                cpu = _cpu_s(processes[name]) - before
                row[name] = {
                    "rps": result.requests_per_s,
                    "errors": result.errors,
                    "cpu_us": 1e6 * cpu / max(1.0, result.requests_per_s * seconds),
                }
            row["ratio"] = row["ids"]["rps"] / row["base"]["rps"]
            row["cpu_ratio"] = row["ids"]["cpu_us"] / row["base"]["cpu_us"]
            rows.append(row)
    return rows


def id_cost_us() -> float:
    """Microseconds for one request id, its header and its one row id, in this process."""
    from tabserve.monitoring.ids import RequestIds
    from tabserve.service.predict.core import request_id_header

    ids = RequestIds()

    def one() -> None:
        request_id = ids()
        request_id_header(request_id)
        _ = [f"{request_id}-0"]

    runs = timeit.repeat(one, number=100_000, repeat=5)
    return 1e6 * min(runs) / 100_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-src", type=Path, required=True, help="the src folder of the base tree")
    parser.add_argument("--cycles", type=int, default=12, help="turns through the two servers")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each load run")
    args = parser.parse_args()
    print(f"tabserve prediction-id benchmark  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"load generator: {load_tool()}; single-row POST /predict, 8 connections, {args.seconds:g} s runs")
    with tempfile.TemporaryDirectory() as tmp:
        env, _config = prepare(Path(tmp))
        rounds = run_cycles(env, args.base_src.resolve(), args.cycles, args.seconds)
    for number, row in enumerate(rounds, 1):
        print(
            f"cycle {number:2}: base {row['base']['rps']:,.0f} req/s, ids {row['ids']['rps']:,.0f} "
            f"(ids/base {row['ratio']:.3f}; CPU per request {row['cpu_ratio']:.3f})"
        )
    ratios = [r["ratio"] for r in rounds]
    cpu_ratios = [r["cpu_ratio"] for r in rounds]
    median = statistics.median(ratios)
    met = median >= TARGET
    print()
    print("| measure | median | spread of cycles | target | met |")
    print("| --- | --- | --- | --- | --- |")
    for name in ("base", "ids"):
        values = [r[name]["rps"] for r in rounds]
        spread = f"{min(values):,.0f}-{max(values):,.0f}"
        print(f"| req/s, {name} | {statistics.median(values):,.0f} | {spread} | | |")
    for name in ("base", "ids"):
        values = [r[name]["cpu_us"] for r in rounds]
        spread = f"{min(values):,.0f}-{max(values):,.0f}"
        print(f"| server CPU per request (us), {name} | {statistics.median(values):,.0f} | {spread} | | |")
    spread = f"{min(cpu_ratios):.3f}-{max(cpu_ratios):.3f}"
    print(f"| CPU per request, ids / base | {statistics.median(cpu_ratios):.3f} | {spread} | | |")
    spread = f"{min(ratios):.3f}-{max(ratios):.3f}"
    print(f"| req/s, ids / base | {median:.3f} | {spread} | >= {TARGET} | {'yes' if met else 'no'} |")
    print(f"\none request id, its header and row id, in process: {id_cost_us():.2f} us")
    errors = sum(r[name]["errors"] for r in rounds for name in ("base", "ids"))
    print(f"non-2xx or socket errors during load: {errors}")
    print("target met" if met and not errors else "target MISSED")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
