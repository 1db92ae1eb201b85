"""One output file written chunk by chunk: CSV appended with one header, or Parquet row groups."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from tabserve.scoring.answer_columns import Answers


class PartFile:
    """Created on the first write; every later chunk must have the same columns (and Parquet types)."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path = path
        self.fmt = fmt
        self._writer: Any = None
        self._schema: Any = None
        self._started = False

    def write(self, rows: Answers | pd.DataFrame) -> None:
        """Append answers (or, for the rejects, a DataFrame)."""
        if self.fmt == "csv":
            frame = rows.frame() if isinstance(rows, Answers) else rows
            frame.to_csv(self.path, mode="a" if self._started else "w", header=not self._started, index=False)
            self._started = True
            return
        import pyarrow.parquet as pq

        if not isinstance(rows, Answers):
            rows = Answers({str(name): rows[name].array for name in rows.columns}, len(rows))
        table = rows.table(self._schema)
        if self._writer is None:
            self._schema = table.schema
            self._writer = pq.ParquetWriter(self.path, self._schema, **_parquet_options(self._schema))
        self._writer.write_table(table)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _parquet_options(schema: Any) -> dict[str, Any]:
    """How a part is encoded (never what it holds): dictionary pages only where values repeat (labels,
    the model, its version), and no min/max statistics for float columns: with rows in input order,
    every row group's probabilities or values span about the whole range, so they would let a reader
    skip nothing, and they cost the writer about as much as the floats' compression."""
    import pyarrow as pa

    repeated = [f.name for f in schema if pa.types.is_dictionary(f.type) or f.name == "version"]
    counted = [f.name for f in schema if not pa.types.is_floating(f.type)]
    return {"use_dictionary": repeated, "write_statistics": counted}
