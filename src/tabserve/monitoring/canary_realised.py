"""A canary's realised figures: each version's accuracy or RMSE from the ground truth sent back since
the canary began.

The abort rule on realised performance compares the candidate with production
over the same stretch of time, from the feedback table (the pairs joined to
the prediction log by id), so every replica judges the same figures. The
database adds them up per version (pairs of labels counted, squared errors
summed), so a judgement reads a handful of rows however much feedback came.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.mysql import BINARY

from tabserve.monitoring.prediction_log import database_errors
from tabserve.registry.feedback_table import feedback


@dataclass(frozen=True)
class Realised:
    """One version's labelled predictions since the canary began and what they say."""

    rows: int
    accuracy: float | None = None  # a classifier's
    rmse: float | None = None  # a regressor's

    def summary(self) -> dict[str, Any]:
        """What the canary route and page show beside the request figures."""
        shown: dict[str, Any] = {"labelled_rows": self.rows}
        if self.accuracy is not None:
            shown["accuracy"] = round(self.accuracy, 6)
        if self.rmse is not None:
            shown["rmse"] = self.rmse
        return shown


def from_label_counts(counts: Iterable[tuple[int, str, str, int]]) -> dict[int, Realised]:
    """Per version, accuracy from ``(version, predicted, actual, count)`` groups (compared here, so a
    label's case and spaces count as they do in GET /models/{name}/performance)."""
    rows: dict[int, int] = {}
    right: dict[int, int] = {}
    for version, predicted, actual, n in counts:
        rows[version] = rows.get(version, 0) + n
        right[version] = right.get(version, 0) + (n if predicted == actual else 0)
    return {v: Realised(rows[v], accuracy=right[v] / rows[v]) for v in rows if rows[v]}


def read_realised(metadata: Any, model: str, since: float, versions: Iterable[int]) -> dict[int, Realised]:
    """The realised figures of ``versions`` of ``model`` for predictions made since ``since``; a version
    with no labelled prediction is left out. BackendUnavailableError when the database is away."""
    wanted = sorted(set(versions))
    c = feedback.c
    scope = (c.model == model, c.predicted_at >= since, c.version.in_(wanted))
    predicted, actual = _exact(c.predicted_label, metadata), _exact(c.actual_label, metadata)
    labels = (
        sa.select(c.version, predicted, actual, sa.func.count())
        .where(*scope, c.predicted_label.is_not(None), c.actual_label.is_not(None))
        .group_by(c.version, predicted, actual)
    )
    error = c.predicted_value - c.actual_value
    values = (
        sa.select(c.version, sa.func.count(), sa.func.sum(error * error))
        .where(*scope, c.predicted_value.is_not(None), c.actual_value.is_not(None))
        .group_by(c.version)
    )
    with database_errors(metadata.safe_url):
        metadata.ensure_schema()
        with metadata.engine.connect() as conn:
            found = from_label_counts(
                (int(v), _text(p), _text(a), int(n)) for v, p, a, n in conn.execute(labels)
            )
            if found:
                return found
            return {
                int(v): Realised(int(n), rmse=math.sqrt(float(squared) / n))
                for v, n, squared in conn.execute(values)
                if n
            }


def _exact(column: Any, metadata: Any) -> Any:
    """The column grouped byte for byte: MySQL's usual collations would merge "Setosa" with "setosa"."""
    if metadata.engine.dialect.name in ("mysql", "mariadb"):
        return sa.cast(column, BINARY())
    return column


def _text(label: str | bytes) -> str:
    return label.decode("utf-8") if isinstance(label, bytes) else label
