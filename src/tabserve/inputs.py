"""Prediction input: the accepted shapes, checked against a feature schema.

Shapes: a bare row ``[5.1, 3.8, 1.5, 0.3]``; ``{"instances": [[...], ...]}``;
``{"instances": [{"sepal_length": 5.1, ...}, ...]}``; and columnar
``{"columns": [...], "data": [[...], ...]}``. Errors name the row and column
and what was expected, and never repeat the whole input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from tabserve.errors import InputError
from tabserve.schema import FeatureSchema

_NUMBER_TYPES = (int, float)


@dataclass(frozen=True)
class Batch:
    """Validated rows: a float matrix when every feature is numeric, else object columns."""

    rows: int
    matrix: np.ndarray | None
    columns: dict[str, list[Any]] | None


def short_repr(value: Any) -> str:
    """A value as an error may quote it: at most 40 characters, never the whole input."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _column_mismatch(given: list[str], schema: FeatureSchema) -> str:
    """Which expected columns are missing and which given ones are unknown, in one phrase."""
    missing = [n for n in schema.names if n not in given]
    unknown = [c for c in given if c not in schema.names]
    parts = []
    if missing:
        parts.append(f"missing column(s) {', '.join(missing)}")
    if unknown:
        parts.append(f"unknown column(s) {', '.join(short_repr(u) for u in unknown[:5])}")
    return "; ".join(parts)


def _check_numeric(value: Any, row: int, column: str) -> float:
    if value is None:
        return math.nan  # imputed by the model
    if isinstance(value, bool) or not isinstance(value, _NUMBER_TYPES):
        raise InputError(f"row {row}, column '{column}': expected a number, got {short_repr(value)}")
    number = float(value)
    if math.isinf(number):
        raise InputError(f"row {row}, column '{column}': expected a finite number, got {number}")
    return number


def _check_categorical(value: Any, row: int, column: str) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, str | bool | int | float):
        return str(value)
    raise InputError(f"row {row}, column '{column}': expected a string or number, got {short_repr(value)}")


def _rows_to_batch(rows: list[list[Any]], schema: FeatureSchema) -> Batch:
    width = len(schema.names)
    if schema.all_numeric:
        matrix = _fast_matrix(rows, width)
        if matrix is not None:
            return Batch(len(rows), matrix, None)
    checked = [[None] * len(rows) for _ in range(width)]
    for i, row in enumerate(rows):
        if not isinstance(row, list):
            raise InputError(f"row {i}: expected a list of {width} values, got {type(row).__name__}")
        if len(row) != width:
            raise InputError(f"row {i}: expected {width} values ({', '.join(schema.names)}), got {len(row)}")
        for j, (feature, value) in enumerate(zip(schema.features, row, strict=True)):
            check = _check_numeric if feature.type == "numeric" else _check_categorical
            checked[j][i] = check(value, i, feature.name)
    if schema.all_numeric:
        return Batch(len(rows), np.array(checked, dtype=np.float64).T.copy(), None)
    return Batch(len(rows), None, dict(zip(schema.names, checked, strict=True)))


def _fast_matrix(rows: list[Any], width: int) -> np.ndarray | None:
    """numpy's own conversion, taken only when it is certainly right; else None."""
    try:
        matrix = np.array(rows, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if matrix.ndim != 2 or matrix.shape[1] != width or not np.isfinite(matrix).all():
        return None
    # np.array turns True and "1.5" into numbers; only accept genuine numbers.
    for row in rows:
        for v in row:
            if type(v) is not float and type(v) is not int:
                return None
    return matrix


def _records_to_rows(records: list[Any], schema: FeatureSchema) -> list[list[Any]]:
    expected = set(schema.names)
    rows = []
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise InputError(f"row {i}: expected an object keyed by column name, got {type(record).__name__}")
        if record.keys() != expected:
            mismatch = _column_mismatch(sorted(map(str, record)), schema)
            raise InputError(f"row {i}: {mismatch} (expected: {', '.join(schema.names)})")
        rows.append([record[name] for name in schema.names])
    return rows


def _columnar_to_rows(columns: Any, data: Any, schema: FeatureSchema) -> list[list[Any]]:
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise InputError("'columns' must be a list of column names")
    if not isinstance(data, list):
        raise InputError("'data' must be a list of rows")
    if columns == schema.names:
        return data
    mismatch = _column_mismatch(columns, schema)
    if mismatch or len(set(columns)) != len(columns):
        mismatch = mismatch or "a column is named twice"
        raise InputError(f"columns: {mismatch} (expected: {', '.join(schema.names)})")
    order = [columns.index(name) for name in schema.names]
    reordered = []
    for i, row in enumerate(data):
        if not isinstance(row, list) or len(row) != len(columns):
            raise InputError(f"row {i}: expected a list of {len(columns)} values in 'columns' order")
        reordered.append([row[k] for k in order])
    return reordered


# Options a JSON object body may carry beside its rows.
OPTION_KEYS = ("labels_only", "interval")


def parse_payload(payload: Any, schema: FeatureSchema, max_rows: int) -> Batch:
    """Turn any accepted JSON shape into a validated batch."""
    if isinstance(payload, dict) and "labels_only" in payload and type(payload["labels_only"]) is not bool:
        raise InputError("'labels_only' must be true or false")
    if isinstance(payload, dict) and "interval" in payload:
        wanted_interval(payload)  # a bad coverage is named before the rows are looked at
    if isinstance(payload, list):
        if payload and not isinstance(payload[0], list | dict):
            rows: list[Any] = [payload]  # the seed's bare single row
        else:
            rows = payload
    elif isinstance(payload, dict):
        if "instances" in payload:
            extra = sorted(set(payload) - {"instances", *OPTION_KEYS})
            if extra:
                raise InputError(
                    f"unknown field(s) {', '.join(short_repr(e) for e in extra[:5])} beside 'instances'"
                )
            rows = payload["instances"]
            if not isinstance(rows, list):
                raise InputError("'instances' must be a list of rows")
        elif "columns" in payload or "data" in payload:
            extra = sorted(set(payload) - {"columns", "data", *OPTION_KEYS})
            if extra:
                raise InputError(
                    f"unknown field(s) {', '.join(short_repr(e) for e in extra[:5])} beside 'columns'"
                )
            if "columns" not in payload or "data" not in payload:
                raise InputError("columnar input needs both 'columns' and 'data'")
            rows = _columnar_to_rows(payload["columns"], payload["data"], schema)
        else:
            raise InputError(
                'expected a list of values, {"instances": [...]} or {"columns": [...], "data": [...]}'
            )
    else:
        raise InputError(f"expected a JSON list or object, got {type(payload).__name__}")
    if not rows:
        raise InputError("the batch is empty; send at least one row")
    check_row_limit(len(rows), max_rows)
    if isinstance(rows[0], dict):
        rows = _records_to_rows(rows, schema)
    return _rows_to_batch(rows, schema)


class BatchTooLargeError(InputError):
    """More rows than ``server.max_batch_rows``."""


def check_row_limit(count: int, max_rows: int) -> None:
    """The one row-limit check and its message, for every way rows arrive."""
    if count > max_rows:
        raise BatchTooLargeError(f"{count} rows is more than the limit of {max_rows} rows per request")


def wants_labels_only(payload: Any) -> bool:
    return isinstance(payload, dict) and payload.get("labels_only") is True


def wanted_interval(payload: Any) -> float | None:
    """The coverage a JSON body asks intervals for (``"interval": 0.9``), checked; None if not asked."""
    if not isinstance(payload, dict) or payload.get("interval") is None:
        return None
    from tabserve.intervals import check_coverage

    return check_coverage(payload["interval"])


def batch_from_frame(frame: Any, schema: FeatureSchema) -> Batch:
    """Validate a pandas DataFrame (e.g. a CSV the CLI read) as a batch."""
    missing = [n for n in schema.names if n not in frame.columns]
    if missing:
        raise InputError(
            f"missing column(s) {', '.join(missing)} (columns: {', '.join(map(str, frame.columns))})"
        )
    if len(frame) == 0:
        raise InputError("the input has no rows")
    rows = frame[schema.names].astype(object).where(frame[schema.names].notna(), None).values.tolist()
    return _rows_to_batch(rows, schema)
