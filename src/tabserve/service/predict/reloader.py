"""Follow each served model's production alias: load at start, then swap on promotion.

One asyncio task per server process polls the registry for every served model
(one round per ``server.reload_interval_s``, or at once when
``state.reload_wanted`` is set). Registry calls and model loading run in a
worker thread so requests keep flowing; the swap itself is one attribute
assignment. Every error is handled per model and the loop goes on: an
unreachable database means backoff and a reason on /readyz; a version that
cannot be loaded is skipped until the alias moves again.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from dataclasses import dataclass

from tabserve.errors import BackendUnavailableError, NoModelError, TabserveError
from tabserve.service.predict.state import ModelSlot, ServiceState

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0
RETRYING = f"; retrying with backoff (at most {MAX_BACKOFF_S:.0f} s apart)"


@dataclass
class _Follow:
    """What the reloader remembers about one model between polls (the slot holds the rest)."""

    failed_version: int | None = None
    last_problem: str | None = None
    backend_down: bool = False


class Reloader:
    """Polls ``Registry.serving_version`` for every slot of the state."""

    def __init__(self, state: ServiceState) -> None:
        self.state = state
        self.interval = state.settings.server.reload_interval_s
        self._follow = {name: _Follow() for name in state.slots}
        self._swapped = False

    async def run(self) -> None:
        wanted = self.state.reload_wanted
        failures = 0
        while True:
            wanted.clear()
            ok = await self.check_once()
            self.state.metrics.count_reloader_poll()
            failures = 0 if ok else failures + 1
            delay = self.interval if ok else min(self.interval * 2 ** min(failures, 8), MAX_BACKOFF_S)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wanted.wait(), timeout=delay)

    async def check_once(self) -> bool:
        """One round over every model; False when any could not be checked (so the caller backs off)."""
        ok = True
        self._swapped = False
        for slot in self.state.slots.values():
            ok = await self._check(slot) and ok
        if self._swapped:  # once per round, however many models were swapped in it
            collect_ms, frozen = refreeze_heap()
            log.info("heap collected in %.0f ms after the swap; %d objects frozen", collect_ms, frozen)
        return ok

    async def _check(self, slot: ModelSlot) -> bool:
        state = self.state
        follow = self._follow[slot.name]
        version: int | None = None
        try:
            registry = state.require_registry()
            version = await asyncio.to_thread(registry.serving_version, slot.name)
            current = slot.predictor
            if current is not None and current.version == version and slot.degraded_reason:
                self._degraded(slot, "")  # the alias came back to what is served
            if (current is not None and current.version == version) or version == follow.failed_version:
                self._backend_back(slot, follow)  # the registry answered and there is nothing new to load
                return True
            started = time.perf_counter()
            predictor = await asyncio.to_thread(_load, registry, slot.name, version)
        except BackendUnavailableError as exc:
            self._not_ready(slot, follow, str(exc), backend_down=True, public=exc.public)
            return False
        except NoModelError as exc:
            self._not_ready(slot, follow, str(exc), backend_down=False)
            return True
        except TabserveError as exc:
            if version is None:  # the alias itself could not be read (e.g. a transient conflict)
                self._not_ready(
                    slot,
                    follow,
                    f"cannot read the production alias: {exc}",
                    backend_down=True,
                    public="cannot read the production alias (the server log says why)",
                )
                return False
            follow.failed_version = version
            log.error("cannot load %s version %d, keeping the current model: %s", slot.name, version, exc)
            if slot.predictor is not None:
                self._degraded(
                    slot,
                    f"the production alias is on version {version}, which cannot be loaded ({exc}); "
                    f"still serving version {slot.predictor.version}",
                )
            self._not_ready(slot, follow, f"cannot load version {version}: {exc}", backend_down=False)
            return True
        except Exception as exc:
            log.exception("unexpected error while following the production alias of %s", slot.name)
            self._not_ready(slot, follow, f"unexpected error: {type(exc).__name__}", backend_down=True)
            return False
        previous = slot.predictor
        slot.predictor = predictor  # the swap: in-flight requests keep the object they read
        self._degraded(slot, "")
        slot.not_ready_reason = ""
        slot.backend_down = False
        follow.failed_version = None
        follow.last_problem = None
        follow.backend_down = False
        state.metrics.set_model_version(slot.name, version)
        self._swapped = True
        log.info(
            "serving %s version %d (was %s), loaded in %.0f ms",
            slot.name,
            version,
            previous.version if previous else "none",
            1000 * (time.perf_counter() - started),
        )
        return True

    def _degraded(self, slot: ModelSlot, reason: str) -> None:
        """Say on /readyz and /metrics whether the served version is behind an unloadable alias."""
        slot.degraded_reason = reason
        self.state.metrics.set_alias_unloadable(slot.name, bool(reason))

    @staticmethod
    def _backend_back(slot: ModelSlot, follow: _Follow) -> None:
        """The registry answered: say so once after an outage, so that the next outage is reported too."""
        if follow.backend_down:
            follow.backend_down = False
            follow.last_problem = None
            log.info("the registry answers again for %s", slot.name)

    def _not_ready(
        self, slot: ModelSlot, follow: _Follow, reason: str, backend_down: bool, public: str | None = None
    ) -> None:
        """Log ``reason`` (once per change); /readyz, 503s and pages get ``public`` when given."""
        if not backend_down:
            self._backend_back(slot, follow)
        if reason != follow.last_problem:  # say why once, not every poll
            current = slot.predictor
            retrying = RETRYING if backend_down else ""
            if current is None:
                log.warning("%s: no version served yet: %s%s", slot.name, reason, retrying)
            else:
                log.warning(
                    "%s: cannot check the production alias, still serving version %d: %s%s",
                    slot.name,
                    current.version,
                    reason,
                    retrying,
                )
            follow.last_problem = reason
        follow.backend_down = backend_down
        if slot.predictor is None:
            slot.not_ready_reason = public or reason
            slot.backend_down = backend_down


def refreeze_heap() -> tuple[float, int]:
    """Move everything alive now (app, model, libraries) out of the collector's sight.

    Later collections then scan only objects made by requests, so no request
    waits behind a full-heap collection. Frozen objects are never collected, so
    the previous freeze is undone and the heap collected first: otherwise the
    replaced model's cyclic garbage would stay frozen, and memory would grow with
    every swap. That one full collection per swap is the price, paid once per
    promotion instead of behind arbitrary requests.

    Returns the collection's milliseconds and the number of objects now frozen.
    """
    started = time.perf_counter()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    return 1000 * (time.perf_counter() - started), gc.get_freeze_count()


def _load(registry, model: str, version: int):  # noqa: ANN001 - runs in a thread
    from tabserve.predictor import Predictor

    return Predictor.load(registry, model, version)
