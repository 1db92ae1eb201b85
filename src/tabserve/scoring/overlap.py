"""Reading and writing beside the scoring: the next chunk is read, and the last one written, while
the model scores this one.

Arrow's Parquet decoding and encoding and ONNX Runtime release the GIL, so on
more than one core the three overlap instead of queueing. At most ``depth``
chunks wait in between, so memory still follows the chunk, never the table;
an error on either side reaches the scoring loop as if it had happened there.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
_POLL_S = 0.1


def prefetched(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    """``items``, produced by a thread of its own at most ``depth`` ahead of the consumer.

    Closing this generator early stops the producer and closes ``items`` in the producer's thread.
    """
    handoff: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                handoff.put(entry, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(("item", item)):
                    return
            put(("end", None))
        except BaseException as exc:  # handed to the consumer, raised there
            put(("error", exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="tabserve-score-read", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = handoff.get()
            if kind == "item":
                yield value
            elif kind == "error":
                raise value
            else:
                return
    finally:
        stop.set()
        thread.join()


class BackgroundCalls:
    """Calls run in order on a thread of their own, one at a time: ``submit`` returns at once
    unless the previous call is still running. ``drain`` waits for it and raises its error."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tabserve-score-write")
        self._pending: Future[Any] | None = None

    def submit(self, call: Callable[..., Any], *args: Any) -> None:
        self.drain()
        self._pending = self._pool.submit(call, *args)

    def drain(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        """Wait for what is running (its error, if any, is the caller's to have seen) and stop."""
        try:
            self.drain()
        finally:
            self._pool.shutdown(wait=True)
