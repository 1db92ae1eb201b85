"""Memory per extra served model (part of `make bench`): one server process, 1 then N iris models.

Trains iris once into a temporary registry and registers the same files (the
scikit-learn model and its compiled form) under other model names, so every
model is a real, small, independently versioned model. Then, in rounds, starts
`tabserve serve --model ...` with 1, 6 and 11 models, predicts once with each
(so every model's predict path has run), and reads the process's resident
memory. Prints the increase per extra model beside the goal (10 MB).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from copies import register_copies, trained_iris

BIN = Path(sys.executable).parent
ROW = b"[5.1, 3.8, 1.5, 0.3]"
COUNTS = (1, 6, 11)
ROUNDS = 3
GOAL_MB = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare(folder: Path, models: int) -> Path:
    """A registry with ``models`` models (iris, m1, m2, ...), each one version in production."""
    config = trained_iris(folder, {"file": None, "level": "WARNING"}, {"reload_interval_s": 1})
    register_copies(config, [f"m{i}" for i in range(1, models)], promote=True)
    return config


def post(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", path, body=ROW, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def ready(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/readyz")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def rss_with(config: Path, models: list[str]) -> float:
    """Resident MB of one server serving ``models`` after one predict with each."""
    port = free_port()
    flags = [arg for name in models for arg in ("--model", name)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TABSERVE_")}
    command = [str(BIN / "tabserve"), "-c", str(config), "serve", "--port", str(port), *flags]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not ready(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server with {len(models)} models never became ready")
            time.sleep(0.1)
        for name in models:
            assert post(port, f"/models/{name}/predict") == 200
        return psutil.Process(process.pid).memory_info().rss / 2**20
    finally:
        process.terminate()
        process.wait(30)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        config = prepare(Path(tmp), max(COUNTS))
        names = ["iris"] + [f"m{i}" for i in range(1, max(COUNTS))]
        samples: dict[int, list[float]] = {n: [] for n in COUNTS}
        for _ in range(ROUNDS):
            for n in COUNTS:
                samples[n].append(rss_with(config, names[:n]))
    medians = {n: statistics.median(v) for n, v in samples.items()}
    per_model = (medians[max(COUNTS)] - medians[1]) / (max(COUNTS) - 1)
    print(f"memory per served model  {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    for n in COUNTS:
        rounds = ", ".join(f"{v:.1f}" for v in samples[n])
        print(f"  {n:>2} models: RSS median {medians[n]:6.1f} MB  (rounds: {rounds})")
    verdict = "meets" if per_model <= GOAL_MB else "MISSES"
    print(f"  per extra model: {per_model:.2f} MB  (goal <= {GOAL_MB:.0f} MB: {verdict})")
    print(json.dumps({"rss_mb": medians, "per_extra_model_mb": round(per_model, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
