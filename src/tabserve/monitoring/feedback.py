"""Ground truth joined to the prediction log: each record finds its prediction by id and is stored with it.

A record's id is a row id the answer carried (``monitoring.ids``); its time
says at once whether the prediction is older than the log's retention (then
the record is refused with that reason), and which of the model's log chunks
can hold it, so a lookup reads a few chunks, never the whole log. Only the
named model's chunks are read: feedback cannot reach another model's log. The
pair (what was predicted, what happened) is stored in ``tabserve_feedback``
under the model and id, so a record arriving twice counts once. Nothing here
raises for a bad record: the report counts each kind and says why for the
first few, by record number (never a value).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson
import sqlalchemy as sa

from tabserve.monitoring.feedback_records import Record
from tabserve.monitoring.ids import parse_row_id
from tabserve.monitoring.prediction_log import SECONDS_PER_DAY, database_errors
from tabserve.registry.feedback_table import feedback
from tabserve.registry.prediction_table import predictions

GAP_S = 60.0  # ids further apart than this are looked up with separate range queries
SLACK_S = 300.0  # a chunk ends at most this long after the calls it holds began (one flush, a backlog)
REASONS_SHOWN = 20
IN_CLAUSE = 500  # ids per IN (...) query


class Predicted(NamedTuple):
    """A logged prediction of one row."""

    version: int
    at: float
    label: str | None  # classification
    value: float | None  # regression
    classes: tuple[str, ...]


@dataclass
class FeedbackReport:
    """What happened to each record of one feedback call."""

    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    unknown_ids: int = 0
    wrong_type: int = 0
    expired: int = 0
    malformed: int = 0
    reasons: list[dict[str, Any]] = field(default_factory=list)

    def refuse(self, kind: str, number: int, reason: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        if len(self.reasons) < REASONS_SHOWN:
            self.reasons.append({"record": number, "reason": reason})

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "unknown_ids": self.unknown_ids,
            "wrong_type": self.wrong_type,
            "expired": self.expired,
            "malformed": self.malformed,
            "reasons": self.reasons,
        }


class FeedbackStore:
    """Joins ground truth to one registry's prediction log and stores the pairs."""

    accepted_in_process = 0  # every store's accepted records: the gauges re-read when it moves

    def __init__(
        self, metadata: Callable[[], Any], retention_days: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.metadata = metadata  # () -> the registry's MetadataStore (engine, safe_url, ensure_schema)
        self.retention_days = retention_days
        self.clock = clock

    def record(self, model: str, records: Iterable[Record | None]) -> FeedbackReport:
        """Join and store ``records`` for ``model``; the report of what was accepted and why not."""
        report = FeedbackReport()
        now = self.clock()
        oldest = now - self.retention_days * SECONDS_PER_DAY
        wanted: dict[str, tuple[int, Record, float]] = {}  # row id -> (record number, record, at)
        for number, record in enumerate(records):
            report.received += 1
            if record is None:
                report.refuse("malformed", number, 'not a record with "id" and "actual"')
                continue
            row_id = parse_row_id(record.id)
            if row_id is None:
                report.refuse("unknown_ids", number, "not a prediction id this server made")
            elif row_id.at < oldest:
                reason = f"the prediction is older than the log's retention ({self.retention_days:g} days)"
                report.refuse("expired", number, reason)
            elif record.id in wanted:
                report.duplicates += 1
            else:
                wanted[record.id] = (number, record, row_id.at)
        if not wanted:
            return report
        store = self.metadata()
        with database_errors(store.safe_url):
            store.ensure_schema()
            try:
                self._store(store.engine, model, wanted, report, now)
            except sa.exc.IntegrityError:  # another call stored some of these ids first: count them again
                self._store(store.engine, model, wanted, report, now)
        return report

    def _store(
        self,
        engine: sa.Engine,
        model: str,
        wanted: dict[str, tuple[int, Record, float]],
        report: FeedbackReport,
        now: float,
    ) -> None:
        """Look the ids up, store the pairs that fit and count the rest, in one transaction."""
        first_reasons = len(report.reasons)
        counts = (report.unknown_ids, report.duplicates, report.wrong_type)
        with engine.begin() as conn:
            found = _find(conn, model, {i: at for i, (_, _, at) in wanted.items()})
            known = _stored(conn, model, list(found))
            rows = []
            for row_id, (number, record, _) in wanted.items():
                predicted = found.get(row_id)
                if predicted is None:
                    report.refuse("unknown_ids", number, f"no logged prediction of model '{model}' has it")
                elif row_id in known:
                    report.duplicates += 1
                else:
                    row = _pair(model, row_id, predicted, record, now)
                    if isinstance(row, str):
                        report.refuse("wrong_type", number, row)
                    else:
                        rows.append(row)
            try:
                if rows:
                    conn.execute(sa.insert(feedback), rows)
            except sa.exc.IntegrityError:
                del report.reasons[first_reasons:]  # the retry counts these records afresh
                report.unknown_ids, report.duplicates, report.wrong_type = counts
                raise
            report.accepted = len(rows)
        FeedbackStore.accepted_in_process += len(rows)


def _find(conn: sa.Connection, model: str, times: dict[str, float]) -> dict[str, Predicted]:
    """The logged predictions of these row ids (id -> time), read from the chunks their times allow."""
    by_request: dict[str, dict[int, str]] = {}
    for row_id in times:
        request_id, _, row = row_id.rpartition("-")
        by_request.setdefault(request_id, {})[int(row)] = row_id
    found: dict[str, Predicted] = {}
    for low, high in _windows(sorted(times.values())):
        query = sa.select(predictions.c.version, predictions.c.payload).where(
            predictions.c.model == model,
            predictions.c.last_at >= low - 1,
            predictions.c.last_at <= high + SLACK_S,
            predictions.c.first_at <= high + SLACK_S,
        )
        for version, payload in conn.execute(query):
            chunk = orjson.loads(payload)
            classes = () if chunk.get("task") == "regression" else tuple(chunk.get("classes") or ())
            for call in chunk["calls"]:
                rows = by_request.get(call[1])
                if rows is None:
                    continue
                for row, row_id in rows.items():
                    predicted = _predicted(call, row, classes, int(version))
                    if predicted is not None:
                        found[row_id] = predicted
    return found


def _windows(times: list[float]) -> Iterable[tuple[float, float]]:
    """Sorted times gathered into ranges with no gap wider than ``GAP_S``."""
    low = high = times[0]
    for at in times[1:]:
        if at - high > GAP_S:
            yield low, high
            low = at
        high = at
    yield low, high


def _predicted(call: list[Any], row: int, classes: tuple[str, ...], version: int) -> Predicted | None:
    """Row ``row`` of a logged call ``[at, request_id, rows, indices or values, ...]`` (no classes:
    a regressor's call, whose fourth item holds the predicted values)."""
    at, answered = call[0], call[3]
    if answered is None or row >= len(answered) or answered[row] is None:
        return None
    if classes:
        return Predicted(version, at, classes[int(answered[row])], None, classes)
    return Predicted(version, at, None, float(answered[row]), ())


def _stored(conn: sa.Connection, model: str, ids: list[str]) -> set[str]:
    """Which of these ids already have feedback."""
    known: set[str] = set()
    for start in range(0, len(ids), IN_CLAUSE):
        part = ids[start : start + IN_CLAUSE]
        query = sa.select(feedback.c.prediction_id).where(
            feedback.c.model == model, feedback.c.prediction_id.in_(part)
        )
        known.update(conn.execute(query).scalars())
    return known


def _pair(model: str, row_id: str, predicted: Predicted, record: Record, now: float) -> dict[str, Any] | str:
    """The stored row, or why the actual outcome does not fit the prediction's kind."""
    row: dict[str, Any] = {
        "model": model,
        "prediction_id": row_id,
        "version": predicted.version,
        "predicted_at": predicted.at,
        "received_at": now,
        "predicted_label": predicted.label,
        "actual_label": None,
        "predicted_value": predicted.value,
        "actual_value": None,
    }
    actual = record.actual
    if predicted.label is not None:
        if type(actual) not in (str, int, bool):
            return "a classifier's actual outcome must be a class label (text or an integer)"
        label = str(actual)
        if label not in predicted.classes:
            return "the actual outcome is not one of the version's classes"
        row["actual_label"] = label
        return row
    value = _number(actual, record.from_text)
    if value is None:
        return "a regressor's actual outcome must be a finite number"
    row["actual_value"] = value
    return row


def _number(actual: Any, from_text: bool) -> float | None:
    if type(actual) in (int, float):
        value = float(actual)
    elif from_text and type(actual) is str:
        try:
            value = float(actual)
        except ValueError:
            return None
    else:
        return None
    return value if math.isfinite(value) else None
