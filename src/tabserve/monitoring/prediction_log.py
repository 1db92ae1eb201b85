"""The prediction log: sampled predict calls written to the registry database in chunks.

The log channel's worker thread calls ``PredictionLog.handle`` with the calls
queued since the last flush; they are grouped by version and written as one
row per group of at most ``CHUNK_ROWS`` predicted rows (JSON made by orjson
in C), in one transaction. A database outage fails that write: the rows are
counted as failed on /metrics and dropped (a log for retraining may have
holes; serving must not wait). Chunks whose newest row is older than
``monitoring.retention_days`` are deleted at most every ``PRUNE_EVERY_S``
seconds, by whichever replica gets there.

A chunk's payload holds the feature ``names``, the ``classes`` and the
``calls``, each ``[time, request id, rows, class indices, probabilities or
null]``. A regressor's chunk says ``"task": "regression"`` and each of its calls
holds the predicted values where a classifier's holds class indices, then its
intervals when the call asked for them (``{"coverage", "lower", "upper"}``, else
null) where a classifier's holds probabilities.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import orjson
import sqlalchemy as sa

from tabserve.errors import BackendUnavailableError
from tabserve.monitoring.channel import Observation
from tabserve.registry.prediction_table import predictions

log = logging.getLogger(__name__)

CHUNK_ROWS = 5000  # predicted rows per stored chunk: a few hundred kB, far below any packet limit
PRUNE_EVERY_S = 600.0
SECONDS_PER_DAY = 86_400
_JSON = orjson.OPT_SERIALIZE_NUMPY  # NaN (a missing number) is written as null


class PredictionLog:
    """Writes observations as chunks of ``tabserve_prediction_log``; prunes chunks past retention."""

    def __init__(
        self, metadata: Callable[[], Any], retention_days: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.metadata = metadata  # () -> the registry's MetadataStore (engine, safe_url, ensure_schema)
        self.retention_s = retention_days * SECONDS_PER_DAY
        self.clock = clock
        self.last_prune = 0.0
        self.pruned_chunks = 0
        # Request ids: unique per process (random prefix) and cheap (a counter, no system call per call).
        self._prefix = os.urandom(6).hex()
        self._numbers = itertools.count(1)

    def handle(self, observations: list[Observation]) -> None:
        """Write these calls in one transaction, then prune if it is time."""
        chunks = list(self.chunks(observations))
        store = self.metadata()
        with database_errors(store.safe_url):
            store.ensure_schema()
            with store.engine.begin() as conn:
                conn.execute(sa.insert(predictions), chunks)
        now = self.clock()
        if now - self.last_prune >= PRUNE_EVERY_S:
            self.prune(now)

    def chunks(self, observations: list[Observation]) -> Iterator[dict[str, Any]]:
        """Table rows for these calls: per version, chunks of at most ``CHUNK_ROWS`` predicted rows."""
        groups: dict[tuple[str, int], list[Observation]] = {}
        for observation in observations:
            key = (observation.predictor.model, observation.predictor.version)
            groups.setdefault(key, []).append(observation)
        for (model, version), group in groups.items():
            predictor = group[0].predictor
            calls: list[list[Any]] = []
            rows = 0
            for observation in group:
                calls.append(self._call(observation, predictor.schema.names))
                rows += observation.rows
                if rows >= CHUNK_ROWS:
                    yield _chunk(model, version, predictor, calls, rows)
                    calls, rows = [], 0
            if calls:
                yield _chunk(model, version, predictor, calls, rows)

    def _call(self, observation: Observation, names: list[str]) -> list[Any]:
        request_id = f"{self._prefix}{next(self._numbers):x}"
        if observation.values is not None:
            return [observation.at, request_id, _rows(observation, names), *_answered_values(observation)]
        probabilities = observation.probabilities
        if isinstance(observation.matrix, list):  # one row from the pure-Python path
            rows: Any = [observation.matrix]
            indices: Any = list(observation.indices)
            probabilities = None if probabilities is None else [probabilities]
        else:
            rows = _rows(observation, names)
            indices = np.ascontiguousarray(observation.indices)
            if probabilities is not None:
                probabilities = np.ascontiguousarray(probabilities)
        return [observation.at, request_id, rows, indices, probabilities]

    def prune(self, now: float) -> int:
        """Delete chunks whose newest row is older than the retention; the number deleted."""
        store = self.metadata()
        with database_errors(store.safe_url), store.engine.begin() as conn:
            deleted = conn.execute(
                sa.delete(predictions).where(predictions.c.last_at < now - self.retention_s)
            )
        self.last_prune = now
        count = max(deleted.rowcount or 0, 0)
        self.pruned_chunks += count
        if count:
            days = self.retention_s / SECONDS_PER_DAY
            log.info("prediction log: deleted %d chunks older than %g days", count, days)
        return count


def _rows(observation: Observation, names: list[str]) -> Any:
    """A batch's rows as orjson writes them: a list of rows, or a contiguous array of numbers."""
    if observation.columns is not None:
        return [list(row) for row in zip(*(observation.columns[n] for n in names), strict=True)]
    return np.ascontiguousarray(observation.matrix)  # orjson writes contiguous arrays only


def _answered_values(observation: Observation) -> list[Any]:
    """A regressor's answer to log: its values, then its intervals (None when none were asked for)."""
    interval = observation.interval
    bounds = None
    if interval is not None:
        bounds = {
            "coverage": interval.coverage,
            "lower": np.ascontiguousarray(interval.lower),
            "upper": np.ascontiguousarray(interval.upper),
        }
    return [np.ascontiguousarray(observation.values), bounds]


def _chunk(model: str, version: int, predictor: Any, calls: list[list[Any]], rows: int) -> dict[str, Any]:
    payload: dict[str, Any] = {"names": predictor.schema.names, "classes": predictor.classes, "calls": calls}
    if getattr(predictor, "is_regression", False):
        payload["task"] = "regression"
    return {
        "model": model,
        "version": version,
        "first_at": min(call[0] for call in calls),
        "last_at": max(call[0] for call in calls),
        "rows": rows,
        "payload": orjson.dumps(payload, option=_JSON).decode(),
    }


@contextmanager
def database_errors(safe_url: str) -> Iterator[None]:
    """A database error as one line naming the database (password hidden), never the rows' values."""
    try:
        yield
    except sa.exc.SQLAlchemyError as exc:
        reason = " ".join(str(getattr(exc, "orig", None) or type(exc).__name__).split())[:200]
        raise BackendUnavailableError(f"registry database {safe_url} unavailable: {reason}") from None
