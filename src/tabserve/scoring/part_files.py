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
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not isinstance(rows, Answers):
            rows = Answers({str(name): rows[name].array for name in rows.columns}, len(rows))
        table = rows.table(self._schema)
        if self._writer is None:
            self._schema = table.schema
            # Dictionary pages only where values repeat (labels, the model): floats never do.
            repeated = [f.name for f in table.schema if pa.types.is_dictionary(f.type)]
            self._writer = pq.ParquetWriter(self.path, self._schema, use_dictionary=repeated)
        self._writer.write_table(table)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
