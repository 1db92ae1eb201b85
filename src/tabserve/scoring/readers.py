"""Read one partition in chunks of at most ``chunk_rows`` rows: memory follows the chunk, not the file.

CSV and SQL chunks are pandas DataFrames; Parquet chunks stay Arrow record
batches, so an all-numeric chunk reaches the model and the answers reach a
Parquet output without a pandas copy on the way.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from tabserve.errors import DataError
from tabserve.scoring import s3
from tabserve.scoring.partitions import Partition

if TYPE_CHECKING:
    import pyarrow as pa

    Chunk = pd.DataFrame | pa.RecordBatch
else:
    Chunk = Any

log = logging.getLogger(__name__)
READ_BUFFER_BYTES = 1 << 18


@contextmanager
def _local_copy(location: str, s3_endpoint_url: str | None) -> Iterator[str]:
    """A local path for the file: itself, or an S3 object downloaded to a temporary file."""
    if not location.startswith("s3://"):
        yield location
        return
    with tempfile.TemporaryDirectory(prefix="tabserve-score-") as folder:
        target = Path(folder) / "input"
        s3.download(location, target, s3_endpoint_url)
        yield str(target)


def chunks(
    partition: Partition, chunk_rows: int, s3_endpoint_url: str | None, columns: set[str] | None = None
) -> Iterator[Chunk]:
    """The partition's rows in chunks of at most ``chunk_rows`` rows, in file order.

    ``columns``: the ones the scoring uses; a Parquet file reads only those it has (the rest are
    never decoded), other sources every column.
    """
    if partition.kind == "sql":
        from tabserve.scoring.sql_io import read_range

        assert partition.sql is not None
        yield from read_range(
            partition.location, partition.sql, partition.order, partition.start, partition.rows, chunk_rows
        )
        return
    with _local_copy(partition.location, s3_endpoint_url) as path:
        if partition.kind == "csv":
            yield from _csv_chunks(path, partition, chunk_rows)
        else:
            yield from _parquet_chunks(path, partition, chunk_rows, columns)


def _csv_chunks(path: str, partition: Partition, chunk_rows: int) -> Iterator[pd.DataFrame]:
    try:
        with pd.read_csv(path, chunksize=chunk_rows) as reader:
            yield from reader
    except pd.errors.EmptyDataError:
        return
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        log.error("cannot read %s as CSV: %s", partition.location, type(exc).__name__)
        raise DataError(f"score: input partition {partition.id} is not a readable CSV") from None


def _parquet_chunks(
    path: str, partition: Partition, chunk_rows: int, columns: set[str] | None
) -> Iterator[pa.RecordBatch]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        # Without pre-buffering: with it, Arrow keeps every row group it has read until the file closes.
        # A buffered stream: unbuffered, each chunk costs a read of its whole column chunk again.
        parquet = pq.ParquetFile(path, pre_buffer=False, buffer_size=READ_BUFFER_BYTES)
        names = parquet.schema_arrow.names
        wanted = names if columns is None else [n for n in names if n in columns]
        # One thread: the chunks are read beside the scoring already (see prefetched), and Arrow's
        # pool costs more than it saves on columns this narrow.
        yield from parquet.iter_batches(batch_size=chunk_rows, columns=wanted, use_threads=False)
    except (pa.ArrowException, OSError) as exc:
        log.error("cannot read %s as Parquet: %s", partition.location, type(exc).__name__)
        raise DataError(f"score: input partition {partition.id} is not a readable Parquet file") from None
