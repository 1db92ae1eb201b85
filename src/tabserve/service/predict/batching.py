"""Micro-batching: concurrent single rows for one version scored in one model call.

A tree ensemble or booster served by ONNX Runtime pays a fixed cost per call
that dwarfs one row's work, so rows that become ready together are worth
scoring together. Nothing waits on a timer by default: the first row of a
group schedules the call with ``loop.call_soon``, so it runs as soon as the
requests the event loop has already taken in (the rows that arrived while the
previous call ran) have each decoded and validated their own row and joined;
a lone request only yields once to the loop. ``server.batch_wait_us`` > 0
makes a group wait that long for more rows instead.

Rows join a group per (version, ``labels_only``), so every row is scored by
the same call it would have had alone, and each gets its own slice of the
result. If the shared call fails (one row's values make the model's output
non-finite, say), every row of the group is scored alone, so each request gets
exactly the answer or the error it would have had without batching. Each
request does its own metrics and drift accounting with its slice
(``PredictCore.predict_joined``)::

    batcher = MicroBatcher(wait_s=0.0, max_rows=64)
    prediction = await batcher.predict(predictor, matrix_1xF, labels_only=False)
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tabserve.inputs import Batch
from tabserve.predictor import Prediction, Predictor

log = logging.getLogger(__name__)


@dataclass
class _Group:
    """Rows waiting for one call: their 1xF matrices and the futures their requests await."""

    predictor: Predictor
    labels_only: bool
    rows: list[np.ndarray] = field(default_factory=list)
    futures: list[asyncio.Future] = field(default_factory=list)


class MicroBatcher:
    """Joins single rows per version into one ``Predictor.predict`` call; one per app."""

    def __init__(self, wait_s: float, max_rows: int) -> None:
        self.wait_s = wait_s
        self.max_rows = max(1, max_rows)
        self._open: dict[tuple[int, bool], _Group] = {}
        self.calls = 0  # model calls made, and rows scored by them (for benchmarks and tests)
        self.rows = 0

    def takes(self, predictor: Predictor, batch: Batch, interval: float | None = None) -> bool:
        """True for one numeric row for a classifier without a pure-Python row path (whose single
        rows are cheaper alone) and no interval asked."""
        return (
            batch.rows == 1
            and batch.matrix is not None
            and predictor.row_width is None
            and interval is None
            and not predictor.is_regression
        )

    async def predict(self, predictor: Predictor, matrix: np.ndarray, labels_only: bool) -> Prediction:
        """The prediction of one validated row (a 1xF float matrix), as ``predictor.predict`` alone
        would give it; its errors are raised here."""
        loop = asyncio.get_running_loop()
        key = (id(predictor), labels_only)
        group = self._open.get(key)
        if group is None:
            group = _Group(predictor, labels_only)
            self._open[key] = group
            if self.wait_s > 0:
                loop.call_later(self.wait_s, self._run, key, group)
            else:
                loop.call_soon(self._run, key, group)
        future = loop.create_future()
        group.rows.append(matrix)
        group.futures.append(future)
        if len(group.rows) >= self.max_rows:
            self._close(key, group)  # full: its call is already scheduled; later rows start another
        return await future

    def _close(self, key: tuple[int, bool], group: _Group) -> None:
        if self._open.get(key) is group:
            del self._open[key]

    def _run(self, key: tuple[int, bool], group: _Group) -> None:
        self._close(key, group)
        predictor, labels_only = group.predictor, group.labels_only
        if len(group.rows) > 1:
            try:
                matrix = np.concatenate(group.rows)
                joined = predictor.predict(Batch(len(matrix), matrix, None), labels_only)
            except Exception:  # one row's trouble: score each alone, so each gets its own error
                log.debug("a micro-batch of %d rows failed; scoring them one by one", len(group.rows))
            else:
                self._count(len(group.rows))
                for position, future in enumerate(group.futures):
                    if not future.done():  # a request cancelled meanwhile (client gone)
                        future.set_result(_row(joined, position))
                return
        for matrix, future in zip(group.rows, group.futures, strict=True):
            self._count(1)
            try:
                prediction = predictor.predict(Batch(1, matrix, None), labels_only)
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(prediction)

    def _count(self, rows: int) -> None:
        self.calls += 1
        self.rows += rows


def _row(joined: Prediction, position: int) -> Prediction:
    """Row ``position`` of a joined prediction, shaped as a one-row prediction of its own."""
    end = position + 1
    probabilities: Any = joined.probabilities
    return Prediction(
        joined.labels[position:end],
        None if probabilities is None else probabilities[position:end],
        joined.classes,
        joined.indices[position:end],
    )
