"""``eventually``: the one way the tests wait for something another thread or process does."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import httpx

T = TypeVar("T")


def eventually(
    condition: Callable[[], T], what: str = "the condition", timeout: float = 60, interval: float = 0.05
) -> T:
    """Call ``condition`` until it returns something truthy and return that; fail naming ``what``
    (and the last value or error) once ``timeout`` seconds pass.

    The timeout is a hang guard, not a speed claim: it is generous, and a test asserts the
    behaviour it waited for, never how long it took. A condition that raises AssertionError or
    a connection error is retried like a false one.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = condition()
        except (AssertionError, OSError, httpx.TransportError) as exc:
            value, last = None, exc
        else:
            if value:
                return value
            last = value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} did not happen within {timeout:g} s (last: {last!r})")
        time.sleep(interval)
