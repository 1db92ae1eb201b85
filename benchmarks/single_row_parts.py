"""What one single-row `POST /predict` costs, layer by layer, in process (`make bench`).

The served ASGI app (Host check, dispatcher, tabserve adapter, handler, predict
core, the model's row path, metrics, drift watch) is built as `tabserve serve`
builds it, over a temporary iris registry, and called directly with a fixed
scope and body: no sockets, no HTTP parser. Each entry point is one layer
deeper than the one before, so the difference between two rows is what that
layer adds. CPU time of this thread only (the drift watch's own thread is left
out), best of the rounds, in microseconds per call.

Run it with another tree's `src` on PYTHONPATH to compare two commits in the
same session (`--label` names the tree in the output).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROW = b"[5.1, 3.8, 1.5, 0.3]"
VALUES = [5.1, 3.8, 1.5, 0.3]
HEADERS = [
    (b"host", b"127.0.0.1:5000"),
    (b"user-agent", b"wrk"),
    (b"content-type", b"application/json"),
    (b"content-length", str(len(ROW)).encode()),
]
SCOPE = {
    "type": "http",
    "method": "POST",
    "path": "/predict",
    "raw_path": b"/predict",
    "query_string": b"",
    "headers": HEADERS,
    "http_version": "1.1",
    "scheme": "http",
    "root_path": "",
    "server": ("127.0.0.1", 5000),
    "client": ("127.0.0.1", 40000),
}
MESSAGE = {"type": "http.request", "body": ROW, "more_body": False}


async def receive() -> dict:
    return MESSAGE


async def send(message: dict) -> None:
    pass


def prepare(folder: Path) -> Path:
    config = folder / "bench.yaml"
    config.write_text(
        f"registry:\n  url: sqlite:///{folder / 'registry.db'}\n  artifacts: {folder / 'artifacts'}\n"
        "logging:\n  file: null\n  level: WARNING\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TABSERVE_")}
    env["TABSERVE_CONFIG"] = str(config)
    subprocess.run([sys.executable, "-m", "tabserve.cli", "train"], env=env, check=True, capture_output=True)
    return config


async def lifespan(app, events: asyncio.Queue, started: asyncio.Event) -> None:
    async def lifespan_receive() -> dict:
        return await events.get()

    async def lifespan_send(message: dict) -> None:
        if message["type"].startswith("lifespan.startup"):
            started.set()

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, lifespan_receive, lifespan_send)


async def measure(config: Path, calls: int, rounds: int) -> dict[str, float]:
    from tabserve.config import load_settings
    from tabserve.service.app import create_app, with_fast_predict

    app = with_fast_predict(create_app(load_settings(config, environ={})))
    events: asyncio.Queue = asyncio.Queue()
    started = asyncio.Event()
    await events.put({"type": "lifespan.startup"})
    task = asyncio.create_task(lifespan(app, events, started))
    await started.wait()
    dispatcher = app.app
    adapter = dispatcher.adapters[0]
    handler = adapter.handler
    core = handler.core
    for _ in range(400):  # the model loads in the background after start-up
        try:
            predictor = core.production()
            break
        except Exception:
            await asyncio.sleep(0.05)
    else:
        raise RuntimeError("the model did not load")
    from tabserve.service.protocols.adapter import RawRequest

    route = adapter.match("/predict", "POST")
    metrics = core.state.metrics
    awaited = {
        "whole app (Host check and below)": lambda: app(SCOPE, receive, send),
        "dispatcher (sends, timing, request metrics)": lambda: dispatcher(SCOPE, receive, send),
        "adapter.handle": lambda: adapter.handle(
            route, RawRequest(b"application/json", HEADERS[3][1], b"", HEADERS, receive)
        ),
        "handler.handle (media type, query, body read)": lambda: handler.handle(
            None, None, receive, b"application/json", HEADERS[3][1], b""
        ),
    }
    direct = {
        "handler.answer (JSON decode, encode)": lambda: handler.answer(predictor, ROW, False, False),
        "core.single_row (checks, class metrics, watch)": lambda: core.single_row(predictor, VALUES),
        "predictor.predict_row (the model)": lambda: predictor.predict_row(VALUES),
        "request metrics alone": lambda: metrics.observe_request("/predict", "POST", 200, 0.0001),
        "class metrics alone": lambda: metrics.count_predictions("iris", predictor.classes, (0,)),
        "watch.observe alone": lambda: core.watch.observe(predictor, 1, VALUES, None, (0,), [1.0, 0.0, 0.0]),
    }
    best = dict.fromkeys([*awaited, *direct], float("inf"))
    for _ in range(rounds):
        for name, call in awaited.items():
            started_ns = time.thread_time_ns()
            for _ in range(calls):
                await call()
            best[name] = min(best[name], (time.thread_time_ns() - started_ns) / calls / 1000)
        for name, call in direct.items():
            started_ns = time.thread_time_ns()
            for _ in range(calls):
                call()
            best[name] = min(best[name], (time.thread_time_ns() - started_ns) / calls / 1000)
        await asyncio.sleep(0.3)  # let the drift watch drain its queue between rounds
    await events.put({"type": "lifespan.shutdown"})
    await asyncio.wait_for(task, 10)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--label", default="this tree")
    args = parser.parse_args()
    import uvloop

    with tempfile.TemporaryDirectory() as tmp:
        config = prepare(Path(tmp))
        best = uvloop.run(measure(config, args.calls, args.rounds))
    print(f"single-row POST /predict in process ({args.label}), us of CPU per call, best of {args.rounds}:")
    print("| layer | us |\n| --- | --- |")
    for name, value in best.items():
        print(f"| {name} | {value:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
