"""Training worker processes die with the process that started them.

joblib's loky workers outlive a parent killed with SIGKILL (they hold both
ends of their own pipes and wait for work for minutes). Each worker asks the
kernel for SIGKILL when its parent goes (``PR_SET_PDEATHSIG``), and exits at
once if the parent is already gone by the time it asks.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
import sys
from collections.abc import Iterator

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """loky worker initializer: SIGKILL this process when its parent exits (Linux; elsewhere a no-op)."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
        return
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)


@contextlib.contextmanager
def workers_die_with_this_process() -> Iterator[None]:
    """Within this block, joblib's default process backend starts workers that die with this process."""
    import joblib

    with joblib.parallel_config(backend="loky", initializer=die_with_parent, initargs=(os.getpid(),)):
        yield
