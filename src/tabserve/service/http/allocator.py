"""Keep large request buffers on the heap instead of fresh pages from the kernel.

glibc hands every allocation over ~128 KiB to mmap and returns it on free, so
each 10,000-row batch (a few buffers of several hundred KiB) pays for page
faults and zeroing anew, a large share of a CSV request (docs/benchmarks.md). Raising
the thresholds keeps those buffers in the reusable heap. Other C libraries
have no mallopt; there it is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 16 * 2**20  # larger than any buffer of a max_batch_rows request
TRIM_THRESHOLD_BYTES = 32 * 2**20  # free heap kept for the next batch before returning it


def tune_allocator() -> bool:
    """Apply the thresholds in this process; True when the C library took them."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        log.debug("no mallopt in this C library; allocator left as it is")
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    applied = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )
    log.debug("allocator thresholds %s", "applied" if applied else "refused")
    return applied
