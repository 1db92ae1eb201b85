"""Which tabserve modules one single-row JSON POST /predict runs code in, served as in production.

Trains iris into a temporary registry, builds the app the server serves (the
dispatcher in front of FastAPI), loads the production version into its state,
warms up with one request and then records, with ``sys.setprofile``, every
tabserve source file a function is called in while a second request is
answered. Prints the count and the modules in the order first entered. With
``--requests N`` it then times N such requests through the app in process (no
sockets, no HTTP parsing: the dispatcher, the adapter and the core only) in
five slices and prints the median microseconds per request and the slices'
range. Works on any checkout whose ``tabserve.service.app`` has
``with_fast_predict``, so two checkouts can be compared with the same script.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tabserve

BIN = Path(sys.executable).parent
ROOT = Path(tabserve.__file__).resolve().parent
BODY = b"[5.1, 3.5, 1.4, 0.2]"


def build_app(folder: Path):
    config = folder / "bench.yaml"
    config.write_text(
        f"registry:\n  url: sqlite:///{folder / 'registry.db'}\n  artifacts: {folder / 'artifacts'}\n"
        "logging:\n  file: null\n  level: WARNING\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TABSERVE_")}
    env["TABSERVE_CONFIG"] = str(config)
    subprocess.run([str(BIN / "tabserve"), "train"], env=env, check=True, capture_output=True)
    from tabserve.config import load_settings
    from tabserve.predictor import Predictor
    from tabserve.registry import Registry
    from tabserve.service.app import create_app, with_fast_predict

    settings = load_settings(config, environ={})
    app = create_app(settings)
    state = app.state.service
    state.registry = Registry.from_settings(settings.registry)
    state.default.predictor = Predictor.load(state.registry, settings.model)
    return with_fast_predict(app)


async def post(app) -> list[dict]:
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]
    scope = {"type": "http", "method": "POST", "path": "/predict", "headers": headers, "query_string": b""}
    await app(scope, receive, send)
    return sent


def crossed(app) -> list[str]:
    modules: dict[str, None] = {}

    def note(frame, event, arg) -> None:
        if event == "call":
            path = frame.f_code.co_filename
            if path.startswith(str(ROOT)):
                modules.setdefault(str(Path(path).relative_to(ROOT.parent)), None)

    async def one() -> list[dict]:
        sys.setprofile(note)
        try:
            return await post(app)
        finally:
            sys.setprofile(None)

    sent = asyncio.run(one())
    if sent[0]["status"] != 200:
        raise RuntimeError(f"the predict answered {sent[0]['status']}: {sent[1]['body'][:200]!r}")
    return list(modules)


def per_request_us(app, requests: int, slices: int = 5) -> list[float]:
    """Microseconds per request in each of ``slices`` runs of ``requests // slices`` requests."""

    async def run(count: int) -> float:
        started = time.perf_counter()
        for _ in range(count):
            await post(app)
        return (time.perf_counter() - started) / count * 1e6

    count = max(1, requests // slices)
    return [asyncio.run(run(count)) for _ in range(slices)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=0, help="also time this many requests in process")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        app = build_app(Path(folder))
        asyncio.run(post(app))  # warm-up: imports and caches on first use are not the request's path
        modules = crossed(app)
        print(f"{len(modules)} tabserve modules crossed by one single-row JSON POST /predict:")
        for module in modules:
            print(f"  {module}")
        if args.requests:
            slices = per_request_us(app, args.requests)
            low, high = min(slices), max(slices)
            print(f"in process: {statistics.median(slices):.1f} us/request (slices {low:.1f}-{high:.1f})")


if __name__ == "__main__":
    main()
