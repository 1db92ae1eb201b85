"""Micro-batching: concurrent single rows for one version scored in one model call.

A tree ensemble or booster pays a fixed cost per model call (ONNX Runtime's or
its library's) on top of each row's own work, so rows that become ready
together are worth scoring together. Nothing waits on a timer by default: the
first row of a group schedules the call with ``loop.call_soon``, so it runs as
soon as the requests the event loop has already taken in (the rows that
arrived while the previous call ran) have each decoded and validated their own
row and joined; a lone request only yields once to the loop and is scored on
the version's single-row path, as without batching. ``server.batch_wait_us``
> 0 makes a group wait that long for more rows instead.

Joining costs a lone request a trip through the event loop, so rows are
joined only while there is concurrency to gain from: the batcher scores rows
at once, without yielding, until more than one row arrived in one turn of the
loop (counted by a callback each turn that saw a row schedules), and goes back
to scoring at once when a group closes with one row.

Rows join a group per version; every row's answer is its class probabilities
(a request asking for labels only drops them, as the unbatched path does).
A row scored in a joined call gets the bits it gets alone (the models are
evaluated row by row). If the shared call fails (one row's values make the
model's output non-finite, say), every row of the group is scored alone, so
each request gets exactly the answer or the error it would have had without
batching. Each request does its own metrics and drift accounting
(``PredictCore.predict_joined``, ``PredictCore.single_row_joined``)::

    batcher = MicroBatcher(wait_s=0.0, max_rows=64)
    probabilities = await batcher.predict(predictor, [0.3, -1.2, 0.8, 0.1])
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import numpy as np

from tabserve.inputs import Batch
from tabserve.predictor import Predictor

log = logging.getLogger(__name__)


@dataclass
class _Group:
    """Rows waiting for one call and the futures their requests await."""

    predictor: Predictor
    rows: list[list[float]] = field(default_factory=list)
    futures: list[asyncio.Future] = field(default_factory=list)


class MicroBatcher:
    """Joins single rows per version into one ``Predictor.predict`` call; one per app."""

    def __init__(self, wait_s: float, max_rows: int) -> None:
        self.wait_s = wait_s
        self.max_rows = max(1, max_rows)
        self._open: dict[int, _Group] = {}
        self.calls = 0  # model calls made, and rows scored by them (for benchmarks and tests)
        self.rows = 0
        self._joining = wait_s > 0  # waiting for rows is asked for: always join
        self._turn_rows = 0  # rows scored at once in this turn of the event loop

    def takes(self, predictor: Predictor, batch: Batch, interval: float | None = None) -> bool:
        """True for one numeric row for a classifier with probabilities whose single-row path, if
        it has one, is a model call (a pure-Python row is cheaper alone), and no interval asked."""
        return batch.rows == 1 and batch.matrix is not None and interval is None and self.joins(predictor)

    @staticmethod
    def joins(predictor: Predictor) -> bool:
        """Whether this version's single rows are scored together with concurrent ones."""
        return (
            (predictor.row_width is None or predictor.row_joinable)
            and not predictor.is_regression
            and predictor.probabilities
        )

    async def predict(self, predictor: Predictor, row: list[float]) -> list[float]:
        """The class probabilities of one row of floats (NaN: missing), as ``predictor`` gives them
        for the row alone; its errors are raised here."""
        loop = asyncio.get_running_loop()
        if not self._joining:  # no concurrency seen: score at once, and count this turn's rows
            self._turn_rows += 1
            if self._turn_rows == 1:
                loop.call_soon(self._turn_ended)
            self._count(1)
            return _alone(predictor, row)
        key = id(predictor)
        group = self._open.get(key)
        if group is None:
            group = _Group(predictor)
            self._open[key] = group
            if self.wait_s > 0:
                loop.call_later(self.wait_s, self._run, key, group)
            else:
                loop.call_soon(self._run, key, group)
        future = loop.create_future()
        group.rows.append(row)
        group.futures.append(future)
        if len(group.rows) >= self.max_rows:
            self._close(key, group)  # full: its call is already scheduled; later rows start another
        return await future

    def _turn_ended(self) -> None:
        """After every row this turn of the loop had ready: join from now on if there were several."""
        self._joining = self._turn_rows > 1
        self._turn_rows = 0

    def _close(self, key: int, group: _Group) -> None:
        if self._open.get(key) is group:
            del self._open[key]

    def _run(self, key: int, group: _Group) -> None:
        self._close(key, group)
        predictor, rows = group.predictor, group.rows
        if len(rows) == 1 and self.wait_s <= 0:
            self._joining = False  # the concurrency is gone: score at once again
        if len(rows) > 1:
            try:
                matrix = np.array(rows, dtype=np.float64)
                joined = predictor.predict(Batch(len(matrix), matrix, None)).probabilities
                assert joined is not None
                answers = joined.tolist()
            except Exception:  # one row's trouble: score each alone, so each gets its own error
                log.debug("a micro-batch of %d rows failed; scoring them one by one", len(rows))
            else:
                self._count(len(rows))
                for future, probabilities in zip(group.futures, answers, strict=True):
                    if not future.done():  # a request cancelled meanwhile (client gone)
                        future.set_result(probabilities)
                return
        for row, future in zip(rows, group.futures, strict=True):
            self._count(1)
            try:
                probabilities = _alone(predictor, row)
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(probabilities)

    def _count(self, rows: int) -> None:
        self.calls += 1
        self.rows += rows


def _alone(predictor: Predictor, row: list[float]) -> list[float]:
    """One row's probabilities: the single-row path when it takes the row (finite values), else a
    one-row batch, as the unbatched path scores it."""
    if predictor.row_width is not None and all(value == value for value in row):
        found = predictor.predict_row(row)
        if found is not None:
            return found
    probabilities = predictor.predict(Batch(1, np.array([row], dtype=np.float64), None)).probabilities
    assert probabilities is not None
    return probabilities[0].tolist()
