"""XGBoost and LightGBM serving benchmark (`python benchmarks/boost.py`).

For one XGBoost and one LightGBM classifier (100 trees, depth 6, four numeric
features, three classes), registered with ``tabserve.register`` into a
temporary registry:

- in process, the per-row cost of the path tabserve serves a single row on
  (``Predictor.predict_row``; also a one-row batch through ``Predictor.predict``)
  against the library's own ``predict_proba`` on one row, each the median of
  many single-row calls;
- over HTTP (unless ``--no-http``), single-row POST /predict throughput at 8
  connections, as a ratio to a raw-ASGI no-op on the same stack measured in
  the same round (benchmarks/serve.py's yardstick; the goal is >= 0.5), over
  ``--rounds`` rounds with each ratio's median and range; iris trained by
  `tabserve train`, served the same way, is the reference; and each server's
  CPU per request (user + system from /proc over the run, divided by the
  requests answered), which the neighbours' load disturbs less than req/s.

Absolute figures move with the host; the ratios are what to compare.
"""

from __future__ import annotations

import argparse
import http.client
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import LoadResult, drive, load_tool

BIN = Path(sys.executable).parent
NAMES = ["a", "b", "c", "d"]
CLASSES = ["low", "mid", "high"]
ROW = [0.3, -1.2, 0.8, 0.1]
BODY = b"[0.3, -1.2, 0.8, 0.1]"
SERVED = ("iris", "xgboost", "lightgbm")


def models() -> dict[str, object]:
    """The two models, fitted on the same synthetic table (labels 0..2, as XGBoost needs)."""
    import lightgbm
    import pandas as pd
    import xgboost
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=20_000, n_features=4, n_informative=4, n_redundant=0, n_classes=3, random_state=0
    )
    frame = pd.DataFrame(x, columns=NAMES)
    common = {"n_estimators": 100, "max_depth": 6, "random_state": 0, "n_jobs": 1}
    return {
        "xgboost": xgboost.XGBClassifier(**common).fit(frame, y),
        "lightgbm": lightgbm.LGBMClassifier(**common, num_leaves=63, verbose=-1).fit(frame, y),
        "_frame": frame,
    }


def per_row_us(call, repeats: int) -> float:
    """Median microseconds of ``call()`` over ``repeats`` calls, after a warm-up."""
    for _ in range(50):
        call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return float(np.median(times) * 1e6)


def in_process(registry, fitted: dict, repeats: int) -> dict[str, tuple[float, float, float, str]]:
    """(single-row path µs, one-row batch µs, library µs, how the version is served) per library."""
    import pandas as pd

    import tabserve
    from tabserve.inputs import Batch
    from tabserve.predictor import Predictor

    found = {}
    row = np.asarray([ROW], dtype=np.float64)
    frame_row = pd.DataFrame(row, columns=NAMES)
    for name in ("xgboost", "lightgbm"):
        model = fitted[name]
        result = tabserve.register(
            model, name=name, X_sample=fitted["_frame"].head(2000), classes=CLASSES, registry=registry
        )
        predictor = Predictor.load(registry.store, name)
        served = per_row_us(lambda p=predictor: p.predict_row(ROW), repeats)
        batch = per_row_us(lambda p=predictor: p.predict(Batch(1, row, None)), repeats)
        own = per_row_us(lambda m=model: m.predict_proba(frame_row), repeats)
        found[name] = (served, batch, own, result.serving)
    return found


def _post(port: int) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        connection.request("POST", "/predict", body=BODY, headers={"Content-Type": "application/json"})
        return connection.getresponse().status
    finally:
        connection.close()


@contextmanager
def serving(command: list[str], port: int, env: dict):
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command[1]} exited with {process.returncode}")
            try:
                if _post(port) == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("no answer within 60 s")
            time.sleep(0.01)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=20)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds a process has used so far (/proc; 0 where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def driven(url: str, connections: int, seconds: float, pid: int) -> tuple[LoadResult, float]:
    """``drive`` for ``seconds``, and the server's CPU microseconds per request answered meanwhile."""
    before = cpu_seconds(pid)
    result = drive(url, BODY, connections, seconds)
    used = cpu_seconds(pid) - before
    requests = result.requests_per_s * max(1, round(seconds))
    return result, used / requests * 1e6 if requests else float("nan")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def over_http(config: Path, seconds: float, rounds: int) -> list[dict[str, float]]:
    """req/s at 8 connections per round: the no-op and each model, every server started once and
    driven one at a time, the order rotated each round so no server always goes first; iris (the
    seed's compiled linear model, four features like these) is the reference the same round gives."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TABSERVE_")}
    env["TABSERVE_CONFIG"] = str(config)
    subprocess.run([str(BIN / "tabserve"), "train"], env=env, check=True, capture_output=True)
    urls, pids = {}, {}
    with ExitStack() as servers:
        port = free_port()
        noop = [sys.executable, str(Path(__file__).with_name("noop_app.py")), str(port)]
        pids["no-op"] = servers.enter_context(serving(noop, port, env)).pid
        urls["no-op"] = f"http://127.0.0.1:{port}/predict"
        for name in SERVED:
            port = free_port()
            command = [str(BIN / "tabserve"), "serve", "--model", name, "--port", str(port)]
            pids[name] = servers.enter_context(serving(command, port, env)).pid
            urls[name] = f"http://127.0.0.1:{port}/predict"
        order = list(urls)
        found = []
        for round_number in range(rounds):
            shift = round_number % len(order)
            rates = {}
            for name in order[shift:] + order[:shift]:
                drive(urls[name], BODY, 8, 1.0)
                result, cpu = driven(urls[name], 8, seconds, pids[name])
                rates[name] = result.requests_per_s
                rates[f"{name} cpu"] = cpu
            found.append(rates)
    return found


def report_http(rounds: list[dict[str, float]]) -> None:
    """Each round's rates and ratios, then each ratio's median and range over the rounds."""
    print(f"POST /predict, one row, 8 connections ({load_tool()}), {len(rounds)} rounds:")
    for number, rates in enumerate(rounds, 1):
        parts = [f"no-op {rates['no-op']:,.0f} req/s"]
        parts += [f"{name} {rates[name]:,.0f} ({rates[name] / rates['no-op']:.2f}x)" for name in SERVED]
        print(f"  round {number}: " + ", ".join(parts))
    for name in SERVED:
        ratios = sorted(rates[name] / rates["no-op"] for rates in rounds)
        median = float(np.median(ratios))
        verdict = "pass" if median >= 0.5 else "miss"
        print(
            f"  {name:8s} median {median:.2f}x the no-op (range {ratios[0]:.2f}-{ratios[-1]:.2f}; "
            f"target >= 0.5: {verdict})"
        )
    for name in SERVED[1:]:  # against iris, served the same way in the same round
        ratios = sorted(rates[name] / rates["iris"] for rates in rounds)
        median = float(np.median(ratios))
        print(f"  {name:8s} median {median:.2f}x iris (range {ratios[0]:.2f}-{ratios[-1]:.2f})")
    # Server CPU per request (user + system, /proc): what load disturbs least.
    for name in ("no-op", *SERVED):
        cpu = sorted(rates[f"{name} cpu"] for rates in rounds)
        ratio = sorted(rates[f"{name} cpu"] / rates["no-op cpu"] for rates in rounds)
        print(
            f"  {name:8s} server CPU {np.median(cpu):5.1f} us/request (range {cpu[0]:.1f}-{cpu[-1]:.1f}), "
            f"{np.median(ratio):.2f}x the no-op's (range {ratio[0]:.2f}-{ratio[-1]:.2f})"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2000, help="single-row calls per path")
    parser.add_argument("--seconds", type=float, default=5.0, help="load per HTTP measurement")
    parser.add_argument("--rounds", type=int, default=3, help="HTTP rounds (the spread is reported)")
    parser.add_argument("--no-http", action="store_true", help="only the in-process figures")
    args = parser.parse_args()

    import tabserve

    folder = Path(tempfile.mkdtemp(prefix="tabserve-boost-"))
    config = folder / "bench.yaml"
    config.write_text(
        f"registry:\n  url: sqlite:///{folder / 'registry.db'}\n  artifacts: {folder / 'artifacts'}\n"
        "logging:\n  file: null\n  level: WARNING\n"
    )
    fitted = models()
    with tabserve.Registry.from_config(config) as registry:
        figures = in_process(registry, fitted, args.repeats)
    print("in process, one row (median):")
    for name, (served, batch, own, how) in figures.items():
        print(
            f"  {name:8s} tabserve single-row path {served:6.1f} us, one-row batch {batch:6.1f} us; "
            f"library predict_proba {own:7.1f} us ({own / served:.0f}x the single-row path)  ({how})"
        )
    if not args.no_http:
        report_http(over_http(config, args.seconds, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
