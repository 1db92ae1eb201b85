"""Follow each served model's production alias: load at start, then swap on promotion.

One asyncio task per server process polls the registry for every served model
(one round per ``server.reload_interval_s``, or at once when
``state.reload_wanted`` is set). Registry calls and model loading run in a
worker thread so requests keep flowing; the swap itself is one attribute
assignment. Every error is handled per model and the loop goes on: an
unreachable database means backoff and a reason on /readyz; a version that
cannot be loaded is skipped until the alias moves again. Each round also
follows each model's canary (``canary_follow.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time

from tabserve.errors import BackendUnavailableError, NoModelError, TabserveError
from tabserve.service.predict.canary_follow import CanaryFollower
from tabserve.service.predict.state import ModelSlot, ServiceState, SlotStatus

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 30.0
RETRYING = f"; retrying with backoff (at most {MAX_BACKOFF_S:.0f} s apart)"


class Reloader:
    """Polls ``ModelStore.serving_version`` for every slot; each slot's ``status`` says where it stands."""

    def __init__(self, state: ServiceState) -> None:
        self.state = state
        self.interval = state.settings.server.reload_interval_s
        self._swapped = False
        self.canaries = CanaryFollower(state)

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
            # After the alias: a promoted candidate is production now. A loaded one joins the freeze.
            self._swapped = await self.canaries.check(slot) or self._swapped
        if self._swapped:  # once per round, however many models were swapped in it
            collect_ms, frozen = refreeze_heap()
            log.info("heap collected in %.0f ms after the swap; %d objects frozen", collect_ms, frozen)
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
            self._move(slot, SlotStatus.UNREACHABLE, str(exc), public=exc.public)
            return False
        except NoModelError as exc:
            self._move(slot, SlotStatus.NO_MODEL, str(exc))
            return True
        except TabserveError as exc:
            if version is None:  # the alias itself could not be read (e.g. a transient conflict)
                self._move(
                    slot,
                    SlotStatus.UNREACHABLE,
                    f"cannot read the production alias: {exc}",
                    public="cannot read the production alias (the server log says why)",
                )
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
        self._swapped = True
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

    def _move(self, slot: ModelSlot, status: SlotStatus, reason: str = "", public: str | None = None) -> None:
        """Set the slot's status, saying why once (not every poll) and keeping /metrics in step.

        ``reason`` goes to the log; /readyz, 503s and pages show ``public`` when given (an
        outage's details, such as the database host, stay in the log).
        """
        was = slot.status
        if not slot.set_status(status, public or reason):
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
    """The version as this server serves it, once it answered its smoke prediction: until then the
    slot stays not ready (or keeps serving the version it has)."""
    from tabserve.smoke import load_checked

    return load_checked(registry, model, version)
