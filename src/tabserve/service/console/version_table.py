"""The model page's version table: sorted on the server by any column, then cut into pages.

Paging keeps the page small and quick with hundreds of versions (rendering every row
grows with the version count), so sorting has to happen here
over all rows, not in the browser over one page of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

PAGE_SIZE = 50
SortKey = Literal[
    "version", "created", "estimator", "params", "cv_score", "accuracy", "f1_macro", "rmse", "mae", "r2",
    "data_rows", "data_hash", "aliases",
]  # fmt: skip
Order = Literal["asc", "desc"]
Column = tuple[SortKey, str, bool]

# (key, heading, numeric) of each column, in the table's order; the task's metrics go after the CV score.
_LEADING: tuple[Column, ...] = (
    ("version", "Version", True),
    ("created", "Created", True),
    ("estimator", "Estimator", False),
    ("params", "Params", False),
    ("cv_score", "CV score", True),
)
CLASSIFICATION_METRICS: tuple[Column, ...] = (
    ("accuracy", "Hold-out accuracy", True),
    ("f1_macro", "Macro F1", True),
)
REGRESSION_METRICS: tuple[Column, ...] = (
    ("rmse", "Hold-out RMSE", True),
    ("mae", "Hold-out MAE", True),
    ("r2", "Hold-out R²", True),
)
_TRAILING: tuple[Column, ...] = (
    ("data_rows", "Data rows", True),
    ("data_hash", "Data hash", False),
    ("aliases", "Aliases", False),
)
COLUMNS = _LEADING + CLASSIFICATION_METRICS + _TRAILING  # a classifier's table
METRIC_KEYS = frozenset(key for key, _, _ in CLASSIFICATION_METRICS + REGRESSION_METRICS)
_NUMERIC = {
    key for key, _, numeric in _LEADING + CLASSIFICATION_METRICS + REGRESSION_METRICS + _TRAILING if numeric
}


def columns_for(rows: list[dict[str, Any]]) -> tuple[Column, ...]:
    """The table's columns: a classifier's metrics, a regressor's (RMSE, MAE, R²), or both when the
    model has versions of each task."""
    tasks = {row.get("task") for row in rows}
    metrics: tuple[Column, ...] = ()
    if not tasks or tasks - {"regression"}:
        metrics += CLASSIFICATION_METRICS
    if "regression" in tasks:
        metrics += REGRESSION_METRICS
    return _LEADING + metrics + _TRAILING


_FIELD = {"created": "created_at"}


def _value(row: dict[str, Any], key: str) -> Any:
    value = row.get(_FIELD.get(key, key))
    if key == "aliases":
        return " ".join(value or []).lower() or None
    if key in _NUMERIC:
        return value if isinstance(value, int | float) and math.isfinite(value) else None
    return str(value or "").lower() or None


def sort_rows(rows: list[dict[str, Any]], key: SortKey, order: Order) -> list[dict[str, Any]]:
    """Rows ordered by one column; rows without a value last either way; ties newest version first."""
    by_version = sorted(rows, key=lambda r: -r["version"])
    present = [r for r in by_version if _value(r, key) is not None]
    absent = [r for r in by_version if _value(r, key) is None]
    present.sort(key=lambda r: _value(r, key), reverse=order == "desc")
    return present + absent


@dataclass(frozen=True)
class Pager:
    """Which slice of the sorted rows a page shows, and the numbers its links need."""

    page: int
    pages: int
    first: int  # 1-based index of the first row shown (0 when there are none)
    last: int
    total: int


def page_of(
    rows: list[dict[str, Any]], page: int, size: int = PAGE_SIZE
) -> tuple[list[dict[str, Any]], Pager]:
    """One page of rows; a page past the end shows the last page."""
    pages = max(1, math.ceil(len(rows) / size))
    page = min(max(1, page), pages)
    start = (page - 1) * size
    shown = rows[start : start + size]
    return shown, Pager(page, pages, start + 1 if shown else 0, start + len(shown), len(rows))
