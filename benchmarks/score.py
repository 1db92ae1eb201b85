"""How fast does `tabserve score` stream a large Parquet file, and does its memory stay flat?

Trains iris into a temporary registry, writes Parquet files of iris-shaped rows
(1,000,000 and --rows, by row groups so this script stays small too), then, in
each of --rounds rounds, in fresh subprocesses (so ru_maxrss is theirs alone):

- `tabserve score` of each file to a Parquet output folder: rows/s and peak RSS,
  both cold (from the process's start: imports, registry, version, scoring) and
  warm (the command alone, its libraries imported first, as in a long job the
  fixed start-up is spread over every row);
- the in-process limit: the same predictor's ``predict`` on the same chunks,
  already in memory as validated batches (no reading, validating or writing).

With --baseline SRC (another checkout's ``src``, e.g. main's) each round scores
with that code too, interleaved, so before and after are compared in one run.
A figure is the median of the rounds with the spread (min-max) beside it.

    .venv/bin/python benchmarks/score.py                  # 2,000,000 rows
    .venv/bin/python benchmarks/score.py --rows 10000000 --rounds 3 --baseline ../main/src
    .venv/bin/python benchmarks/score.py --dask           # and the file as parts on a 2-worker LocalCluster

Not a test: run it by hand and record the numbers in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STARTED = time.perf_counter()

GROUP_ROWS = 250_000
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def write_rows(path: Path, rows: int) -> None:
    """Iris rows resampled with a little noise, plus an id column, one row group at a time."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tabserve.data import load_iris_frame

    iris = load_iris_frame()[FEATURES].to_numpy()
    rng = np.random.default_rng(0)
    writer = None
    for start in range(0, rows, GROUP_ROWS):
        count = min(GROUP_ROWS, rows - start)
        values = iris[rng.integers(0, len(iris), count)] + rng.normal(0, 0.1, (count, 4))
        columns = {"id": np.arange(start, start + count)} | {n: values[:, i] for i, n in enumerate(FEATURES)}
        table = pa.table(columns)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()


def child_score(config: str, path: str, output: str, chunk_rows: int, *dask: str) -> dict:
    import onnxruntime  # noqa: F401  # the libraries every run imports: warm excludes them
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401
    import sqlalchemy  # noqa: F401

    import tabserve.predictor
    import tabserve.registry
    import tabserve.scoring.runner  # noqa: F401
    from tabserve.cli import main

    start, cpu = time.perf_counter(), time.process_time()
    code = main(["-c", config, "score", "--input", path, "--output", output, "--key-columns", "id",
                 "--chunk-rows", str(chunk_rows), "--json", *dask])  # fmt: skip
    end = time.perf_counter()
    used = time.process_time() - cpu
    return {"code": code, "seconds": end - start, "cold_seconds": end - STARTED, "cpu_seconds": used}


def child_limit(config: str, path: str, chunk_rows: int) -> dict:
    import pyarrow.parquet as pq

    from tabserve.config import load_settings
    from tabserve.predictor import Predictor
    from tabserve.registry import open_registry
    from tabserve.scoring.rows import split_chunk

    settings = load_settings(config)
    registry = open_registry(settings)
    predictor = Predictor.load(registry, settings.model)
    registry.close()
    batches = [
        split_chunk(b.to_pandas(), predictor.schema, 0).batch
        for b in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows)
    ]
    start, cpu = time.perf_counter(), time.process_time()
    for batch in batches:
        predictor.predict(batch)
    return {"code": 0, "seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu}


SRC = str(Path(__file__).resolve().parents[1] / "src")


def run_child(*args: str, src: str = SRC) -> dict:
    env = {**os.environ, "PYTHONPATH": src}
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, env=env
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def spread(values: list[float], fmt: str = ",.0f") -> str:
    return f"{statistics.median(values):{fmt}} ({min(values):{fmt}}-{max(values):{fmt}})"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--baseline", metavar="SRC", help="another checkout's src/ to compare with")
    parser.add_argument(
        "--dask", action="store_true", help="also score the large file on a 2-worker LocalCluster"
    )
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.child:
        print(f"load average at the start: {Path('/proc/loadavg').read_text().split()[:3]}", flush=True)
    if args.child:
        kind, *rest = args.child
        result = (
            child_score(*rest[:3], int(rest[3]), *rest[4:])
            if kind == "score"
            else child_limit(*rest[:2], int(rest[2]))
        )
        result["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return

    from tabserve.config import load_settings
    from tabserve.workflow import train_and_register

    trees = {"this": SRC} | ({"baseline": str(Path(args.baseline).resolve())} if args.baseline else {})
    sizes = sorted({1_000_000, args.rows})
    with tempfile.TemporaryDirectory(prefix="tabserve-score-bench-") as folder:
        root = Path(folder)
        config = root / "bench.yaml"
        config.write_text(
            f"registry: {{url: 'sqlite:///{root}/registry.db', artifacts: '{root}/artifacts'}}\n"
            "search: {n_jobs: 1}\nlogging: {file: null}\n"
        )
        train_and_register(load_settings(config, environ={}))
        for rows in sizes:
            write_rows(root / f"rows-{rows}.parquet", rows)
        runs: dict[tuple[str, int], list[dict]] = {(tree, rows): [] for tree in trees for rows in sizes}
        limits: list[float] = []
        limit_cpus: list[float] = []
        for number in range(1, args.rounds + 1):
            for tree in sorted(trees, reverse=number % 2 == 0):  # alternate who goes first
                for rows in sizes:
                    out = root / f"out-{tree}-{rows}"
                    scored = run_child("score", str(config), str(root / f"rows-{rows}.parquet"), str(out),
                                       str(args.chunk_rows), src=trees[tree])  # fmt: skip
                    shutil.rmtree(out)
                    runs[tree, rows].append(scored)
                    warm, cold = rows / scored["seconds"], rows / scored["cold_seconds"]
                    print(
                        f"round {number} {tree:>8} {rows:>10,} rows: warm {warm:>10,.0f} rows/s, "
                        f"cold {cold:>10,.0f} rows/s, peak RSS {scored['max_rss_mb']:.0f} MB",
                        flush=True,
                    )
            limit = run_child(
                "limit", str(config), str(root / f"rows-{args.rows}.parquet"), str(args.chunk_rows)
            )
            limits.append(args.rows / limit["seconds"])
            limit_cpus.append(limit["cpu_seconds"])
            print(f"round {number} in-process limit: {limits[-1]:,.0f} rows/s", flush=True)
        report(args.rows, trees, runs, limits, limit_cpus)
        if args.dask:
            on_dask(args, str(config), root)
        print(f"load average at the end: {Path('/proc/loadavg').read_text().split()[:3]}")


def report(rows: int, trees: dict, runs: dict, limits: list[float], limit_cpus: list[float]) -> None:
    """Per tree: rows/s and its ratio to the same round's limit (median, spread), RSS 10 M / 1 M,
    and CPU: the limit's CPU seconds over the command's (on a busy host, the figure that moves least)."""
    print(f"\nin-process limit: {spread(limits)} rows/s")
    for tree in trees:
        big, small = runs[tree, rows], runs[tree, 1_000_000]
        warm = [rows / r["seconds"] for r in big]
        cold = [rows / r["cold_seconds"] for r in big]
        warm_ratio = spread([w / x for w, x in zip(warm, limits, strict=True)], ".2f")
        cold_ratio = spread([c / x for c, x in zip(cold, limits, strict=True)], ".2f")
        rss = spread([b["max_rss_mb"] / s["max_rss_mb"] for b, s in zip(big, small, strict=True)], ".2f")
        cpu = spread([c / r["cpu_seconds"] for c, r in zip(limit_cpus, big, strict=True)], ".2f")
        print(
            f"{tree}: CPU of the limit / CPU of the command (warm) {cpu}; "
            f"warm {spread(warm)} rows/s = {warm_ratio}x the limit; "
            f"cold {spread(cold)} rows/s = {cold_ratio}x; peak RSS {rows:,} / 1,000,000 rows: {rss}"
        )


def on_dask(args: argparse.Namespace, config: str, root: Path) -> None:
    """The large file, split in parts so both workers have work, scored on a 2-worker LocalCluster
    and locally, in alternating order for --rounds rounds."""
    import pyarrow.parquet as pq
    from dask.distributed import LocalCluster

    source = pq.ParquetFile(root / f"rows-{args.rows}.parquet", pre_buffer=False)
    folder = root / "parts"
    folder.mkdir()
    for group in range(source.num_row_groups):
        pq.write_table(source.read_row_group(group), folder / f"part-{group:04d}.parquet")
    os.environ["PYTHONPATH"] = SRC  # the workers import this checkout's tabserve
    seconds: dict[str, list[float]] = {"local": [], "dask": []}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        for number in range(1, args.rounds + 1):
            for where in sorted(seconds, reverse=number % 2 == 0):
                out = root / f"out-parts-{where}"
                dask = ["--dask-address", cluster.scheduler_address] if where == "dask" else []
                done = run_child("score", config, str(folder), str(out), str(args.chunk_rows), *dask)
                shutil.rmtree(out)
                seconds[where].append(done["seconds"])
                print(f"round {number} {where:>5}: {args.rows / done['seconds']:,.0f} rows/s", flush=True)
    local, remote = ([args.rows / s for s in seconds[w]] for w in ("local", "dask"))
    ratios = [d / x for d, x in zip(remote, local, strict=True)]
    print(f"{source.num_row_groups} files, local: {spread(local)} rows/s; 2-worker LocalCluster: "
          f"{spread(remote)} rows/s = {spread(ratios, '.2f')}x the local run")  # fmt: skip


if __name__ == "__main__":
    main()
