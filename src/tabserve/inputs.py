"""Prediction input: the accepted shapes, checked against a feature schema.

Shapes: a bare row ``[5.1, 3.8, 1.5, 0.3]``; ``{"instances": [[...], ...]}``;
``{"instances": [{"sepal_length": 5.1, ...}, ...]}``; and columnar
``{"columns": [...], "data": [[...], ...]}``. Errors name the row and column
and what was expected, and never repeat the whole input.

Columns the model does not take (a label column, an id) are ignored, not
refused: the batch keeps their names in ``Batch.ignored`` so every surface
can report them. A missing model column is an error. A request naming more
than ``max_columns(schema)`` columns is refused before any per-column work,
so a hostile width costs nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from tabserve.errors import InputError
from tabserve.schema import FeatureSchema

_NUMBER_TYPES = (int, float)
EXTRA_COLUMNS_ALLOWED = 100  # columns beyond the model's that a request may carry (and have ignored)


@dataclass(frozen=True)
class Batch:
    """Validated rows: a float matrix when every feature is numeric, else object columns."""

    rows: int
    matrix: np.ndarray | None
    columns: dict[str, list[Any]] | None
    ignored: tuple[str, ...] = ()  # given columns the model does not take, in the order first seen


class TooManyColumnsError(InputError):
    """A request wider than ``max_columns``: refused before its columns are looked at one by one."""


def max_columns(schema: FeatureSchema) -> int:
    """The widest request accepted for ``schema``: its columns plus ``EXTRA_COLUMNS_ALLOWED``."""
    return len(schema.names) + EXTRA_COLUMNS_ALLOWED


def check_width(width: int, schema: FeatureSchema, what: str = "the request") -> None:
    """TooManyColumnsError when ``what`` names more columns than ``max_columns`` allows."""
    limit = max_columns(schema)
    if width > limit:
        raise TooManyColumnsError(
            f"{what} has {width} columns, more than the limit of {limit} "
            f"(the model's {len(schema.names)} plus {EXTRA_COLUMNS_ALLOWED} ignored ones)"
        )


def short_repr(value: Any) -> str:
    """A value as an error may quote it: at most 40 characters, never the whole input."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _missing(given: Any, schema: FeatureSchema) -> list[str]:
    """The model's columns absent from ``given`` (a set or dict of names)."""
    return [n for n in schema.names if n not in given]


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


def _rows_to_batch(rows: list[list[Any]], schema: FeatureSchema, ignored: tuple[str, ...] = ()) -> Batch:
    width = len(schema.names)
    if schema.all_numeric:
        matrix = _fast_matrix(rows, width)
        if matrix is not None:
            return Batch(len(rows), matrix, None, ignored)
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
        return Batch(len(rows), np.array(checked, dtype=np.float64).T.copy(), None, ignored)
    return Batch(len(rows), None, dict(zip(schema.names, checked, strict=True)), ignored)


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


def _records_to_rows(records: list[Any], schema: FeatureSchema) -> tuple[list[list[Any]], tuple[str, ...]]:
    """Rows in schema order and the keys ignored (any record's, first seen first)."""
    names = schema.names
    expected = set(names)
    width = len(names)
    ignored: dict[str, None] = {}
    rows = []
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise InputError(f"row {i}: expected an object keyed by column name, got {type(record).__name__}")
        if len(record) != width or record.keys() != expected:
            check_width(len(record), schema, f"row {i}")
            missing = _missing(record, schema)
            if missing:
                raise InputError(
                    f"row {i}: missing column(s) {', '.join(missing)} (expected: {', '.join(names)})"
                )
            for key in record:
                if key not in expected:
                    ignored[key] = None
        rows.append([record[name] for name in names])
    return rows, tuple(ignored)


def _columnar_to_rows(
    columns: Any, data: Any, schema: FeatureSchema
) -> tuple[list[list[Any]], tuple[str, ...]]:
    """Rows in schema order and the columns ignored, from ``{"columns", "data"}``."""
    if not isinstance(columns, list):
        raise InputError("'columns' must be a list of column names")
    check_width(len(columns), schema, "'columns'")
    if not all(isinstance(c, str) for c in columns):
        raise InputError("'columns' must be a list of column names")
    if not isinstance(data, list):
        raise InputError("'data' must be a list of rows")
    if columns == schema.names:
        return data, ()
    missing = _missing(set(columns), schema)
    if missing:
        raise InputError(
            f"columns: missing column(s) {', '.join(missing)} (expected: {', '.join(schema.names)})"
        )
    if len(set(columns)) != len(columns):
        raise InputError(f"columns: a column is named twice (expected: {', '.join(schema.names)})")
    expected = set(schema.names)
    ignored = tuple(c for c in columns if c not in expected)
    order = [columns.index(name) for name in schema.names]
    reordered = []
    for i, row in enumerate(data):
        if not isinstance(row, list) or len(row) != len(columns):
            raise InputError(f"row {i}: expected a list of {len(columns)} values in 'columns' order")
        reordered.append([row[k] for k in order])
    return reordered, ignored


# Options a JSON object body may carry beside its rows.
OPTION_KEYS = ("labels_only", "interval")


def parse_payload(payload: Any, schema: FeatureSchema, max_rows: int) -> Batch:
    """Turn any accepted JSON shape into a validated batch (columns the model does not take ignored)."""
    if isinstance(payload, dict) and "labels_only" in payload and type(payload["labels_only"]) is not bool:
        raise InputError("'labels_only' must be true or false")
    ignored: tuple[str, ...] = ()
    if isinstance(payload, dict) and "interval" in payload:
        wanted_interval(payload)  # a bad coverage is named before the rows are looked at
    if isinstance(payload, list):
        if payload and not isinstance(payload[0], list | dict):
            rows: list[Any] = [payload]  # a bare list is one row, the shape the first clients sent
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
            rows, ignored = _columnar_to_rows(payload["columns"], payload["data"], schema)
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
        rows, ignored = _records_to_rows(rows, schema)
    return _rows_to_batch(rows, schema, ignored)


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
    """Validate a pandas DataFrame (e.g. a CSV the CLI read) as a batch; other columns are ignored
    and named in ``Batch.ignored``."""
    given = [str(c) for c in frame.columns]
    missing = _missing(set(given), schema)
    if missing:
        shown = ", ".join(given[:20]) + (f" and {len(given) - 20} more" if len(given) > 20 else "")
        raise InputError(f"missing column(s) {', '.join(missing)} (columns: {shown})")
    if len(frame) == 0:
        raise InputError("the input has no rows")
    expected = set(schema.names)
    ignored = tuple(c for c in given if c not in expected)
    rows = frame[schema.names].astype(object).where(frame[schema.names].notna(), None).values.tolist()
    return _rows_to_batch(rows, schema, ignored)
