"""A training job's limits: how long it may run and how much memory its process may take.

``server.job_timeout_s`` is enforced twice: by the job process itself (a timer
that interrupts training, so the job records why it stopped) and by the server
that started it (which kills a process still running well past the limit, in
case the timer could not fire). ``server.job_memory_mb`` caps the job process's
address space (``RLIMIT_AS``), inherited by the worker processes it starts, so
each is bounded: an allocation beyond it raises MemoryError instead of the
machine swapping or the kernel killing the server.
"""

from __future__ import annotations

import contextlib
import resource
import signal
from collections.abc import Iterator

from tabserve.errors import TabserveError

# The server kills a job this long after its timeout: the job's own timer had its chance.
KILL_GRACE_S = 30.0


class JobLimitError(TabserveError):
    """A training job went over one of its limits."""


def timeout_message(seconds: float) -> str:
    return f"the job ran longer than server.job_timeout_s ({seconds:g} s) and was stopped"


def memory_message(megabytes: int) -> str:
    return f"the job needed more memory than server.job_memory_mb ({megabytes} MB) allows"


def apply_memory_limit(megabytes: int | None) -> None:
    """Cap this process's address space (and its future children's) at ``megabytes``; None: no cap."""
    if megabytes is None:
        return
    limit = megabytes * 2**20
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise JobLimitError in the main thread once ``seconds`` have passed inside the block."""

    def expired(_signum: int, _frame: object) -> None:
        raise JobLimitError(timeout_message(seconds))

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
