"""Console benchmark: page render times with 200 versions, and /predict with and without the console.

Trains iris once into a temporary registry, registers 199 more versions of it
(the metadata and model file of the first, so each page has 200 rows of real
data to show), adds 60 finished jobs, then:

- sends 2,000 rows through /predict (so the drift page has a window), then
  times each console page over several rounds of sequential requests on one
  keep-alive connection (client-side, so it includes HTTP on loopback) and
  reports the median, p95 and the spread of round medians against 100 ms;
- drives single-row POST /predict at 8 connections against `tabserve serve`
  and against the same app with the console's routes removed, alternating in
  rounds, and reports the throughput ratio (1.0 = the console costs nothing).

Prints pass/miss and always exits 0. About a minute.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import drive, load_tool
from serve import ROW, free_port, prepare, server

BIN = Path(sys.executable).parent
VERSIONS = 200
JOBS = 60
TARGET_MS = 100.0
PAGES = [
    "/",
    "/ui/models/iris",
    f"/ui/models/iris/versions/{VERSIONS}",
    f"/ui/models/iris/compare?a=1&b={VERSIONS}",
    "/ui/train",
    "/ui/jobs",
    "/ui/predict",
    "/ui/data",
    "/ui/drift",
    "/ui/models/iris?sort=cv_score&order=asc&page=4",
]


def fill_registry(env: dict) -> None:
    """Versions 2..200 as copies of version 1 (not promoted), and finished jobs."""
    from tabserve.config import load_settings
    from tabserve.registry import StoredFile, open_registry

    registry = open_registry(load_settings(environ=env))
    try:
        record = registry.get("iris", 1)
        fields = {
            name: getattr(record, name)
            for name in (
                "estimator", "params", "metrics", "cv_results", "feature_schema",
                "data_rows", "data_hash", "libraries", "config",
            )
        }  # fmt: skip
        model = registry.read_file(record)
        for number in range(2, VERSIONS + 1):
            metrics = {**fields["metrics"], "cv_score": fields["metrics"]["cv_score"] - number * 1e-4}
            registry.register(
                "iris", [StoredFile("model", "model.skops", model)], {**fields, "metrics": metrics}
            )
        for number in range(JOBS):
            job_id = f"{number:032x}"
            registry.metadata.create_job(job_id, "iris", {})
            registry.metadata.finish_job(job_id, "iris", status="succeeded", version=1, done=31, total=31)
    finally:
        registry.close()


def feed(port: int, rows: int = 2000) -> None:
    """Rows through POST /predict so the drift page has a window to show."""
    import json

    from sklearn.datasets import load_iris

    data = load_iris().data
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for start in range(0, rows, 100):
            batch = [data[i % len(data)].tolist() for i in range(start, start + 100)]
            connection.request(
                "POST", "/predict", json.dumps({"instances": batch}), {"content-type": "application/json"}
            )
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"/predict: {response.status}")
    finally:
        connection.close()


def render_cpu(env: dict, repeats: int = 20) -> dict:
    """The model page's server-side work, in-process CPU time (other processes on the machine barely move
    it): reading the 200 summaries, and rendering one page of 50 rows against all 200 rows at once."""
    from tabserve.config import load_settings
    from tabserve.registry import open_registry
    from tabserve.service.console import charts, render, views
    from tabserve.service.console.version_table import COLUMNS, page_of, sort_rows

    registry = open_registry(load_settings(environ=env))
    try:

        def cpu_ms(work) -> list[float]:
            times = []
            for _ in range(repeats):
                started = time.process_time()
                work()
                times.append((time.process_time() - started) * 1000)
            return times

        read = cpu_ms(lambda: registry.metadata.version_summaries("iris"))
        summaries = registry.metadata.version_summaries("iris")
        rows = [views.version_row(v) for v in reversed(summaries)]
        chart = charts.metric_line([(v["version"], v["metrics"].get("cv_score")) for v in summaries], "CV")
        shown, pager = page_of(sort_rows(rows, "version", "desc"), 1)

        def page(table: list) -> None:
            render.page(
                "model.html", active="models", title="Model iris", model="iris", count=len(rows),
                versions=[r["version"] for r in rows], rows=table, pager=pager, columns=COLUMNS,
                sort="version", order="desc", chart=chart, chart_title="CV", production=1, serving=1,
            )  # fmt: skip

        page(shown)  # compile the template
        return {"read 200 summaries": read, "render 50 rows": cpu_ms(lambda: page(shown)),
                "render all 200 rows": cpu_ms(lambda: page(rows))}  # fmt: skip
    finally:
        registry.close()


def time_page(port: int, path: str, rounds: int, per_round: int) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for _ in range(3):  # warm up (templates compiled, data summary cached)
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise RuntimeError(f"{path}: {response.status} {body[:200]!r}")
        medians, every = [], []
        for _ in range(rounds):
            times = []
            for _ in range(per_round):
                started = time.perf_counter()
                connection.request("GET", path)
                response = connection.getresponse()
                response.read()
                times.append((time.perf_counter() - started) * 1000)
            medians.append(statistics.median(times))
            every.extend(times)
    finally:
        connection.close()
    every.sort()
    return {
        "median": statistics.median(medians),
        "p95": every[int(0.95 * (len(every) - 1))],
        "spread": (min(medians), max(medians)),
        "bytes": len(body),
    }


def predict_rounds(env: dict, rounds: int, seconds: float) -> list[float]:
    ratios = []
    for number in range(1, rounds + 1):
        rates = {}
        for name in ("without console", "tabserve serve"):
            port = free_port()
            command = (
                [sys.executable, str(Path(__file__).with_name("console_off_app.py")), str(port)]
                if name == "without console"
                else [str(BIN / "tabserve"), "serve", "--port", str(port)]
            )
            with server(command, port, env):
                url = f"http://127.0.0.1:{port}/predict"
                drive(url, ROW, 8, 1.0)
                rates[name] = drive(url, ROW, 8, seconds).requests_per_s
        ratios.append(rates["tabserve serve"] / rates["without console"])
        print(
            f"predict round {number}: without console {rates['without console']:,.0f} req/s, "
            f"with {rates['tabserve serve']:,.0f} req/s (ratio {ratios[-1]:.3f})"
        )
    return ratios


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--per-round", type=int, default=20)
    parser.add_argument("--predict-rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}")
    print(f"load generator: {load_tool()}")
    with tempfile.TemporaryDirectory() as folder:
        env, _config = prepare(Path(folder))
        fill_registry(env)
        print("\nmodel page, server-side CPU time in-process (20 repeats):")
        for name, times in render_cpu(env).items():
            print(
                f"  {name:22} median {statistics.median(times):6.1f} ms "
                f"(range {min(times):.1f}-{max(times):.1f})"
            )
        port = free_port()
        misses = 0
        with server([str(BIN / "tabserve"), "serve", "--port", str(port)], port, env):
            feed(port)
            print(
                f"\npages with {VERSIONS} versions and {JOBS} jobs ({args.rounds} rounds x {args.per_round}):"
            )
            print(f"{'page':44} {'median':>9} {'p95':>9} {'rounds':>17} {'KiB':>6}  target")
            for path in PAGES:
                result = time_page(port, path, args.rounds, args.per_round)
                ok = result["median"] < TARGET_MS
                misses += not ok
                low, high = result["spread"]
                print(
                    f"{path:44} {result['median']:7.1f}ms {result['p95']:7.1f}ms "
                    f"{low:6.1f}-{high:6.1f} ms {result['bytes'] / 1024:6.0f}  "
                    f"< {TARGET_MS:.0f} ms {'pass' if ok else 'MISS'}"
                )
        print()
        ratios = predict_rounds(env, args.predict_rounds, args.seconds)
        ratio = statistics.median(ratios)
        ok = ratio >= 0.95
        print(
            f"predict with/without console: median ratio {ratio:.3f} "
            f"(rounds {min(ratios):.3f}-{max(ratios):.3f}); target >= 0.95 {'pass' if ok else 'MISS'}"
        )
        print(f"\n{'all pass' if misses == 0 and ok else 'some MISS'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
