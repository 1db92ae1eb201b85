"""Protocol benchmark (`make bench`): other protocols against tabserve's own /predict, same server, same run.

Trains iris into a temporary registry and starts one server. In each round it
drives single-row POST /predict, OIP v2 single-row JSON infer and MLflow
/invocations (8 connections), and reports each protocol's req/s as a ratio to
/predict in that round. Then it posts 10,000-row FP64 batches through the OIP
binary extension and compares the rows/s with the in-process limit: the same
body decoded, predicted and encoded by the same code without HTTP, in
one-second slices alternating with the HTTP ones. The HTTP side is measured
twice: with two connections (one per core) the server always has a batch to
work on, which is its throughput and what the target is judged on; with one,
the server also waits while the client writes and reads each ~0.7 MB
exchange, which is the latency a lone sequential client sees.
Prints pass/miss per target and always exits 0.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import drive, load_tool, spread
from serve import _tabserve, free_port, prepare, server

ROW = [5.1, 3.8, 1.5, 0.3]
PREDICT = orjson.dumps(ROW)
OIP_ROW = orjson.dumps(
    {
        "inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": ROW}],
        "outputs": [{"name": "predict"}],
    }
)
INVOCATIONS = orjson.dumps({"instances": [ROW]})
TARGETS = {"oip_ratio": 0.5, "invocations_ratio": 0.5, "binary_ratio": 0.7}
BATCH_ROWS = 10_000
BUSY_CONNECTIONS = 2  # one per core of the machine this was written on: enough to keep one server busy


def batch_rows(rows: int = BATCH_ROWS) -> np.ndarray:
    """The batch every batch measure sends (here over HTTP, in grpc.py over gRPC): seeded iris-like rows."""
    rng = np.random.default_rng(0)
    return np.round(rng.uniform([4.3, 2.0, 1.0, 0.1], [7.9, 4.4, 6.9, 2.5], size=(rows, 4)), 1)


def binary_body(rows: int) -> tuple[bytes, str]:
    """A 10,000-row FP64 infer request through the binary extension, outputs asked as binary."""
    raw = batch_rows(rows).astype("<f8").tobytes()
    header = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "x",
                    "shape": [rows, 4],
                    "datatype": "FP64",
                    "parameters": {"binary_data_size": len(raw)},
                }
            ],
            "parameters": {"binary_data_output": True},
        }
    )
    return header + raw, str(len(header))


def http_rate(port: int, body: bytes, header_length: str, seconds: float, connections: int) -> float:
    """Rows per second of back-to-back binary infer requests on ``connections`` keep-alive connections.

    Sent by the same load generator as the other rows (wrk where installed), so the
    client's own cost of building and reading ~0.7 MB per request is not counted
    against the server the way a Python client's would be.
    """
    headers = {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": header_length}
    result = drive(f"http://127.0.0.1:{port}/v2/models/iris/infer", body, connections, seconds, headers)
    if result.errors:
        raise RuntimeError(f"binary infer: {result.errors} non-2xx or socket errors")
    return result.requests_per_s * BATCH_ROWS


def in_process_rate(env: dict, body: bytes, header_length: str, seconds: float) -> float:
    """Rows per second of the same decode -> predict -> encode, called directly (no HTTP)."""
    from tabserve.config import load_settings
    from tabserve.predictor import Predictor
    from tabserve.registry import open_registry
    from tabserve.service.http.allocator import tune_allocator
    from tabserve.service.predict.core import PredictCore
    from tabserve.service.predict.state import ServiceState
    from tabserve.service.protocols.oip import codec as oip

    settings = load_settings(Path(env["TABSERVE_CONFIG"]), environ={})
    registry = open_registry(settings)
    try:
        predictor = Predictor.load(registry, settings.model)
        core = PredictCore(ServiceState.build(settings, registry))
    finally:
        registry.close()
    # As the server does: batch buffers stay on the heap, and collections skip the long-lived objects.
    tune_allocator()
    gc.freeze()
    done = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        request = oip.decode_request(core, predictor, body, header_length)
        result = core.predict(predictor, request.batch, protocol="oip")
        oip.encode_response(result, request)
        done += BATCH_ROWS
    return done / (time.perf_counter() - started)


def binary_round(port: int, env: dict, body: bytes, header_length: str, seconds: float) -> dict:
    """HTTP and in-process rows/s of one round, taken in alternating one-second slices.

    On a shared machine the background load moves within seconds; alternating
    short slices lets both sides see the same load, so their ratio measures HTTP.
    """
    slices = max(1, round(seconds))
    rates: dict[str, list[float]] = {"http": [], "http_1": [], "in_process": []}
    for _ in range(slices):
        rates["http"].append(http_rate(port, body, header_length, 1.0, BUSY_CONNECTIONS))
        rates["http_1"].append(http_rate(port, body, header_length, 1.0, 1))
        rates["in_process"].append(in_process_rate(env, body, header_length, 1.0))
    return {key: statistics.fmean(values) for key, values in rates.items()}


def run(env: dict, rounds: int, seconds: float) -> dict:
    results: dict = {"rounds": [], "binary": []}
    port = free_port()
    with server(_tabserve(port), port, env):
        base = f"http://127.0.0.1:{port}"
        targets = {
            "predict": (f"{base}/predict", PREDICT),
            "oip": (f"{base}/v2/models/iris/infer", OIP_ROW),
            "invocations": (f"{base}/invocations", INVOCATIONS),
        }
        for url, body in targets.values():
            drive(url, body, 8, 1.0)  # warm up
        body, header_length = binary_body(BATCH_ROWS)
        http_rate(port, body, header_length, 1.0, BUSY_CONNECTIONS)
        for number in range(1, rounds + 1):
            row = {name: drive(url, payload, 8, seconds) for name, (url, payload) in targets.items()}
            binary = binary_round(port, env, body, header_length, seconds)
            results["rounds"].append(row)
            results["binary"].append(binary)
            rates = {name: r.requests_per_s for name, r in row.items()}
            print(
                f"round {number}: /predict {rates['predict']:,.0f}, OIP {rates['oip']:,.0f}, "
                f"/invocations {rates['invocations']:,.0f} req/s; binary 10k rows: "
                f"HTTP {binary['http']:,.0f} ({BUSY_CONNECTIONS} conns), {binary['http_1']:,.0f} (1 conn), "
                f"in-process {binary['in_process']:,.0f} rows/s"
            )
    return results


def report(results: dict) -> None:
    rounds, binary = results["rounds"], results["binary"]
    ratios = {
        "oip": [r["oip"].requests_per_s / r["predict"].requests_per_s for r in rounds],
        "invocations": [r["invocations"].requests_per_s / r["predict"].requests_per_s for r in rounds],
        "binary": [b["http"] / b["in_process"] for b in binary],
        "binary_1": [b["http_1"] / b["in_process"] for b in binary],
    }
    rows = [
        ("OIP v2 1-row JSON infer / POST /predict (req/s, 8 conns)", ratios["oip"], TARGETS["oip_ratio"]),
        (
            "/invocations 1 row / POST /predict (req/s, 8 conns)",
            ratios["invocations"],
            TARGETS["invocations_ratio"],
        ),
        (
            f"10k-row FP64 binary infer over HTTP ({BUSY_CONNECTIONS} conns) / in-process (rows/s)",
            ratios["binary"],
            TARGETS["binary_ratio"],
        ),
    ]
    print("\n| measure | ratio, median (spread) | target | met |")
    print("| --- | --- | --- | --- |")
    missed = 0
    for label, values, bound in rows:
        met = statistics.median(values) >= bound
        missed += not met
        print(f"| {label} | {spread(values)} | >= {bound} | {'pass' if met else 'miss'} |")
    print(f"| the same over 1 connection (latency-bound, no target) | {spread(ratios['binary_1'])} | | |")
    for name in ("predict", "oip", "invocations"):
        rates = [r[name].requests_per_s for r in rounds]
        p99 = statistics.median(r[name].p99_ms for r in rounds)
        print(f"| {name} req/s (8 conns), p99 ms | {statistics.median(rates):,.0f}, {p99:.2f} | | |")
    for key in ("http", "http_1", "in_process"):
        print(f"| binary 10k rows {key} (rows/s) | {statistics.median(b[key] for b in binary):,.0f} | | |")
    errors = sum(r[k].errors for r in rounds for k in r)
    print(f"\nnon-2xx or socket errors during load: {errors}")
    print("all targets met" if not missed else f"{missed} target(s) missed")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each load run")
    args = parser.parse_args()
    print(f"tabserve protocol benchmark  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"load generator: {load_tool()}")
    with tempfile.TemporaryDirectory() as tmp:
        env, _config = prepare(Path(tmp))
        report(run(env, args.rounds, args.seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
