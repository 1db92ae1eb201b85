"""Micro-batching benchmark (`make bench`): tree models' single rows with batching on against off.

For a RandomForest (100 trees), a HistGradientBoosting and a LightGBM
classifier (four numeric features, three classes), registered with
``tabserve.register`` into a temporary registry and served by ONNX Runtime,
two servers run side by side, one with ``server.micro_batching: true`` and
one with ``false``. Each round drives single-row POST /predict at 1, 8 and 64
connections against both, alternating which goes first, and reports for each
model the ratios on / off in the same round:

- req/s at 64 connections (goal >= 2: concurrent rows share the model call);
- p50 at 1 connection (goal <= 1.1: a lone request is not delayed);
- req/s at 8 connections (reported, no goal);
- each server's CPU per request (user + system from /proc over a run, over
  the requests answered) at 64 and 1 connections, which load disturbs less;
- the rows per model call the batching server reached over all its runs
  (logged by the server at shutdown).

Ratios are the median of the rounds with their min-max spread.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from boost import driven, free_port, serving
from load import drive, load_tool

BIN = Path(sys.executable).parent
NAMES = ["a", "b", "c", "d"]
CLASSES = ["low", "mid", "high"]
BODY = b"[0.3, -1.2, 0.8, 0.1]"
CONNECTIONS = (1, 8, 64)
TARGETS = [
    ("rate64", "req/s at 64 conns, batching on / off", ">=", 2.0),
    ("p50_1", "p50 at 1 conn, batching on / off", "<=", 1.1),
    ("rate8", "req/s at 8 conns, batching on / off", None, None),
    ("cpu64", "server CPU per request at 64 conns, on / off", None, None),
    ("cpu1", "server CPU per request at 1 conn, on / off", None, None),
]


def fitted_models() -> dict[str, object]:
    """The three models on one synthetic table; the scikit-learn ones in tabserve's prep + clf shape
    (so they are compiled for ONNX Runtime), LightGBM bare (compiled as it is)."""
    import lightgbm
    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.pipeline import Pipeline

    from tabserve.features import build_preprocessor, infer_schema

    x, y = make_classification(
        n_samples=5_000, n_features=4, n_informative=4, n_redundant=0, n_classes=3, random_state=0
    )
    frame = pd.DataFrame(x, columns=NAMES)
    labels = pd.Series(np.asarray(CLASSES)[y], name="label")
    schema = infer_schema(frame, labels)

    def shaped(classifier: object) -> Pipeline:
        return Pipeline([("prep", build_preprocessor(schema)), ("clf", classifier)]).fit(frame, labels)

    return {
        "forest": shaped(RandomForestClassifier(n_estimators=100, max_depth=10, random_state=0, n_jobs=1)),
        "histgb": shaped(HistGradientBoostingClassifier(max_iter=100, random_state=0)),
        "lightgbm": lightgbm.LGBMClassifier(n_estimators=100, max_depth=6, verbose=-1, n_jobs=1).fit(
            frame, labels
        ),
        "_frame": frame,
    }


def register(config: Path) -> list[tuple[str, str]]:
    """Register the models; (name, how each is served)."""
    import tabserve

    fitted = fitted_models()
    frame = fitted.pop("_frame")
    served = []
    with tabserve.Registry.from_config(config) as registry:
        for name, model in fitted.items():
            result = tabserve.register(
                model, name=name, X_sample=frame.head(2000), classes=CLASSES, registry=registry
            )
            served.append((name, result.serving))
    return served


def one_round(ports: dict[bool, int], pids: dict[bool, int], number: int, seconds: float) -> dict[bool, dict]:
    """Each server's load result at each connection count; its CPU µs per request under ("cpu", n)."""
    figures: dict[bool, dict] = {True: {}, False: {}}
    order = [True, False] if number % 2 else [False, True]
    for connections in CONNECTIONS:
        for batching in order:
            url = f"http://127.0.0.1:{ports[batching]}/predict"
            result, cpu = driven(url, connections, seconds, pids[batching])
            figures[batching][connections] = result
            figures[batching]["cpu", connections] = cpu
    return figures


def ratios(f: dict[bool, dict]) -> dict[str, float]:
    on, off = f[True], f[False]
    return {
        "rate64": on[64].requests_per_s / off[64].requests_per_s,
        "p50_1": on[1].p50_ms / off[1].p50_ms,
        "rate8": on[8].requests_per_s / off[8].requests_per_s,
        "cpu64": on["cpu", 64] / off["cpu", 64],
        "cpu1": on["cpu", 1] / off["cpu", 1],
    }


def describe(name: str, number: int, f: dict[bool, dict]) -> str:
    parts = []
    for connections in CONNECTIONS:
        on, off = f[True][connections], f[False][connections]
        cpu_on, cpu_off = f[True]["cpu", connections], f[False]["cpu", connections]
        parts.append(
            f"{connections} conn {on.requests_per_s:,.0f} vs {off.requests_per_s:,.0f} req/s "
            f"(p50 {on.p50_ms:.3f} vs {off.p50_ms:.3f} ms, p99 {on.p99_ms:.2f} vs {off.p99_ms:.2f} ms, "
            f"CPU {cpu_on:.0f} vs {cpu_off:.0f} us/request)"
        )
    return f"{name} round {number}, on vs off: " + "; ".join(parts)


def joined_rows(log_file: Path) -> str:
    """The batching server's shutdown count of model calls and rows, as rows per call."""
    text = log_file.read_text() if log_file.exists() else ""
    found = re.search(r"micro-batching: (\d+) model calls scored (\d+) single rows", text)
    if not found:
        return "no micro-batching count logged"
    calls, rows = int(found.group(1)), int(found.group(2))
    return f"{calls:,} model calls scored {rows:,} rows over all runs: {rows / calls:.2f} rows per call"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each load run")
    parser.add_argument("--models", default="forest,histgb,lightgbm")
    args = parser.parse_args()
    print(f"tabserve micro-batching benchmark  {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"load generator: {load_tool()}; load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = folder / "bench.yaml"
        config.write_text(
            f"registry:\n  url: sqlite:///{folder / 'registry.db'}\n  artifacts: {folder / 'artifacts'}\n"
            "logging:\n  file: null\n  level: WARNING\n"
        )
        for name, how in register(config):
            print(f"{name}: {how}")
        results: dict[str, list[dict]] = {}
        for name in args.models.split(","):
            log_file = folder / f"{name}-batching.log"
            with ExitStack() as stack:
                ports, pids = {}, {}
                for batching in (True, False):
                    env = {k: v for k, v in os.environ.items() if not k.startswith("TABSERVE_")}
                    env["TABSERVE_CONFIG"] = str(config)
                    env["TABSERVE_SERVER__MICRO_BATCHING"] = "true" if batching else "false"
                    # Both log alike; the batching server's count of rows per call comes at shutdown.
                    env["TABSERVE_LOGGING__LEVEL"] = "INFO"
                    env["TABSERVE_LOGGING__FILE"] = str(log_file if batching else folder / f"{name}.log")
                    ports[batching] = free_port()
                    command = [
                        str(BIN / "tabserve"),
                        "serve",
                        "--model",
                        name,
                        "--port",
                        str(ports[batching]),
                    ]
                    pids[batching] = stack.enter_context(serving(command, ports[batching], env)).pid
                for port in ports.values():
                    drive(f"http://127.0.0.1:{port}/predict", BODY, 8, 1.0)  # warm up
                results[name] = []
                for number in range(1, args.rounds + 1):
                    results[name].append(one_round(ports, pids, number, args.seconds))
                    print(describe(name, number, results[name][-1]), flush=True)
            print(f"{name}: {joined_rows(log_file)}")
    print("\n| model | measure | median | rounds (min-max) | target |")
    print("| --- | --- | --- | --- | --- |")
    missed = 0
    for name, rounds in results.items():
        per_round = [ratios(f) for f in rounds]
        for key, what, op, bound in TARGETS:
            values = [r[key] for r in per_round]
            median = statistics.median(values)
            verdict = ""
            if op is not None:
                met = median >= bound if op == ">=" else median <= bound
                missed += not met
                verdict = f"{op} {bound:g}: {'pass' if met else '**miss**'}"
            print(f"| {name} | {what} | {median:.2f} | {min(values):.2f}-{max(values):.2f} | {verdict} |")
    errors = sum(
        f[b][c].errors for rounds in results.values() for f in rounds for b in f for c in CONNECTIONS
    )
    print(f"\nnon-2xx or socket errors during load: {errors}")
    print("all targets met" if not missed else f"{missed} target(s) missed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
