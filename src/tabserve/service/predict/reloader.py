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

from tabserve.errors import BackendUnavailableError, NoModelError, TabserveError
from tabserve.service.predict.state import ModelSlot, ServiceState, SlotStatus

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0
RETRYING = f"; retrying with backoff (at most {MAX_BACKOFF_S:.0f} s apart)"


class Reloader:
    """Polls ``Registry.serving_version`` for every slot; each slot's ``status`` says where it stands."""

    def __init__(self, state: ServiceState) -> None:
        self.state = state
        self.interval = state.settings.server.reload_interval_s

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
        for slot in self.state.slots.values():
            ok = await self._check(slot) and ok
        return ok

    async def _check(self, slot: ModelSlot) -> bool:
        registry = self.state.registry
        version: int | None = None
        try:
            version = await asyncio.to_thread(registry.serving_version, slot.name)
            current = slot.predictor
            if current is not None and current.version == version:
                self._move(slot, SlotStatus.SERVING)  # the alias came back to what is served
                return True
            if slot.unloadable is not None and slot.unloadable[0] == version:
                self._cannot_load(slot, version, slot.unloadable[1])  # known: not tried again
                return True
            started = time.perf_counter()
            predictor = await asyncio.to_thread(_load, registry, slot.name, version)
        except BackendUnavailableError as exc:
            self._move(slot, SlotStatus.UNREACHABLE, str(exc))
            return False
        except NoModelError as exc:
            self._move(slot, SlotStatus.NO_MODEL, str(exc))
            return True
        except TabserveError as exc:
            if version is None:  # the alias itself could not be read (e.g. a transient conflict)
                self._move(slot, SlotStatus.UNREACHABLE, f"cannot read the production alias: {exc}")
                return False
            self._cannot_load(slot, version, str(exc))
            return True
        except Exception as exc:
            log.exception("unexpected error while following the production alias of %s", slot.name)
            self._move(slot, SlotStatus.UNREACHABLE, f"unexpected error: {type(exc).__name__}")
            return False
        previous = slot.predictor
        slot.predictor = predictor  # the swap: in-flight requests keep the object they read
        slot.unloadable = None
        self._move(slot, SlotStatus.SERVING)
        self.state.metrics.set_model_version(slot.name, version)
        _freeze_heap()
        log.info(
            "serving %s version %d (was %s), loaded in %.0f ms",
            slot.name,
            version,
            previous.version if previous else "none",
            1000 * (time.perf_counter() - started),
        )
        return True

    def _cannot_load(self, slot: ModelSlot, version: int, why: str) -> None:
        if slot.unloadable != (version, why):
            log.error("cannot load %s version %d, keeping the current model: %s", slot.name, version, why)
        slot.unloadable = (version, why)
        self._move(slot, SlotStatus.LOAD_FAILED, f"cannot load version {version}: {why}")

    def _move(self, slot: ModelSlot, status: SlotStatus, reason: str = "") -> None:
        """Set the slot's status, saying why once (not every poll) and keeping /metrics in step."""
        was = slot.status
        if not slot.set_status(status, reason):
            return
        self.state.metrics.set_alias_unloadable(slot.name, bool(slot.degraded_reason))
        if was is SlotStatus.UNREACHABLE and status is not SlotStatus.UNREACHABLE:
            log.info("the registry answers again for %s", slot.name)
        if status is SlotStatus.SERVING or status is SlotStatus.LOAD_FAILED:
            return  # the swap and the load failure are logged where they happen
        retrying = RETRYING if status is SlotStatus.UNREACHABLE else ""
        current = slot.predictor
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
