"""gRPC benchmark (`make bench`): OIP v2 over gRPC against the HTTP paths of the same server, same run.

Trains iris into a temporary registry and starts one `tabserve serve` with
`--grpc-port`. Each round, in alternating one-second slices so both sides see
the same background load on a shared machine:

- 10,000-row FP64 batches: gRPC ModelInfer with ``raw_input_contents`` against
  HTTP OIP infer through the binary tensor extension, both with two requests in
  flight (one per core: the server always has a batch to work on), rows/s;
- single rows: gRPC ModelInfer (raw FP64, 8 streams on one channel, as a gRPC
  client sends) against HTTP POST /predict and HTTP OIP JSON infer (8
  keep-alive connections), req/s.

The yardstick for a single row is a grpc.aio no-op server (what Python gRPC costs
per call before any work). The gRPC client sends pre-serialised requests and reads
raw response bytes; the HTTP client is the shared load generator (benchmarks/load.py:
wrk where installed). As the clients share the cores with the server, each measure
also records the server process's CPU per request (from /proc), which neither
client's cost enters. Prints pass/miss per target and exits 0.
"""

# ruff: noqa: E402
from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

# Run as a script, this file's folder is first on sys.path, where its name would shadow the grpc
# library: the library is imported with the folder out of the way, then the folder goes back for
# the shared helpers (hence the imports below the top: ruff's E402 is off for this file).
HERE = str(Path(__file__).resolve().parent)
while HERE in sys.path:
    sys.path.remove(HERE)
import grpc
import numpy as np

sys.path.insert(0, HERE)
from load import drive, load_tool, spread
from protocols import BATCH_ROWS, BUSY_CONNECTIONS, OIP_ROW, PREDICT, ROW, batch_rows, binary_body, http_rate
from serve import BIN, free_port, prepare, server
from tabserve.service.protocols.grpc import inference_pb2 as pb

TARGETS = {"batch_ratio": 1.0, "single_ratio": 0.5}
METHOD = "/inference.GRPCInferenceService/ModelInfer"
SINGLE_STREAMS = 8
MAX_MESSAGE = 64 * 1024 * 1024
# The yardstick for one row: a grpc.aio server on uvloop whose ModelInfer answers empty bytes at
# once (no protobuf, no model), i.e. what Python gRPC itself costs per call on this host.
NOOP_SERVER = """
import sys
import grpc
import uvloop

async def infer(request, context):
    return b""

async def main():
    server = grpc.aio.server()
    methods = {"ModelInfer": grpc.unary_unary_rpc_method_handler(infer)}
    service = grpc.method_handlers_generic_handler("inference.GRPCInferenceService", methods)
    server.add_generic_rpc_handlers((service,))
    server.add_insecure_port("127.0.0.1:" + sys.argv[1])
    await server.start()
    await server.wait_for_termination()

uvloop.run(main())
"""


def infer_request(rows: np.ndarray) -> bytes:
    """A serialised ModelInferRequest: one raw FP64 [N, 4] tensor (what tritonclient.grpc sends)."""
    request = pb.ModelInferRequest(model_name="iris")
    request.inputs.add(name="x", datatype="FP64", shape=list(rows.shape))
    request.raw_input_contents.append(np.ascontiguousarray(rows, dtype="<f8").tobytes())
    return request.SerializeToString()


async def _grpc_load(
    target: str, body: bytes, streams: int, seconds: float, check: bool
) -> tuple[int, list[float]]:

    options = [
        ("grpc.max_receive_message_length", MAX_MESSAGE),
        ("grpc.max_send_message_length", MAX_MESSAGE),
    ]
    async with grpc.aio.insecure_channel(target, options=options) as channel:
        call = channel.unary_unary(METHOD)  # no serialisers: bytes out, bytes back
        answer = pb.ModelInferResponse.FromString(await call(body))  # connected, and answering right
        if check and (not answer.outputs or answer.outputs[0].name != "predict"):
            raise RuntimeError("gRPC infer did not answer predict")
        latencies: list[float] = []
        deadline = time.perf_counter() + seconds

        async def stream() -> None:
            while (started := time.perf_counter()) < deadline:
                await call(body)
                latencies.append(time.perf_counter() - started)

        begun = time.perf_counter()
        await asyncio.gather(*(stream() for _ in range(streams)))
        elapsed = time.perf_counter() - begun
    return len(latencies), [elapsed, *sorted(latencies)]


def grpc_rate(
    target: str, body: bytes, streams: int, seconds: float, check: bool = True
) -> tuple[float, float]:
    """Requests per second and p99 ms of back-to-back ModelInfer calls on ``streams`` streams."""
    count, (elapsed, *latencies) = asyncio.run(_grpc_load(target, body, streams, seconds, check))
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000 if latencies else 0.0
    return count / elapsed, p99


@contextmanager
def noop_server(port: int) -> Iterator[int]:
    """The no-op gRPC server in its own process (run from a temporary folder: no name shadowing)."""
    with tempfile.TemporaryDirectory() as folder:
        process = subprocess.Popen([sys.executable, "-c", NOOP_SERVER, str(port)], cwd=folder)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    grpc_rate(f"127.0.0.1:{port}", b"", 1, 0.0, check=False)
                    break
                except grpc.RpcError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise
                    time.sleep(0.1)
            yield process.pid
        finally:
            process.terminate()
            process.wait(10)


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system, every thread) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_round(
    port: int, pids: tuple[int, int], grpc_target: str, noop_target: str, seconds: float
) -> dict[str, float]:
    """Means over alternating one-second slices of each measure, with the server's CPU per request
    (tabserve's own process, whichever client: a figure the load generators' cost does not enter)."""
    http_body, header_length = binary_body(BATCH_ROWS)
    grpc_batch = infer_request(batch_rows())
    grpc_single = infer_request(np.array([ROW]))
    base = f"http://127.0.0.1:{port}"
    names = ("grpc_batch", "http_batch", "grpc", "noop", "predict", "oip")
    rates: dict[str, list[float]] = {k: [] for k in names}
    p99: dict[str, list[float]] = {k: [] for k in names}
    cpu_ms: dict[str, list[float]] = {k: [] for k in names}

    def http_single(url: str, body: bytes) -> tuple[float, float]:
        result = drive(base + url, body, SINGLE_STREAMS, 1.0)
        if result.errors:
            raise RuntimeError(f"{url}: {result.errors} non-2xx or socket errors")
        return result.requests_per_s, result.p99_ms

    measures = {
        "grpc_batch": lambda: grpc_rate(grpc_target, grpc_batch, BUSY_CONNECTIONS, 1.0),
        "http_batch": lambda: (
            http_rate(port, http_body, header_length, 1.0, BUSY_CONNECTIONS) / BATCH_ROWS,
            0,
        ),
        "grpc": lambda: grpc_rate(grpc_target, grpc_single, SINGLE_STREAMS, 1.0),
        "noop": lambda: grpc_rate(noop_target, grpc_single, SINGLE_STREAMS, 1.0, check=False),
        "predict": lambda: http_single("/predict", PREDICT),
        "oip": lambda: http_single("/v2/models/iris/infer", OIP_ROW),
    }
    for _ in range(max(1, round(seconds))):
        for name, measure in measures.items():
            pid = pids[1] if name == "noop" else pids[0]
            used = cpu_s(pid)
            started = time.perf_counter()
            rate, latency = measure()
            requests = rate * (time.perf_counter() - started)
            if requests:
                cpu_ms[name].append((cpu_s(pid) - used) * 1000 / requests)
            rates[name].append(rate * BATCH_ROWS if name.endswith("_batch") else rate)
            p99[name].append(latency)
    found = {key: statistics.fmean(values) for key, values in rates.items()}
    found.update({f"{key}_p99": statistics.median(values) for key, values in p99.items()})
    found.update({f"{key}_cpu_ms": statistics.fmean(values) for key, values in cpu_ms.items()})
    return found


def run(env: dict, rounds: int, seconds: float) -> list[dict[str, float]]:
    port, grpc_port, noop_port = free_port(), free_port(), free_port()
    command = [str(BIN / "tabserve"), "serve", "--port", str(port), "--grpc-port", str(grpc_port)]
    results = []
    with server(command, port, env) as process, noop_server(noop_port) as noop_pid:
        target, noop_target = f"127.0.0.1:{grpc_port}", f"127.0.0.1:{noop_port}"
        grpc_rate(target, infer_request(batch_rows()), BUSY_CONNECTIONS, 1.0)  # warm up both paths
        body, header_length = binary_body(BATCH_ROWS)
        http_rate(port, body, header_length, 1.0, BUSY_CONNECTIONS)
        for number in range(1, rounds + 1):
            found = one_round(port, (process.pid, noop_pid), target, noop_target, seconds)
            results.append(found)
            print(
                f"round {number}: 10k rows: gRPC {found['grpc_batch']:,.0f}, HTTP binary "
                f"{found['http_batch']:,.0f} rows/s; 1 row: gRPC {found['grpc']:,.0f}, /predict "
                f"{found['predict']:,.0f}, HTTP OIP {found['oip']:,.0f}, "
                f"gRPC no-op {found['noop']:,.0f} req/s"
            )
    return results


def report(rounds: list[dict[str, float]]) -> None:
    rows = [
        (
            f"10k-row FP64 batch, gRPC raw / HTTP binary extension (rows/s, {BUSY_CONNECTIONS} in flight)",
            [r["grpc_batch"] / r["http_batch"] for r in rounds],
            TARGETS["batch_ratio"],
        ),
        (
            f"1 row, gRPC ModelInfer / HTTP POST /predict (req/s, {SINGLE_STREAMS} in flight)",
            [r["grpc"] / r["predict"] for r in rounds],
            TARGETS["single_ratio"],
        ),
    ]
    print("\n| measure | ratio, median (spread) | target | met |")
    print("| --- | --- | --- | --- |")
    missed = 0
    for label, values, bound in rows:
        met = statistics.median(values) >= bound
        missed += not met
        print(f"| {label} | {spread(values)} | >= {bound} | {'pass' if met else 'miss'} |")
    oip = [r["grpc"] / r["oip"] for r in rounds]
    print(f"| 1 row, gRPC ModelInfer / HTTP OIP JSON infer (no target) | {spread(oip)} | | |")
    noop = [r["grpc"] / r["noop"] for r in rounds]
    print(f"| 1 row, gRPC ModelInfer / grpc.aio no-op (no target) | {spread(noop)} | | |")
    floor = [r["noop"] / r["predict"] for r in rounds]
    print(f"| 1 row, grpc.aio no-op / HTTP POST /predict (no target) | {spread(floor)} | | |")
    for key, unit in (("grpc_batch", "rows/s"), ("http_batch", "rows/s")):
        print(f"| {key} ({unit}) | {statistics.median(r[key] for r in rounds):,.0f} | | |")
    for key in ("grpc", "noop", "predict", "oip"):
        rate = statistics.median(r[key] for r in rounds)
        p99 = statistics.median(r[f"{key}_p99"] for r in rounds)
        print(f"| 1 row {key} req/s, p99 ms | {rate:,.0f}, {p99:.2f} | | |")
    batch_cpu = [r["http_batch_cpu_ms"] / r["grpc_batch_cpu_ms"] for r in rounds]
    print(f"| server CPU per 10k-row batch, HTTP binary / gRPC (no target) | {spread(batch_cpu)} | | |")
    single_cpu = [r["predict_cpu_ms"] / r["grpc_cpu_ms"] for r in rounds]
    print(f"| server CPU per row, HTTP /predict / gRPC (no target) | {spread(single_cpu)} | | |")
    noop_cpu = [r["grpc_cpu_ms"] / r["noop_cpu_ms"] for r in rounds]
    print(f"| server CPU per row, tabserve gRPC / grpc.aio no-op (no target) | {spread(noop_cpu)} | | |")
    for key in ("grpc_batch", "http_batch", "grpc", "noop", "predict", "oip"):
        used = statistics.median(r[f"{key}_cpu_ms"] for r in rounds)
        print(f"| server CPU per request, {key} (ms) | {used:.3f} | | |")
    print("all targets met" if not missed else f"{missed} target(s) missed")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0, help="one-second slices per measure per round")
    args = parser.parse_args()
    print(f"tabserve gRPC benchmark  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"HTTP load generator: {load_tool()}; gRPC: grpc.aio, one channel")
    with tempfile.TemporaryDirectory() as tmp:
        env, _config = prepare(Path(tmp))
        report(run(env, args.rounds, args.seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
