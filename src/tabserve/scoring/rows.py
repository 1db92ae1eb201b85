"""A chunk of input rows: the batch the model can score, and the rows it cannot, with the reason.

Reasons are the prediction input checks' own words (tabserve.inputs and the
predictor), so a row rejected here reads as the HTTP answer for that row would,
numbered by its position in the input partition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from tabserve.errors import DataError, InputError
from tabserve.inputs import Batch, parse_payload
from tabserve.schema import FeatureSchema

if TYPE_CHECKING:
    import pyarrow as pa

_ROW_ZERO = re.compile(r"^row 0\b")


@dataclass(frozen=True)
class Split:
    batch: Batch | None  # None when no row of the chunk is valid
    kept: np.ndarray  # positions in the chunk of the batch's rows
    rejects: list[tuple[int, str]]  # (row number in the partition, reason)


def renumber(reason: str, row: int) -> str:
    """A one-row check's reason ("row 0, ...") as it applies to row ``row`` of the input."""
    return _ROW_ZERO.sub(f"row {row}", reason, count=1)


def check_columns(names: list[str], schema: FeatureSchema, key_columns: list[str]) -> None:
    """Every feature and key column among a chunk's column ``names``, or a DataError naming the
    missing ones (never values)."""
    columns = set(names)
    missing = [n for n in schema.names if n not in columns]
    if missing:
        raise DataError(f"score: the input lacks the model's column(s) {', '.join(missing)}")
    missing_keys = [k for k in key_columns if k not in columns]
    if missing_keys:
        raise DataError(f"score.key_columns: {', '.join(missing_keys)} not in the input")


def _numeric(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The column as floats (NaN: missing) and which rows hold something that is not a finite number."""
    if pd.api.types.is_bool_dtype(column):
        return np.full(len(column), np.nan), column.notna().to_numpy()
    if pd.api.types.is_numeric_dtype(column):
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        return values, np.isinf(values)
    coerced = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = (np.isnan(coerced) & column.notna().to_numpy()) | np.isinf(coerced)
    bad |= column.map(lambda v: isinstance(v, bool)).to_numpy(dtype=bool)
    return coerced, bad


def _categorical(column: pd.Series) -> np.ndarray:
    present = column.notna().to_numpy()
    values = np.empty(len(column), dtype=object)
    values[present] = [str(v) for v in column.to_numpy()[present]]
    return values


def _reason(frame: pd.DataFrame, position: int, schema: FeatureSchema, row: int) -> str:
    values = []
    for feature in schema.features:
        value = frame[feature.name].iloc[position]
        if value is None or (isinstance(value, float) and np.isnan(value)):
            values.append(None)
        elif feature.type == "numeric" and isinstance(value, str):
            try:
                values.append(float(value))
            except ValueError:
                values.append(value)
        else:
            values.append(value.item() if isinstance(value, np.generic) else value)
    try:
        parse_payload([values], schema, 1)
    except InputError as exc:
        return renumber(str(exc), row)
    return f"row {row}: the row does not fit the model's columns"


def split_chunk(frame: pd.DataFrame, schema: FeatureSchema, first_row: int) -> Split:
    """Validate a chunk whose first row is row ``first_row`` of its partition."""
    if schema.all_numeric:
        return _split_numeric(frame, schema, first_row)
    numeric: dict[str, np.ndarray] = {}
    bad = np.zeros(len(frame), dtype=bool)
    for feature in schema.features:
        if feature.type == "numeric":
            numeric[feature.name], column_bad = _numeric(frame[feature.name])
            bad |= column_bad
    rejects = _rejects(frame, schema, first_row, bad)
    kept = np.flatnonzero(~bad)
    if len(kept) == 0:
        return Split(None, kept, rejects)
    columns = {
        f.name: (
            numeric[f.name][kept].tolist()
            if f.type == "numeric"
            else _categorical(frame[f.name])[kept].tolist()
        )
        for f in schema.features
    }
    return Split(Batch(len(kept), None, columns), kept, rejects)


def _rejects(frame: pd.DataFrame, schema: FeatureSchema, first_row: int, bad: np.ndarray) -> list:
    return [
        (first_row + int(i), _reason(frame, int(i), schema, first_row + int(i))) for i in np.flatnonzero(bad)
    ]


def _split_numeric(frame: pd.DataFrame, schema: FeatureSchema, first_row: int) -> Split:
    """The all-numeric case: each column written once into the batch's matrix, copied again only
    to drop rejected rows."""
    matrix = np.empty((len(frame), len(schema.names)), dtype=np.float64)
    bad = np.zeros(len(frame), dtype=bool)
    for j, name in enumerate(schema.names):
        matrix[:, j], column_bad = _numeric(frame[name])
        bad |= column_bad
    if not bad.any():
        return Split(Batch(len(frame), matrix, None), np.arange(len(frame)), [])
    rejects = _rejects(frame, schema, first_row, bad)
    kept = np.flatnonzero(~bad)
    if len(kept) == 0:
        return Split(None, kept, rejects)
    return Split(Batch(len(kept), matrix[kept], None), kept, rejects)


def as_frame(chunk: pd.DataFrame | pa.RecordBatch) -> pd.DataFrame:
    """A chunk as a DataFrame: an Arrow batch converted a block per column (no consolidating copy)."""
    return chunk if isinstance(chunk, pd.DataFrame) else chunk.to_pandas(split_blocks=True)


def split_arrow(batch: pa.RecordBatch, schema: FeatureSchema) -> Split | None:
    """An Arrow chunk whose features are all integer or float columns with no infinite value: the
    batch's matrix straight from the columns, no pandas. None when the chunk needs ``split_chunk``
    (another column type, or a row to reject: its reason comes from the one place that words it)."""
    import pyarrow as pa

    if not schema.all_numeric:
        return None
    columns = [batch.column(name) for name in schema.names]
    if not all(pa.types.is_integer(c.type) or pa.types.is_floating(c.type) for c in columns):
        return None
    matrix = np.empty((batch.num_rows, len(columns)), dtype=np.float64)
    for j, column in enumerate(columns):
        matrix[:, j] = column.to_numpy(zero_copy_only=False)  # nulls arrive as NaN: missing
    if np.isinf(matrix).any():
        return None
    return Split(Batch(batch.num_rows, matrix, None), np.arange(batch.num_rows), [])
