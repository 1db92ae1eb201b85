"""Memory over many model swaps (part of `make bench`): one server, production moved back and forth.

Trains iris once into a temporary registry, registers the same files again as
version 2, and starts one ``tabserve serve``. Then it promotes versions 2 and 1
in turn through ``POST /models/iris/versions/N/promote`` and waits, each time,
until ``GET /models`` says the new version is served. Every ``--every`` swaps
it reads the server's resident memory. At the end it reads the server's log
for the number of objects the collector keeps frozen after each swap.

A server that keeps each replaced model's garbage grows without bound; the
target is flat memory: RSS after the last swap within ``GOAL_MB`` of RSS after
the first ``--every`` swaps, and frozen objects not growing per swap. Prints
pass/miss and always exits 0.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from copies import register_copies, trained_iris
from serve import free_port

BIN = Path(sys.executable).parent
GOAL_MB = 5.0
FROZEN = re.compile(r"(\d+) objects frozen")


def prepare(folder: Path) -> Path:
    """A registry with iris versions 1 (production) and 2 (the same files); its config."""
    config = trained_iris(
        folder, {"file": str(folder / "serve.log"), "level": "INFO"}, {"reload_interval_s": 5}
    )
    register_copies(config, ["iris"], promote=False)
    return config


def call(port: int, method: str, path: str) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{method} {path} answered {response.status}: {body[:200]!r}")
        return json.loads(body)
    finally:
        connection.close()


def serving(port: int) -> int | None:
    try:
        return call(port, "GET", "/models")["models"][0]["serving_version"]
    except (OSError, RuntimeError):
        return None


def swap_to(port: int, version: int, limit_s: float = 60) -> None:
    """Promote ``version`` and wait until the server answers with it."""
    call(port, "POST", f"/models/iris/versions/{version}/promote")
    deadline = time.monotonic() + limit_s
    while serving(port) != version:
        if time.monotonic() > deadline:
            raise RuntimeError(f"version {version} was not served within {limit_s:.0f} s of its promotion")
        time.sleep(0.005)


def run(folder: Path, swaps: int, every: int) -> dict:
    config = prepare(folder)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TABSERVE_")}
    command = [str(BIN / "tabserve"), "-c", str(config), "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while serving(port) != 1:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server never served version 1")
            time.sleep(0.1)
        rss = {0: psutil.Process(process.pid).memory_info().rss / 2**20}
        for swap in range(1, swaps + 1):
            swap_to(port, 2 if swap % 2 else 1)
            if swap % every == 0 or swap == swaps:
                rss[swap] = psutil.Process(process.pid).memory_info().rss / 2**20
    finally:
        process.terminate()
        process.wait(30)
    frozen = [int(m.group(1)) for m in FROZEN.finditer((folder / "serve.log").read_text())]
    return {"rss_mb": rss, "frozen": frozen}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--swaps", type=int, default=1000, help="promotions to make (default 1000)")
    parser.add_argument("--every", type=int, default=100, help="read RSS every N swaps (default 100)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = run(Path(tmp), args.swaps, args.every)
    rss, frozen = result["rss_mb"], result["frozen"]
    print(f"memory over model swaps  {datetime.now(UTC):%Y-%m-%d %H:%M UTC}")
    for swap, mb in rss.items():
        print(f"  after {swap:>5} swaps: RSS {mb:6.1f} MB")
    first = min(s for s in rss if s > 0)
    growth = rss[max(rss)] - rss[first]
    # The first freeze is the start-up load; the swaps begin after it.
    swapped = frozen[1:]
    per_swap = (swapped[-1] - swapped[0]) / max(len(swapped) - 1, 1) if swapped else float("nan")
    if swapped:
        print(
            f"  frozen objects: {swapped[0]} after the first swap, {swapped[-1]} after the last "
            f"({len(swapped)} swaps logged, {per_swap:+.1f} per swap)"
        )
    verdict = "meets" if growth <= GOAL_MB else "MISSES"
    span = f"from swap {first} to {max(rss)}"
    print(f"  RSS growth {span}: {growth:+.1f} MB  (goal <= {GOAL_MB:.0f} MB: {verdict})")
    figures = {"rss_mb": rss, "rss_growth_mb": round(growth, 1), "frozen_per_swap": round(per_swap, 2)}
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
