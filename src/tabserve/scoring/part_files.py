"""One output file written chunk by chunk: CSV appended with one header, or Parquet row groups."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from tabserve.errors import DataError


class PartFile:
    """Created on the first write; every later chunk must have the same columns (and Parquet types)."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path = path
        self.fmt = fmt
        self._writer: Any = None
        self._schema: Any = None
        self._started = False

    def write(self, frame: pd.DataFrame) -> None:
        if self.fmt == "csv":
            frame.to_csv(self.path, mode="a" if self._started else "w", header=not self._started, index=False)
            self._started = True
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        # One thread: a chunk is small, and a pool per chunk costs more than it saves.
        table = pa.Table.from_pandas(frame, preserve_index=False, nthreads=1)
        if self._writer is None:
            self._schema = table.schema
            # Dictionary pages only where values repeat (labels, the model): floats never do.
            repeated = [f.name for f in table.schema if pa.types.is_dictionary(f.type)]
            self._writer = pq.ParquetWriter(self.path, self._schema, use_dictionary=repeated)
        elif not table.schema.equals(self._schema):
            try:
                table = table.cast(self._schema)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
                raise DataError("score: a key column changes type between chunks of one input") from None
        self._writer.write_table(table)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
