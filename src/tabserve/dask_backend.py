"""Grid-search fits on a Dask cluster, through joblib's dask backend.

Nothing here schedules work itself: scikit-learn hands each fit to joblib,
and joblib's ``dask`` backend hands it to the scheduler. This module only
connects, checks the cluster can take work, and turns failures into errors
that name ``search.dask_address``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from tabserve.errors import BackendUnavailableError, ConfigError

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5
"""How long to try the scheduler before giving up: an unreachable address fails fast."""

WORKER_TIMEOUT_S = 10
"""How long to wait for a worker: a scheduler with none would otherwise hang the search."""


@contextlib.contextmanager
def dask_parallel(
    address: str, connect_timeout_s: float = CONNECT_TIMEOUT_S, worker_timeout_s: float = WORKER_TIMEOUT_S
) -> Iterator[None]:
    """Route joblib work (and so GridSearchCV's fits) to the scheduler at ``address``.

    Raises ConfigError for an address that is not one, and BackendUnavailableError
    when the scheduler cannot be reached or has no worker, before any fit starts.
    """
    import joblib
    from distributed import Client

    check_address(address)
    try:
        client = Client(address, timeout=connect_timeout_s, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise BackendUnavailableError(
            f"search.dask_address: cannot reach the Dask scheduler at {address} "
            f"within {connect_timeout_s:g} s ({exc})",
            public="the Dask scheduler is unreachable",
        ) from None
    try:
        try:
            client.wait_for_workers(1, timeout=worker_timeout_s)
        except (OSError, TimeoutError):
            raise BackendUnavailableError(
                f"search.dask_address: the Dask scheduler at {address} has no worker "
                f"after {worker_timeout_s:g} s; start one with `dask worker {address}`",
                public="the Dask scheduler has no worker",
            ) from None
        workers = len(client.scheduler_info().get("workers", {}))
        log.info("grid search on Dask at %s (%d workers)", address, workers)
        with client.as_current(), joblib.parallel_config(backend="dask"):
            yield
    finally:
        client.close()


def check_address(address: str) -> None:
    """Reject a malformed address up front: a Client built from one never closes cleanly."""
    from distributed.comm import parse_address, parse_host_port
    from distributed.comm.registry import get_backend

    try:
        scheme, location = parse_address(address)
        get_backend(scheme)
        parse_host_port(location)
    except ValueError as exc:
        raise ConfigError(
            f"search.dask_address: {address!r} is not a Dask scheduler address, "
            f"expected tcp://HOST:PORT ({exc})"
        ) from None
