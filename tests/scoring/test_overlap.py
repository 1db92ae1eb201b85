"""Reading ahead and writing behind: items in order, errors raised in the loop, nothing left running."""

from __future__ import annotations

import threading
import time

import pytest

from tabserve.errors import DataError
from tabserve.scoring.overlap import BackgroundCalls, prefetched


def test_items_arrive_in_order_and_a_producer_error_is_raised_in_the_loop():
    def items():
        yield from range(5)
        raise DataError("score: input partition p is not a readable CSV")

    seen = []
    with pytest.raises(DataError, match="not a readable CSV"):
        for item in prefetched(items()):
            seen.append(item)
    assert seen == [0, 1, 2, 3, 4]


def test_stopping_early_closes_the_source_in_its_thread_and_reads_at_most_depth_ahead():
    produced, closed = [], threading.Event()

    def items():
        try:
            for i in range(1000):
                produced.append(i)
                yield i
        finally:
            closed.set()

    reading = prefetched(items(), depth=1)
    assert next(reading) == 0
    time.sleep(0.3)  # time to run ahead, if it could
    assert len(produced) <= 3  # the one taken, one waiting, one being handed over
    reading.close()
    assert closed.is_set()
    assert not [t for t in threading.enumerate() if t.name == "tabserve-score-read"]


def test_calls_run_in_order_and_an_error_surfaces_at_the_next_call_or_drain():
    calls = BackgroundCalls()
    done = []
    for i in range(4):
        calls.submit(done.append, i)
    calls.drain()
    assert done == [0, 1, 2, 3]

    def fail() -> None:
        raise OSError("disk full")

    calls.submit(fail)
    with pytest.raises(OSError, match="disk full"):
        calls.submit(done.append, 4)
    calls.close()
    assert done == [0, 1, 2, 3]
