"""How fast does `tabserve score` stream a large Parquet file, and does its memory stay flat?

Trains iris into a temporary registry, writes Parquet files of iris-shaped rows
(1,000,000 and --rows, by row groups so this script stays small too), then in
fresh subprocesses (so ru_maxrss is theirs alone):

- `tabserve score` of each file to a Parquet output folder: rows/s and peak RSS;
- the in-process limit: the same predictor's ``predict`` on the same chunks,
  already in memory as validated batches (no reading, validating or writing).

    .venv/bin/python benchmarks/score.py                  # 2,000,000 rows
    .venv/bin/python benchmarks/score.py --rows 10000000
    .venv/bin/python benchmarks/score.py --dask           # and the file as parts on a 2-worker LocalCluster

Not a test: run it by hand and record the numbers in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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
    from tabserve.cli import main

    start = time.perf_counter()
    code = main(["-c", config, "score", "--input", path, "--output", output, "--key-columns", "id",
                 "--chunk-rows", str(chunk_rows), "--json", *dask])  # fmt: skip
    return {"code": code, "seconds": time.perf_counter() - start}


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
    start = time.perf_counter()
    for batch in batches:
        predictor.predict(batch)
    return {"code": 0, "seconds": time.perf_counter() - start}


def run_child(*args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, env=env
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    parser.add_argument(
        "--dask", action="store_true", help="also score the large file on a 2-worker LocalCluster"
    )
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        result = (
            child_score(*rest[:3], int(rest[3])) if kind == "score" else child_limit(*rest[:2], int(rest[2]))
        )
        result["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return

    from tabserve.config import load_settings
    from tabserve.workflow import train_and_register

    with tempfile.TemporaryDirectory(prefix="tabserve-score-bench-") as folder:
        root = Path(folder)
        config = root / "bench.yaml"
        config.write_text(
            f"registry: {{url: 'sqlite:///{root}/registry.db', artifacts: '{root}/artifacts'}}\n"
            "search: {n_jobs: 1}\nlogging: {file: null}\n"
        )
        train_and_register(load_settings(config, environ={}))
        results = {}
        for rows in sorted({1_000_000, args.rows}):
            path = root / f"rows-{rows}.parquet"
            write_rows(path, rows)
            scored = run_child(
                "score", str(config), str(path), str(root / f"out-{rows}"), str(args.chunk_rows)
            )
            results[rows] = {"score": scored, "rows_per_s": rows / scored["seconds"]}
            print(f"score {rows:>10,} rows: {rows / scored['seconds']:>12,.0f} rows/s  "
                  f"peak RSS {scored['max_rss_mb']:.0f} MB", flush=True)  # fmt: skip
        limit = run_child("limit", str(config), str(root / f"rows-{args.rows}.parquet"), str(args.chunk_rows))
        limit_rate = args.rows / limit["seconds"]
        big, small = results[args.rows], results[1_000_000]
        print(f"in-process limit (predict on in-memory chunks): {limit_rate:,.0f} rows/s")
        print(f"score / limit at {args.rows:,} rows: {big['rows_per_s'] / limit_rate:.2f}")
        rss = big["score"]["max_rss_mb"] / small["score"]["max_rss_mb"]
        print(f"peak RSS {args.rows:,} / 1,000,000 rows: {rss:.2f}")
        if args.dask:
            on_dask(args, str(config), root)


def on_dask(args: argparse.Namespace, config: str, root: Path) -> None:
    """The large file, split in parts so both workers have work, scored on a 2-worker LocalCluster."""
    import pyarrow.parquet as pq
    from dask.distributed import LocalCluster

    source = pq.ParquetFile(root / f"rows-{args.rows}.parquet", pre_buffer=False)
    folder = root / "parts"
    folder.mkdir()
    for group in range(source.num_row_groups):
        pq.write_table(source.read_row_group(group), folder / f"part-{group:04d}.parquet")
    env_path = str(Path(__file__).resolve().parents[1] / "src")
    os.environ["PYTHONPATH"] = env_path  # the workers import this checkout's tabserve
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        local = run_child("score", config, str(folder), str(root / "out-parts-local"), str(args.chunk_rows))
        remote = run_child("score", config, str(folder), str(root / "out-parts-dask"), str(args.chunk_rows),
                           "--dask-address", cluster.scheduler_address)  # fmt: skip
    print(f"{source.num_row_groups} files, local: {args.rows / local['seconds']:,.0f} rows/s; "
          f"2-worker LocalCluster: {args.rows / remote['seconds']:,.0f} rows/s "
          f"({local['seconds'] / remote['seconds']:.2f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
