"""Serving benchmark (`make bench`): every target a ratio to a yardstick measured in the same round.

Absolute req/s, rows/s, seconds and MB move with the host (issue 12 item 19),
so each round measures tabserve beside what bounds it on this machine, now:

- single-row POST /predict against a raw-ASGI no-op on the same stack
  (uvicorn, uvloop, httptools), throughput at 8 connections and latency;
- 10,000-row batches (JSON and CSV) over HTTP against the in-process limit:
  the same body decoded, predicted and encoded by the same handler, no HTTP;
- cold start (process start to the first correct prediction) against a bare
  process that imports the same runtime (the serve command, the app, the
  compiled model's runtime) and exits;
- resident memory against that bare process's peak.

Each ratio is reported as the median of the rounds with their min-max spread,
and judged on the median. Trains iris into a temporary registry first.
Bounded: about two minutes with the defaults.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import drive, load_tool

ROW = b"[5.1, 3.8, 1.5, 0.3]"
BIN = Path(sys.executable).parent
BATCH_ROWS = 10_000
NAMES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
# What the serve command has loaded by its first prediction, imported and nothing done.
RUNTIME = ", ".join(
    [
        "import tabserve.cli",
        "tabserve.service.http.server",
        "tabserve.compiled_runtime",
        "onnxruntime",
        "uvloop",
        "httptools",
    ]
)

# (key, what, op, bound). The ratios replace issue 5's absolute targets, which were
# met on a quiet machine by about these margins over the yardstick of the same run.
TARGETS = [
    ("throughput", "req/s at 8 conns, tabserve / no-op", ">=", 0.5),
    ("p50_1conn", "p50 latency at 1 conn, tabserve / no-op", "<=", 3.0),
    ("p99_8conn", "p99 latency at 8 conns, tabserve / no-op", "<=", 2.0),
    ("batch_json", "10k-row JSON rows/s, HTTP / in-process", ">=", 0.7),
    ("batch_csv", "10k-row CSV rows/s, HTTP / in-process", ">=", 0.7),
    ("cold_start", "cold start s, tabserve / bare runtime import", "<=", 1.5),
    ("rss", "RSS after batches, tabserve / bare runtime import", "<=", 1.5),
    ("two_workers", "req/s at 8 conns, 2 workers / 1 worker", ">", 1.0),
    # A 40 ms delayed-ACK (Nagle) stall per request would be hundreds of times the no-op.
    ("two_workers_p50", "p50 at 1 conn, 2 workers / no-op", "<=", 20.0),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post(port: int, body: bytes, timeout: float = 10) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", "/predict", body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def wait_until_predicting(port: int, process: subprocess.Popen, limit_s: float = 60) -> None:
    """Poll every few ms until the first correct answer."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit_s:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            status, body = post(port, ROW, timeout=1)
            if status == 200 and b"setosa" in body:
                return
        except OSError:
            pass
        time.sleep(0.002)
    raise RuntimeError(f"no correct prediction within {limit_s} s")


@contextmanager
def server(command: list[str], port: int, env: dict):
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until_predicting(port, process)
        process.cold_start_s = time.perf_counter() - started
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def bare_runtime(env: dict) -> tuple[float, float]:
    """Seconds and peak RSS (MiB) of a process that imports the serving runtime and exits."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", RUNTIME], env=env)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"the bare runtime import exited with {process.returncode}")
    return elapsed, usage.ru_maxrss / 1024  # Linux: KiB


def rss_mb(process: subprocess.Popen) -> float:
    """Largest resident memory among the serving processes (the workers, if there is a supervisor)."""
    parent = psutil.Process(process.pid)
    children = parent.children(recursive=True)
    workers = [c for c in children if "spawn_main" in " ".join(c.cmdline())] or [parent]
    return max(p.memory_info().rss / 2**20 for p in workers)


def batch_bodies() -> dict[str, tuple[bytes, str]]:
    rng = np.random.default_rng(0)
    data = np.round(rng.uniform([4.3, 2.0, 1.0, 0.1], [7.9, 4.4, 6.9, 2.5], size=(BATCH_ROWS, 4)), 1)
    csv = (",".join(NAMES) + "\n" + "\n".join(",".join(map(str, r)) for r in data)).encode()
    return {
        "batch_json": (json.dumps({"columns": NAMES, "data": data.tolist()}).encode(), "application/json"),
        "batch_csv": (csv, "text/csv"),
    }


def http_rate(port: int, body: bytes, content_type: str, seconds: float) -> float:
    """Rows/s of back-to-back batches on one keep-alive connection, end to end at the client."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    done = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        connection.request("POST", "/predict", body=body, headers={"Content-Type": content_type})
        response = connection.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"batch answered {response.status}: {payload[:200]!r}")
        done += BATCH_ROWS
    connection.close()
    return done / (time.perf_counter() - started)


class InProcess:
    """The server's predict handler called directly: decode, validate, predict, encode; no HTTP.

    Built as the server builds it (allocator thresholds, settings, registry,
    production version); the drift watch is not started here, so this limit is
    if anything a little high.
    """

    def __init__(self, config: Path) -> None:
        from tabserve.config import load_settings
        from tabserve.predictor import Predictor
        from tabserve.registry import open_registry
        from tabserve.service.http.allocator import tune_allocator
        from tabserve.service.predict.core import PredictCore
        from tabserve.service.predict.state import ServiceState
        from tabserve.service.protocols.tabserve.handler import PredictHandler

        tune_allocator()
        settings = load_settings(config, environ={})
        with open_registry(settings) as registry:
            self.predictor = Predictor.load(registry, settings.model)
            self.handler = PredictHandler(PredictCore(ServiceState.build(settings, registry)))

    def rate(self, body: bytes, content_type: str, seconds: float) -> float:
        is_csv = content_type == "text/csv"
        done = 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            answer = self.handler.answer(self.predictor, body, is_csv, False).body
            if b"setosa" not in answer:
                raise RuntimeError("the in-process answer has no label")
            done += BATCH_ROWS
        return done / (time.perf_counter() - started)


def prepare(folder: Path) -> tuple[dict, Path]:
    config = folder / "bench.yaml"
    config.write_text(
        f"registry:\n  url: sqlite:///{folder / 'registry.db'}\n  artifacts: {folder / 'artifacts'}\n"
        "logging:\n  file: null\n  level: WARNING\nserver:\n  reload_interval_s: 2\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TABSERVE_")}
    env["TABSERVE_CONFIG"] = str(config)
    subprocess.run([str(BIN / "tabserve"), "train"], env=env, check=True, capture_output=True)
    return env, config


def _tabserve(port: int, workers: int = 1) -> list[str]:
    return [str(BIN / "tabserve"), "serve", "--port", str(port), "--workers", str(workers)]


def cpu_s(process: subprocess.Popen) -> float:
    """User plus system CPU seconds of a server process so far."""
    times = psutil.Process(process.pid).cpu_times()
    return times.user + times.system


def single_rows(url: str, process: subprocess.Popen, seconds: float) -> tuple[dict, float]:
    """Load at 1 and 8 connections, and the server's CPU time per request (us) at 8: CPU time
    barely moves with other load on the machine, so it says what a request costs when the
    machine is too busy for req/s to mean much."""
    loads = {1: drive(url, ROW, 1, seconds)}
    before = cpu_s(process)
    loads[8] = drive(url, ROW, 8, seconds)
    served = loads[8].requests_per_s * max(1, round(seconds))
    return loads, 1e6 * (cpu_s(process) - before) / max(served, 1.0)


def one_round(env: dict, local: InProcess, seconds: float, batch_s: float) -> dict:
    """Every yardstick and its tabserve figure, measured back to back."""
    figures: dict = {}
    port = free_port()
    noop = [sys.executable, str(Path(__file__).with_name("noop_app.py")), str(port)]
    with server(noop, port, env) as process:
        url = f"http://127.0.0.1:{port}/predict"
        drive(url, ROW, 8, 1.0)  # warm up
        figures["noop"], figures["noop_cpu_us"] = single_rows(url, process, seconds)
    figures["bare_s"], figures["bare_rss"] = bare_runtime(env)
    port = free_port()
    with server(_tabserve(port), port, env) as one:
        figures["cold_start_s"] = one.cold_start_s
        url = f"http://127.0.0.1:{port}/predict"
        drive(url, ROW, 8, 1.0)
        figures["tabserve"], figures["tabserve_cpu_us"] = single_rows(url, one, seconds)
        for key, (body, content_type) in batch_bodies().items():
            http_rate(port, body, content_type, 0.5)  # warm up
            figures[key] = (
                http_rate(port, body, content_type, batch_s),
                local.rate(body, content_type, batch_s),
            )
        figures["rss"] = rss_mb(one)
    port = free_port()
    with server(_tabserve(port, workers=2), port, env):
        url = f"http://127.0.0.1:{port}/predict"
        drive(url, ROW, 8, 1.0)
        figures["two_workers"] = {c: drive(url, ROW, c, seconds) for c in (1, 8)}
    return figures


def ratios(f: dict) -> dict[str, float]:
    noop, ours, two = f["noop"], f["tabserve"], f["two_workers"]
    return {
        "throughput": ours[8].requests_per_s / noop[8].requests_per_s,
        "p50_1conn": ours[1].p50_ms / noop[1].p50_ms,
        "p99_8conn": ours[8].p99_ms / noop[8].p99_ms,
        "batch_json": f["batch_json"][0] / f["batch_json"][1],
        "batch_csv": f["batch_csv"][0] / f["batch_csv"][1],
        "cold_start": f["cold_start_s"] / f["bare_s"],
        "rss": f["rss"] / f["bare_rss"],
        "two_workers": two[8].requests_per_s / ours[8].requests_per_s,
        "two_workers_p50": two[1].p50_ms / noop[1].p50_ms,
    }


def describe(number: int, f: dict) -> str:
    return (
        f"round {number}: /predict {f['tabserve'][8].requests_per_s:,.0f} vs no-op "
        f"{f['noop'][8].requests_per_s:,.0f} req/s; p50@1 {f['tabserve'][1].p50_ms:.3f} vs "
        f"{f['noop'][1].p50_ms:.3f} ms; p99@8 {f['tabserve'][8].p99_ms:.3f} vs {f['noop'][8].p99_ms:.3f} ms; "
        f"JSON batch {f['batch_json'][0]:,.0f} vs {f['batch_json'][1]:,.0f} rows/s in-process; "
        f"CSV batch {f['batch_csv'][0]:,.0f} vs {f['batch_csv'][1]:,.0f}; "
        f"cold start {f['cold_start_s']:.2f} vs bare import {f['bare_s']:.2f} s; "
        f"RSS {f['rss']:.0f} vs {f['bare_rss']:.0f} MiB; 2 workers {f['two_workers'][8].requests_per_s:,.0f} "
        f"req/s, p50@1 {f['two_workers'][1].p50_ms:.3f} ms; server CPU per request@8 "
        f"{f['tabserve_cpu_us']:.1f} vs no-op {f['noop_cpu_us']:.1f} us"
    )


def report(rounds: list[dict]) -> int:
    """Print the table of median ratios with their spread; return how many targets were missed."""
    per_round = [ratios(f) for f in rounds]
    print()
    print("| measure | median | rounds (min-max) | target | result |")
    print("| --- | --- | --- | --- | --- |")
    missed = 0
    for key, what, op, bound in TARGETS:
        values = [r[key] for r in per_round]
        median = statistics.median(values)
        met = median >= bound if op == ">=" else median > bound if op == ">" else median <= bound
        missed += not met
        print(
            f"| {what} | {median:.2f} | {min(values):.2f}-{max(values):.2f} | {op} {bound:g} | "
            f"{'pass' if met else '**miss**'} |"
        )
    cpu = [f["tabserve_cpu_us"] / f["noop_cpu_us"] for f in rounds]
    print(
        f"| server CPU per request at 8 conns, tabserve / no-op (no target) | {statistics.median(cpu):.2f} "
        f"| {min(cpu):.2f}-{max(cpu):.2f} | | |"
    )
    errors = sum(f[k][c].errors for f in rounds for k in ("noop", "tabserve", "two_workers") for c in (1, 8))
    print(f"\nnon-2xx or socket errors during load: {errors}")
    print("all targets met" if not missed else f"{missed} target(s) missed")
    return missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each single-row load run")
    parser.add_argument("--batch-seconds", type=float, default=2.0, help="length of each batch run")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args()
    print(f"tabserve serving benchmark  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"load generator: {load_tool()}; load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        env, config = prepare(Path(tmp))
        local = InProcess(config)
        rounds = []
        for number in range(1, args.rounds + 1):
            rounds.append(one_round(env, local, args.seconds, args.batch_seconds))
            print(describe(number, rounds[-1]), flush=True)
    missed = report(rounds)
    return 1 if missed and args.strict else 0  # a miss on a busy machine is a finding, not a crash


if __name__ == "__main__":
    sys.exit(main())
