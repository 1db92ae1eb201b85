"""Follow the registry's production alias: load at start, then swap on promotion.

Runs as one asyncio task per server process. Registry calls and model loading
run in a worker thread so requests keep flowing; the swap itself is one
attribute assignment. When the database is unreachable the task keeps trying
with backoff and says why, and /readyz stays 503 until a model is loaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time

from tabserve.errors import BackendUnavailableError, NoModelError, TabserveError
from tabserve.service.state import ServiceState

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0
RETRYING = f"; retrying with backoff (at most {MAX_BACKOFF_S:.0f} s apart)"


class Reloader:
    """Polls ``Registry.serving_version`` every ``server.reload_interval_s``."""

    def __init__(self, state: ServiceState) -> None:
        self.state = state
        self.interval = state.settings.server.reload_interval_s
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failed_version: int | None = None
        self._last_problem: str | None = None
        self._backend_down = False

    def wake(self) -> None:
        """Check now (after a promote or rollback made here); safe from any thread."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        failures = 0
        while True:
            ok = await self.check_once()
            failures = 0 if ok else failures + 1
            delay = self.interval if ok else min(self.interval * 2 ** min(failures, 8), MAX_BACKOFF_S)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)

    async def check_once(self) -> bool:
        """One poll; False when the registry could not be reached (so the caller backs off)."""
        state = self.state
        try:
            registry = state.require_registry()
            model = state.settings.model
            version = await asyncio.to_thread(registry.serving_version, model)
            current = state.predictor
            if (current is not None and current.version == version) or version == self._failed_version:
                self._backend_back()  # the registry answered and there is nothing new to load
                return True
            started = time.perf_counter()
            predictor = await asyncio.to_thread(_load, registry, model, version)
        except BackendUnavailableError as exc:
            self._not_ready(str(exc), backend_down=True)
            return False
        except NoModelError as exc:
            self._not_ready(str(exc), backend_down=False)
            return True
        except TabserveError as exc:
            self._failed_version = version
            log.error("cannot load %s version %d, keeping the current model: %s", model, version, exc)
            if state.predictor is None:
                self._not_ready(str(exc), backend_down=False)
            return True
        except Exception:
            log.exception("unexpected error while following the production alias")
            return False
        previous = state.predictor
        state.predictor = predictor  # the swap: in-flight requests keep the object they read
        state.not_ready_reason = ""
        state.backend_down = False
        self._failed_version = None
        self._last_problem = None
        self._backend_down = False
        state.metrics.set_model_version(model, version)
        _freeze_heap()
        log.info(
            "serving %s version %d (was %s), loaded in %.0f ms",
            model,
            version,
            previous.version if previous else "none",
            1000 * (time.perf_counter() - started),
        )
        return True

    def _backend_back(self) -> None:
        """The registry answered: say so once after an outage, so that the next outage is reported too."""
        if self._backend_down:
            self._backend_down = False
            self._last_problem = None
            log.info("the registry answers again")

    def _not_ready(self, reason: str, backend_down: bool) -> None:
        if not backend_down:
            self._backend_back()
        if reason != self._last_problem:  # say why once, not every poll
            current = self.state.predictor
            retrying = RETRYING if backend_down else ""
            if current is None:
                log.warning("no model served yet: %s%s", reason, retrying)
            else:
                log.warning(
                    "cannot check the production alias, still serving version %d: %s%s",
                    current.version,
                    reason,
                    retrying,
                )
            self._last_problem = reason
        self._backend_down = backend_down
        if self.state.predictor is None:
            self.state.not_ready_reason = reason
            self.state.backend_down = backend_down


def _freeze_heap() -> None:
    """Move everything alive now (app, model, libraries) out of the collector's sight.

    Later collections then scan only objects made by requests, so no request
    waits behind a full-heap collection (the tens-of-ms pauses behind other
    servers' p99). No gc.collect() first: it would stall the event loop.
    """
    gc.freeze()


def _load(registry, model: str, version: int):  # noqa: ANN001 - runs in a thread
    from tabserve.predictor import Predictor

    return Predictor.load(registry, model, version)
