"""A chunk's answers as whole columns, turned into what its sink writes: an Arrow table or a DataFrame.

A Parquet part takes its schema (pandas metadata included) from its first
chunk's DataFrame, so every part file reads back into the same frame; later
chunks are built straight into that schema from the columns, without pandas.
CSV and SQL sinks take the DataFrame.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tabserve.errors import DataError

if TYPE_CHECKING:
    import pyarrow as pa

KEY_TYPE_CHANGED = "score: a key column changes type between chunks of one input"


class Answers:
    """Named columns of equal length: numpy arrays, ``pd.Categorical`` (labels, the model name),
    and the key columns as they came from the input (pandas arrays, or Arrow arrays off Parquet)."""

    def __init__(self, columns: dict[str, Any], rows: int, keys: tuple[str, ...] = ()) -> None:
        """``keys``: which of ``columns`` are the input's key columns."""
        self.columns = columns
        self.rows = rows
        self.keys = keys
        self._frame: pd.DataFrame | None = None

    def __len__(self) -> int:
        return self.rows

    def frame(self) -> pd.DataFrame:
        """The answers as a DataFrame (made once): Arrow keys as ``RecordBatch.to_pandas`` gives them."""
        if self._frame is None:
            arrow = {n: v for n, v in self.columns.items() if _is_arrow(v)}
            data = dict(self.columns)
            if arrow:
                import pyarrow as pa

                converted = pa.table(arrow).to_pandas(split_blocks=True)
                data |= {name: converted[name].array for name in arrow}
            self._frame = pd.DataFrame(data, copy=False)
        return self._frame

    def table(self, schema: pa.Schema | None) -> pa.Table:
        """An Arrow table in ``schema`` (the part's, from its first chunk; None for the first chunk)."""
        import pyarrow as pa

        if schema is not None and self._arrow_keys():
            try:
                arrays = [_arrow(self.columns[f.name], f.type) for f in schema]
                return pa.Table.from_arrays(arrays, schema=schema)
            except (KeyError, pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
                pass  # the DataFrame's conversion below says whether the chunk fits the part at all
        # One thread: a chunk is small, and a pool per chunk costs more than it saves.
        table = pa.Table.from_pandas(self.frame(), preserve_index=False, nthreads=1)
        if schema is None or table.schema.equals(schema):
            return table
        try:
            return table.cast(schema)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
            raise DataError(KEY_TYPE_CHANGED) from None

    def _arrow_keys(self) -> bool:
        """Every column but the numpy and categorical ones (the keys) is Arrow and holds no NaN
        (which the DataFrame's conversion would write as null)."""
        import pyarrow.compute as pc

        for values in self.columns.values():
            if isinstance(values, (np.ndarray, pd.Categorical)):
                continue
            if not _is_arrow(values):
                return False
            if _floating(values) and pc.any(pc.is_nan(values)).as_py():
                return False
        return True


def _floating(values: pa.Array) -> bool:
    import pyarrow as pa

    return pa.types.is_floating(values.type)


def _is_arrow(values: Any) -> bool:
    pa = sys.modules.get("pyarrow")
    return pa is not None and isinstance(values, pa.Array)


def _arrow(values: Any, to: pa.DataType) -> pa.Array:
    """One column in the part's Arrow type: numbers without a copy, categories as dictionary codes."""
    import pyarrow as pa

    if isinstance(values, pd.Categorical):
        if not pa.types.is_dictionary(to):
            raise pa.ArrowTypeError("not a dictionary column")
        codes = np.asarray(values.codes)
        missing = codes < 0
        indices = pa.array(
            codes.astype(to.index_type.to_pandas_dtype(), copy=False), mask=missing if missing.any() else None
        )
        dictionary = pa.array(np.asarray(values.categories, dtype=object), type=to.value_type)
        return pa.DictionaryArray.from_arrays(indices, dictionary)
    if isinstance(values, np.ndarray):
        if values.dtype != to.to_pandas_dtype():
            raise pa.ArrowTypeError("another number type")
        return pa.array(values, type=to)
    return values if values.type == to else values.cast(to)
