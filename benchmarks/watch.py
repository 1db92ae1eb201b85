"""Watch benchmark (`make bench`): what drift and the prediction log cost single-row POST /predict.

Trains iris into a temporary registry, then serves it three times at once:
monitoring off (no drift, no log), drift on (the default), and drift on with
every request logged (`monitoring.log_predictions: 1.0`, SQLite registry).
Each cycle loads the three in turn, in a shuffled order, with the same
8-connection single-row load; prints each cycle's req/s, the ratios within a
cycle (median and spread), and how many logged rows reached the database (the
rest were dropped and counted, never waited for). Target from issue 13:
logging at 1.0 keeps >= 0.8x the req/s of logging off. Reports pass or miss
and exits 0. Bounded: about a minute.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import orjson
import psutil

from load import drive, load_tool
from serve import BIN, ROW, free_port, prepare, server

TARGET_LOG_RATIO = 0.8
SETUPS = {
    "off": {"TABSERVE_MONITORING__DRIFT": "false", "TABSERVE_MONITORING__LOG_PREDICTIONS": "0"},
    "drift": {"TABSERVE_MONITORING__LOG_PREDICTIONS": "0"},
    "drift+log": {"TABSERVE_MONITORING__LOG_PREDICTIONS": "1.0"},
}


def _counter(port: int, name: str, consumer: str) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    found = re.search(rf'{name}_total{{consumer="{consumer}"}} (\S+)', text)
    return float(found.group(1)) if found else 0.0


def _cpu_s(process: psutil.Process) -> float:
    """CPU seconds the server process has used (user + system): unlike req/s, barely moved by
    other processes competing for the cores."""
    times = process.cpu_times()
    return times.user + times.system


def run_cycles(env: dict, cycles: int, seconds: float) -> tuple[list[dict], dict]:
    """Serve the three setups at once and load them in turn, in a new order each cycle.

    Interleaving short runs lets every setup see the same background load (on a
    shared machine the req/s of a whole run drifts far more than the effect measured).
    """
    rng = random.Random(0)
    with contextlib.ExitStack() as stack:
        ports, processes = {}, {}
        for name, extra in SETUPS.items():
            port = free_port()
            command = [str(BIN / "tabserve"), "serve", "--port", str(port)]
            processes[name] = psutil.Process(stack.enter_context(server(command, port, {**env, **extra})).pid)
            ports[name] = port
        for port in ports.values():
            drive(f"http://127.0.0.1:{port}/predict", ROW, 8, 1.0)  # warm up
        rows = []
        for _ in range(cycles):
            order = list(SETUPS)
            rng.shuffle(order)
            row = {}
            for name in order:
                before = _cpu_s(processes[name])
                result = drive(f"http://127.0.0.1:{ports[name]}/predict", ROW, 8, seconds)
                time.sleep(0.3)  # the last flush of the watch's queues belongs to this run
                cpu = _cpu_s(processes[name]) - before
                row[name] = {"rps": result.requests_per_s, "p99_ms": result.p99_ms, "errors": result.errors}
                row[name]["cpu_us"] = 1e6 * cpu / max(1.0, result.requests_per_s * seconds)
            row["log_ratio"] = row["drift+log"]["rps"] / row["drift"]["rps"]
            row["drift_ratio"] = row["drift"]["rps"] / row["off"]["rps"]
            rows.append(row)
        time.sleep(1.0)  # let the last queued rows be written before counting
        port = ports["drift+log"]
        counts = {
            what: _counter(port, f"tabserve_watch_{what}_rows", "log")
            for what in ("handled", "dropped", "failed")
        }
    return rows, counts


def writer_cpu(env: dict, requests_per_s: float, runs: int = 7) -> dict:
    """CPU the log's writer thread spends per logged single-row call, in this process (thread time).

    The server pays this off the request path; unlike req/s it barely moves with the machine's load.
    """
    from tabserve.config import load_settings
    from tabserve.monitoring.channel import Observation
    from tabserve.monitoring.prediction_log import PredictionLog
    from tabserve.monitoring.watch import LOG_INTERVAL_S
    from tabserve.predictor import Predictor
    from tabserve.registry import open_registry

    settings = load_settings(Path(env["TABSERVE_CONFIG"]), environ={})
    registry = open_registry(settings)
    try:
        predictor = Predictor.load(registry, settings.model)
        log = PredictionLog(lambda: registry.metadata, settings.monitoring.retention_days)
        rows = max(1, round(requests_per_s * LOG_INTERVAL_S))
        row = list(orjson.loads(ROW))
        cpu, wall = [], []
        for _ in range(runs):
            calls = [
                Observation(predictor, 1, row, None, (0,), predictor.predict_row(row), time.time())
                for _ in range(rows)
            ]
            started_cpu, started = time.thread_time(), time.perf_counter()
            log.handle(calls)
            cpu.append(time.thread_time() - started_cpu)
            wall.append(time.perf_counter() - started)
    finally:
        registry.close()
    per_row = sorted(1e6 * c / rows for c in cpu)
    return {
        "rows": rows,
        "cpu_us_per_row": statistics.median(per_row),
        "low": per_row[0],
        "high": per_row[-1],
        "wall_ms": 1e3 * statistics.median(wall),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=12, help="turns through the three setups")
    parser.add_argument("--seconds", type=float, default=1.0, help="length of each load run")
    args = parser.parse_args()
    print(f"tabserve watch benchmark  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(
        f"load generator: {load_tool()}; single-row POST /predict, 8 connections, {args.seconds:.0f} s runs"
    )
    with tempfile.TemporaryDirectory() as tmp:
        env, _config = prepare(Path(tmp))
        rounds, counts = run_cycles(env, args.cycles, args.seconds)
        writer = writer_cpu(env, statistics.median(r["drift+log"]["rps"] for r in rounds))
    for number, row in enumerate(rounds, 1):
        print(
            f"cycle {number:2}: off {row['off']['rps']:,.0f} req/s, drift {row['drift']['rps']:,.0f}, "
            f"drift+log {row['drift+log']['rps']:,.0f} (log/no-log {row['log_ratio']:.2f}, "
            f"drift/off {row['drift_ratio']:.2f})"
        )
    total = max(1.0, sum(counts.values()))
    print(
        f"logged rows: {counts['handled']:,.0f} written, {counts['dropped']:,.0f} dropped (queue full), "
        f"{counts['failed']:,.0f} failed ({counts['handled'] / total:.1%} written)"
    )
    print(
        f"log writer, one flush of {writer['rows']:,} single-row calls (one flush interval at the "
        f"median req/s): CPU {writer['cpu_us_per_row']:.1f} us per row (runs "
        f"{writer['low']:.1f}-{writer['high']:.1f}), wall {writer['wall_ms']:.1f} ms per flush"
    )
    log_ratios = [r["log_ratio"] for r in rounds]
    drift_ratios = [r["drift_ratio"] for r in rounds]
    errors = sum(r[name]["errors"] for r in rounds for name in SETUPS)
    median_log = statistics.median(log_ratios)
    print()
    print("| measure | median | spread of cycles | target | met |")
    print("| --- | --- | --- | --- | --- |")
    for key, label, digits in (("rps", "req/s", ",.0f"), ("p99_ms", "p99 latency at 8 conns (ms)", ".2f")):
        for name in SETUPS:
            values = [r[name][key] for r in rounds]
            spread = f"{min(values):{digits}}-{max(values):{digits}}"
            print(f"| {label}, {name} | {statistics.median(values):{digits}} | {spread} | | |")
    print(
        f"| drift on / monitoring off | {statistics.median(drift_ratios):.3f} | "
        f"{min(drift_ratios):.3f}-{max(drift_ratios):.3f} | | |"
    )
    met = median_log >= TARGET_LOG_RATIO
    for name in SETUPS:
        values = [r[name]["cpu_us"] for r in rounds]
        spread = f"{min(values):,.0f}-{max(values):,.0f}"
        print(f"| server CPU per request (us), {name} | {statistics.median(values):,.0f} | {spread} | | |")
    cpu_ratios = [r["drift+log"]["cpu_us"] / r["drift"]["cpu_us"] for r in rounds]
    spread = f"{min(cpu_ratios):.3f}-{max(cpu_ratios):.3f}"
    print(f"| CPU per request, log 1.0 / log off | {statistics.median(cpu_ratios):.3f} | {spread} | | |")
    spread = f"{min(log_ratios):.3f}-{max(log_ratios):.3f}"
    print(
        f"| log 1.0 / log off (drift on in both) | {median_log:.3f} | {spread} "
        f"| >= {TARGET_LOG_RATIO} | {'yes' if met else 'no'} |"
    )
    print(f"\nnon-2xx or socket errors during load: {errors}")
    print("target met" if met and not errors else "target MISSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
