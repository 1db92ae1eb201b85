"""Grid-search fits on a Dask cluster, through joblib's dask backend."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from tabserve.errors import BackendUnavailableError

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5


@contextlib.contextmanager
def dask_parallel(address: str) -> Iterator[None]:
    """Route joblib work (and so GridSearchCV's fits) to the scheduler at ``address``."""
    import joblib
    from distributed import Client

    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise BackendUnavailableError(
            f"search.dask_address: cannot reach the Dask scheduler at {address} "
            f"within {CONNECT_TIMEOUT_S} s ({exc})"
        ) from None
    log.info("grid search on Dask at %s (%d workers)", address, len(client.scheduler_info()["workers"]))
    try:
        with client.as_current(), joblib.parallel_config(backend="dask"):
            yield
    finally:
        client.close()
