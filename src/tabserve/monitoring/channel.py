"""A bounded queue of predictions and the job that handles them, off the request path.

A request only appends to the queue (under a short lock);
single rows in a row (the pure-Python path, the busiest one) are
gathered into one ``RowRun`` per model version instead of one object each, so
the consumer converts them with one numpy call, not one per row, and holds the
GIL (and so the event loop) for a fraction of the time;
when the queue already holds ``capacity_rows`` rows the new rows are dropped
and counted instead, so a slow or broken consumer never blocks or fails a
prediction. A background task hands what is queued to the consumer in a
worker thread every ``interval_s``; ``flush`` does the same at once (a route
that reports on the consumer calls it first, so it answers with every
prediction made before it was asked).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

INTERVAL_S = 0.25
WARN_EVERY_S = 60.0  # a consumer failing on every flush (a database outage) warns once a minute


@dataclass(slots=True)
class Observation:
    """One answered predict call, as the predict core saw it."""

    predictor: Any  # tabserve.predictor.Predictor
    rows: int
    matrix: Any  # rows x features float array, when every feature is numeric
    columns: dict[str, list] | None  # one list per feature otherwise
    indices: Any  # each row's class index (empty for a regressor)
    probabilities: Any  # rows x classes, or None when only labels were computed
    at: float  # time.time() of the answer
    values: Any = None  # a regressor's predicted values, one per row
    interval: Any = None  # a regressor's intervals (tabserve.predictor.Interval), when asked for


@dataclass(slots=True)
class RowRun(Observation):
    """Consecutive single rows of one version as one observation: ``matrix`` is their values
    flattened row after row, ``indices`` a list; no probabilities (a consumer that wants them
    is offered the rows one by one)."""


class Channel:
    """Observations for one consumer: bounded, counted, handled in batches in a worker thread."""

    def __init__(
        self,
        name: str,
        handle: Callable[[list[Observation]], None],
        capacity_rows: int,
        interval_s: float = INTERVAL_S,
    ) -> None:
        self.name = name
        self.handle = handle
        self.capacity_rows = capacity_rows
        self.interval_s = interval_s
        self.dropped_rows = 0  # the queue was full
        self.failed_rows = 0  # the consumer raised on them
        self.handled_rows = 0
        self._queue: list[Observation] = []
        self._queued_rows = 0
        self._lock = threading.Lock()
        self._flushing: asyncio.Lock | None = None
        self._last_warning = -WARN_EVERY_S
        self._failing = False

    def offer(self, observation: Observation) -> None:
        """Queue the observation, or drop and count it when the queue is full; never blocks."""
        with self._lock:
            if self._queued_rows + observation.rows > self.capacity_rows:
                self.dropped_rows += observation.rows
                return
            self._queue.append(observation)
            self._queued_rows += observation.rows

    def offer_row(self, predictor: Any, row: list[float], index: int) -> None:
        """Queue one plain numeric row and its class index, appended to the newest run of its version."""
        with self._lock:
            if self._queued_rows >= self.capacity_rows:
                self.dropped_rows += 1
                return
            self._queued_rows += 1
            last = self._queue[-1] if self._queue else None
            if type(last) is RowRun and last.predictor is predictor:
                last.matrix.extend(row)
                last.indices.append(index)
                last.rows += 1
                return
            self._queue.append(RowRun(predictor, 1, list(row), None, [index], None, time.time()))

    def _take(self) -> list[Observation]:
        with self._lock:
            taken, self._queue, self._queued_rows = self._queue, [], 0
        return taken

    def handle_now(self) -> None:
        """Hand everything queued to the consumer in this thread (for tools and tests without a loop)."""
        taken = self._take()
        if taken:
            self._handle(taken)

    def _handle(self, taken: list[Observation]) -> None:
        rows = sum(o.rows for o in taken)
        try:
            self.handle(taken)
        except Exception as exc:  # the consumer's failure is counted; serving goes on
            self.failed_rows += rows
            now = time.monotonic()
            if now - self._last_warning >= WARN_EVERY_S:
                self._last_warning = now
                log.warning(
                    "%s: rows dropped (%d so far) because handling them failed: %s",
                    self.name,
                    self.failed_rows,
                    exc,
                )
            log.debug("%s failure", self.name, exc_info=True)
            self._failing = True
        else:
            self.handled_rows += rows
            if self._failing:
                self._failing = False
                self._last_warning = -WARN_EVERY_S
                log.info("%s: handling rows again", self.name)

    async def flush(self) -> None:
        """Handle everything queued up to now (in a worker thread), after any flush already running."""
        if self._flushing is None:
            self._flushing = asyncio.Lock()
        async with self._flushing:
            taken = self._take()
            if taken:
                await asyncio.to_thread(self._handle, taken)

    async def run(self) -> None:
        """The background task: flush every ``interval_s`` until cancelled."""
        while True:
            await asyncio.sleep(self.interval_s)
            await self.flush()
