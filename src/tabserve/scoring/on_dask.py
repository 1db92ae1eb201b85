"""Partitions as tasks on a Dask cluster: the job's settings and a partition go out, markers come back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tabserve.errors import BackendUnavailableError
from tabserve.scoring.partitions import Partition


def score_on_cluster(address: str, job: Any, pending: list[Partition]) -> Iterator[dict[str, Any]]:
    """Each pending partition scored on a worker; markers in the order they finish."""
    from dask.distributed import Client, as_completed

    from tabserve.scoring.work import score_on_worker

    try:
        client = Client(address, timeout=10, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise BackendUnavailableError(
            f"score: cannot reach the Dask scheduler at {address} ({type(exc).__name__})"
        ) from None
    try:
        with client.as_current():
            futures = [client.submit(score_on_worker, p, job, pure=False) for p in pending]
            for future in as_completed(futures):
                yield future.result()
    finally:
        client.close()
