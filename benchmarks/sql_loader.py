"""How fast does a large SQL table become a training frame? pandas.read_sql vs the candidates.

Creates (once) a 1,000,000-row x 10-column table in MariaDB and PostgreSQL with
each server's bulk loader, then reads it back with each loader in a fresh
subprocess, so peak memory (ru_maxrss) belongs to that loader alone.

    .venv/bin/python benchmarks/sql_loader.py                 # both servers, every loader
    .venv/bin/python benchmarks/sql_loader.py --rows 200000 --backends postgresql

URLs come from TABSERVE_TEST_MARIADB_URL / TABSERVE_TEST_POSTGRES_URL (the
local servers by default). Not a test: run it by hand and record the numbers
in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

URLS = {
    "mariadb": os.environ.get(
        "TABSERVE_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/tabserve_test"
    ),
    "postgresql": os.environ.get(
        "TABSERVE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/tabserve_test"
    ),
}
LOADERS = [
    "pandas.read_sql",
    "pandas.read_sql chunks (server-side cursor)",
    "connectorx",
    "tabserve.read_sql_frame",
]
COLUMNS = ["id", "f1", "f2", "f3", "f4", "f5", "f6", "f7", "n1", "label"]
CHILD_TIMEOUT_S = 300


def make_frame(rows: int):
    """Ten columns like a real training table: an id, seven floats, an int and a string label."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"id": np.arange(rows, dtype=np.int64)})
    for i in range(1, 8):
        frame[f"f{i}"] = rng.normal(size=rows).round(6)
    frame["n1"] = rng.integers(0, 1000, size=rows)
    frame["label"] = np.array(["setosa", "versicolor", "virginica"])[rng.integers(0, 3, size=rows)]
    return frame


def table_name(rows: int) -> str:
    return f"bench_rows_{rows}"


def ensure_table(backend: str, url: str, rows: int) -> None:
    """Create and bulk-load the table unless it is already there with the right row count."""
    import sqlalchemy as sa

    table = table_name(rows)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        if sa.inspect(conn).has_table(table):
            count = conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar()
            if count == rows:
                print(f"{backend}: {table} already has {rows} rows", file=sys.stderr)
                return
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
        label = "VARCHAR(16)"
        floats = ", ".join(f"f{i} DOUBLE PRECISION" for i in range(1, 8))
        conn.execute(
            sa.text(f"CREATE TABLE {table} (id BIGINT PRIMARY KEY, {floats}, n1 INTEGER, label {label})")
        )
        conn.commit()
    engine.dispose()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        csv_path = Path(folder) / "rows.csv"
        make_frame(rows).to_csv(csv_path, index=False, header=False)
        if backend == "postgresql":
            _copy_postgres(url, table, csv_path)
        else:
            _load_mariadb(url, table, csv_path)
    print(
        f"{backend}: loaded {rows} rows into {table} in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )


def _copy_postgres(url: str, table: str, csv_path: Path) -> None:
    import psycopg
    import sqlalchemy as sa

    parsed = sa.make_url(url)
    with (
        psycopg.connect(
            host=parsed.host,
            port=parsed.port or 5432,
            user=parsed.username,
            password=parsed.password,
            dbname=parsed.database,
        ) as conn,
        conn.cursor() as cur,
    ):
        with (
            cur.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN (FORMAT csv)") as copy,
            open(csv_path, "rb") as handle,
        ):
            while block := handle.read(1 << 20):
                copy.write(block)
        cur.execute(f"ANALYZE {table}")


def _load_mariadb(url: str, table: str, csv_path: Path) -> None:
    import pymysql
    import sqlalchemy as sa

    parsed = sa.make_url(url)
    conn = pymysql.connect(
        host=parsed.host,
        port=parsed.port or 3306,
        user=parsed.username,
        password=parsed.password or "",
        database=parsed.database,
        local_infile=True,
    )
    try:
        with conn.cursor() as cur:
            try:
                cur.execute(
                    f"LOAD DATA LOCAL INFILE %s INTO TABLE {table} FIELDS TERMINATED BY ',' "
                    f"LINES TERMINATED BY '\\n' ({', '.join(COLUMNS)})",
                    (str(csv_path),),
                )
            except pymysql.err.MySQLError as exc:  # local_infile off on the server: multi-row inserts
                print(f"mariadb: LOAD DATA LOCAL refused ({exc}); using multi-row INSERT", file=sys.stderr)
                _insert_mariadb(cur, table, csv_path)
        conn.commit()
    finally:
        conn.close()


def _insert_mariadb(cur, table: str, csv_path: Path) -> None:
    import pandas as pd

    placeholders = ", ".join(["%s"] * len(COLUMNS))
    statement = f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({placeholders})"
    for chunk in pd.read_csv(csv_path, header=None, names=COLUMNS, chunksize=20_000):
        cur.executemany(statement, chunk.itertuples(index=False, name=None))  # pymysql batches these


# -- one measurement, in a child process ------------------------------------------------------------


def _load(loader: str, url: str, table: str):
    import pandas as pd
    import sqlalchemy as sa

    if loader == "pandas.read_sql":
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            return pd.read_sql(sa.text(f"SELECT * FROM {table}"), conn)
    if loader == "pandas.read_sql chunks (server-side cursor)":
        engine = sa.create_engine(url)
        with engine.connect().execution_options(stream_results=True) as conn:
            chunks = pd.read_sql(sa.text(f"SELECT * FROM {table}"), conn, chunksize=100_000)
            return pd.concat(list(chunks), ignore_index=True)
    if loader == "connectorx":
        import connectorx

        from tabserve.sql import connectorx_url

        return connectorx.read_sql(connectorx_url(url), f"SELECT * FROM {table}", return_type="pandas")
    if loader == "tabserve.read_sql_frame":
        from tabserve.sql import read_sql_frame

        return read_sql_frame(url, table=table)
    raise SystemExit(f"unknown loader {loader!r}")


def measure(loader: str, url: str, table: str) -> None:
    """Print one JSON line: seconds, shape, and peak RSS over the post-import baseline."""
    import connectorx  # noqa: F401  (import cost is not load cost)
    import pandas  # noqa: F401
    import psutil
    import psycopg  # noqa: F401
    import pymysql  # noqa: F401
    import sqlalchemy  # noqa: F401

    import tabserve.sql  # noqa: F401

    process = psutil.Process()
    baseline = process.memory_info().rss
    peak = [baseline]
    done = threading.Event()

    def sample() -> None:  # ru_maxrss alone would include the imports' high-water mark
        while not done.wait(0.005):
            peak[0] = max(peak[0], process.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    frame = _load(loader, url, table)
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    peak[0] = max(peak[0], process.memory_info().rss)
    print(
        json.dumps(
            {
                "rows": len(frame),
                "columns": frame.shape[1],
                "seconds": seconds,
                "baseline_mb": baseline / 2**20,
                "peak_mb": peak[0] / 2**20,
                "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "frame_mb": frame.memory_usage(deep=True).sum() / 2**20,
            }
        )
    )


def run_child(loader: str, url: str, table: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--measure", loader, "--url", url, "--table", table],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
        check=False,
    )
    if out.returncode != 0:
        return {
            "error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"
        }
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backends", default="mariadb,postgresql")
    parser.add_argument("--loaders", default=",".join(LOADERS), help="comma-separated subset")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--table", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure, args.url, args.table)
        return

    print(f"# {datetime.date.today()}  {platform.node()}  {platform.processor() or platform.machine()}")
    print(f"# {os.cpu_count()} CPUs, Python {platform.python_version()}, rows={args.rows}")
    print("| backend | loader | seconds | rows/s | peak RSS growth MB | frame MB | vs pandas.read_sql |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for backend in args.backends.split(","):
        url = URLS[backend]
        ensure_table(backend, url, args.rows)
        baseline_seconds = None
        for loader in args.loaders.split(","):
            result = run_child(loader, url, table_name(args.rows))
            if "error" in result:
                print(f"| {backend} | {loader} | error: {result['error']} | | | | |", flush=True)
                continue
            assert result["rows"] == args.rows and result["columns"] == len(COLUMNS), result
            if loader == "pandas.read_sql":
                baseline_seconds = result["seconds"]
            speedup = f"{baseline_seconds / result['seconds']:.1f}x" if baseline_seconds else "-"
            print(
                f"| {backend} | {loader} | {result['seconds']:.2f} | {args.rows / result['seconds']:,.0f} "
                f"| {result['peak_mb'] - result['baseline_mb']:.0f} | {result['frame_mb']:.0f} | {speedup} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
