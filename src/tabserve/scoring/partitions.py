"""Units of resumable work: each input file, or each range of rows of a SQL source.

A partition's id depends only on where its rows come from (the file's location,
the SQL source and the range's start), so a rerun finds the same ids and skips
those already marked done.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
from dataclasses import dataclass

from tabserve.config import ScoreSource
from tabserve.errors import DataError
from tabserve.scoring import s3

_EXTENSIONS = {"csv": (".csv", ".csv.gz", ".txt"), "parquet": (".parquet", ".pq")}


@dataclass(frozen=True)
class Partition:
    """One file (``location``) or one SQL range (``start``, ``rows``, ordered by ``order``)."""

    id: str
    kind: str  # csv | parquet | sql
    location: str  # a local path or s3:// URL; for sql the SQLAlchemy URL
    sql: str | None = None  # the base SELECT of a SQL source
    order: tuple[str, ...] = ()
    start: int = 0
    rows: int = 0


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def _file_id(location: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", os.path.basename(location.rstrip("/")))[:60]
    return f"{stem}-{_short_hash(location)}"


def _local_files(path: str, kind: str) -> list[str]:
    expanded = os.path.expanduser(path)
    if any(c in expanded for c in "*?["):
        found = [p for p in glob.glob(expanded, recursive=True) if os.path.isfile(p)]
    elif os.path.isdir(expanded):
        found = [
            os.path.join(root, name)
            for root, _, names in os.walk(expanded)
            for name in names
            if name.lower().endswith(_EXTENSIONS[kind])
        ]
    elif os.path.isfile(expanded):
        found = [expanded]
    else:
        raise DataError(f"score source: no file, folder or glob matches the configured {kind} path")
    return sorted(os.path.abspath(p) for p in found)


def file_partitions(source: ScoreSource, s3_endpoint_url: str | None) -> list[Partition]:
    """A partition per file of a csv or parquet source (a file, a folder, a glob; local or S3)."""
    assert source.path is not None
    if source.path.startswith("s3://"):
        found = s3.list_matching(source.path, s3_endpoint_url)
        if not source.path.endswith(_EXTENSIONS[source.source]):
            found = [f for f in found if f.lower().endswith(_EXTENSIONS[source.source])]
    else:
        found = _local_files(source.path, source.source)
    if not found:
        raise DataError(f"score source: the configured {source.source} path matches no {source.source} file")
    return [Partition(_file_id(location), source.source, location) for location in found]


def sql_partitions(source: ScoreSource, key_columns: list[str], partition_rows: int) -> list[Partition]:
    """Ranges of ``partition_rows`` rows of a SQL table or query, in a fixed order for resuming.

    The order is the key columns, or every column when there are none, so each
    range reads the same rows on every run and on any worker.
    """
    from tabserve.scoring.sql_io import base_select, columns_and_count

    assert source.url is not None
    sql = base_select(source.url, source.table, source.query)
    columns, count = columns_and_count(source.url, sql)
    missing = [c for c in key_columns if c not in columns]
    if missing:
        raise DataError(f"score.key_columns: {', '.join(missing)} not in the SQL source")
    order = tuple(key_columns or columns)
    ident = _short_hash(f"{source.url}\x1f{sql}")
    return [
        Partition(f"sql-{ident}-{start:012d}", "sql", source.url, sql, order, start, partition_rows)
        for start in range(0, count, partition_rows)
    ]


def plan(
    sources: list[ScoreSource], key_columns: list[str], partition_rows: int, s3_endpoint_url: str | None
) -> list[Partition]:
    """Every partition of every source, in a stable order."""
    planned: list[Partition] = []
    for source in sources:
        if source.source == "sql":
            planned.extend(sql_partitions(source, key_columns, partition_rows))
        else:
            planned.extend(file_partitions(source, s3_endpoint_url))
    ids = [p.id for p in planned]
    if len(set(ids)) != len(ids):
        raise DataError("score.sources: two sources name the same input")
    return planned
