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
            options = _parquet_options(self._schema, rows.keys)
            self._writer = pq.ParquetWriter(self.path, self._schema, **options)
        self._writer.write_table(table)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _parquet_options(schema: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    """How a part is encoded (never what it holds): dictionary pages only where values repeat (labels,
    the model, its version), and min/max statistics for the key columns only. The answer columns'
    statistics would let a reader skip nothing (with rows in input order, every row group holds
    about every label and the whole range of probabilities or values, and one model and version),
    yet cost the writer about as much as compressing those columns."""
    import pyarrow as pa

    repeated = [f.name for f in schema if pa.types.is_dictionary(f.type) or f.name == "version"]
    return {"use_dictionary": repeated, "write_statistics": [k for k in keys if k in schema.names]}
