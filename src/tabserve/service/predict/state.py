"""What one server process holds: settings, the registry, one slot per served model, metrics,
the picture cache.

``ServiceState.build`` makes the whole state at once: every part the routes
use exists from then on, so nothing is checked for "not set yet". Opening
connections and starting tasks is the lifespan's job; the registry's engine
connects on first use.

The state imports nothing that runs: the reloader reads and writes slots, and
the state only signals it through ``reload_wanted`` (an ``asyncio.Event``), so
the two never import each other.
"""

from __future__ import annotations

import asyncio
import enum
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tabserve.config import Settings
from tabserve.errors import BackendUnavailableError, NoModelError, NotFoundError
from tabserve.jobs.launcher import JobManager
from tabserve.monitoring.collector import WatchCollector
from tabserve.monitoring.watch import Watch
from tabserve.service.predict.metrics import ServiceMetrics
from tabserve.service.predict.versions import LoadedVersions

if TYPE_CHECKING:
    from tabserve.predictor import Predictor
    from tabserve.registry import ModelStore

STARTING = "starting: the model is not loaded yet"
MAX_CACHED_PICTURES = 16


class SlotStatus(enum.Enum):
    """Where following a model's production alias stands; the reloader is the only writer."""

    LOADING = "loading"  # the registry has not answered for this model yet
    SERVING = "serving"  # the alias's version is the one loaded
    NO_MODEL = "no_model"  # the registry has no production version for it
    LOAD_FAILED = "load_failed"  # the alias's version cannot be loaded; an older one may be served
    UNREACHABLE = "unreachable"  # the registry does not answer; what was loaded is still served


@dataclass
class ModelSlot:
    """One served model: the version loaded now, where following its alias stands, and why.

    ``predictor`` is replaced by a single attribute assignment, which is atomic:
    a request reads it once and finishes on that object even if a reload swaps
    in another meanwhile. ``status`` and ``reason`` change together, only in
    ``set_status``.
    """

    name: str
    predictor: Predictor | None = None
    status: SlotStatus = SlotStatus.LOADING
    reason: str = STARTING  # why the status is not SERVING; "" when it is
    # The alias's version that could not be loaded and why: not tried again until the alias moves.
    unloadable: tuple[int, str] | None = None

    def set_status(self, status: SlotStatus, reason: str = "") -> bool:
        """Move to ``status``; True when that changed the status or its reason (worth a log line)."""
        changed = (status, reason) != (self.status, self.reason)
        self.status = status
        self.reason = reason
        return changed

    @property
    def degraded_reason(self) -> str:
        """Why the version served is not the alias's (it cannot be loaded); "" when it is, or none is."""
        current, unloadable = self.predictor, self.unloadable
        if self.status is not SlotStatus.LOAD_FAILED or current is None or unloadable is None:
            return ""
        version, why = unloadable
        return (
            f"the production alias is on version {version}, which cannot be loaded ({why}); "
            f"still serving version {current.version}"
        )

    def require(self) -> Predictor:
        """The production predictor, or the error that says why there is none."""
        predictor = self.predictor
        if predictor is not None:
            return predictor
        if self.status is SlotStatus.UNREACHABLE:
            raise BackendUnavailableError(f"model '{self.name}': no version is loaded: {self.reason}")
        raise NoModelError(f"{self.unready_reason()}; it is served as soon as it is registered")

    def unready_reason(self) -> str:
        """Why nothing is loaded, saying once how to train a model when that is what is missing."""
        if self.status in (SlotStatus.LOADING, SlotStatus.UNREACHABLE):
            return f"model '{self.name}': {self.reason}"
        return (
            f"model '{self.name}': no version is loaded ({self.reason}); train one with "
            f"`tabserve train` or POST /models/{self.name}/train"
        )


class PictureCache:
    """PNG bytes by key (service/ops/pictures.py fills it); oldest dropped past ``MAX_CACHED_PICTURES``."""

    def __init__(self) -> None:
        self._items: dict[str, bytes] = {}
        self._lock = threading.Lock()
        # The newest pairplot: (key, data hash, monotonic time its data was last read).
        self.latest_pairplot: tuple[str, str, float] | None = None

    def get(self, key: str) -> bytes | None:
        with self._lock:
            return self._items.get(key)

    def put(self, key: str, data: bytes) -> None:
        with self._lock:
            self._items[key] = data
            while len(self._items) > MAX_CACHED_PICTURES:
                self._items.pop(next(iter(self._items)))


@dataclass
class ServiceState:
    """Shared by every route of one app; ``slots`` keeps the order of ``server.models``.

    ``jobs`` exists on every install: on a serve-only one (no training extra)
    starting a job is a ServeOnlyError, while listing and failing stale jobs work.
    """

    settings: Settings
    registry: ModelStore
    jobs: JobManager
    watch: Watch  # drift, prediction log, shadow; inactive (never called) with monitoring off
    metrics: ServiceMetrics
    slots: dict[str, ModelSlot] = field(init=False)
    default: ModelSlot = field(init=False)
    versions: LoadedVersions = field(init=False)
    pictures: PictureCache = field(default_factory=PictureCache)
    # Set to make the reloader look at the aliases now; set from any thread with ``model_changed``.
    reload_wanted: asyncio.Event = field(default_factory=asyncio.Event)
    # Background tasks that died, by name, with the reason: /readyz is 503 while any is here.
    task_failures: dict[str, str] = field(default_factory=dict)
    # The running loop, for wake-ups from threads; bound by the lifespan (before it, nothing runs).
    _loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.slots = {name: ModelSlot(name) for name in self.settings.served_models()}
        self.default = next(iter(self.slots.values()))
        self.versions = LoadedVersions(self.settings.server.max_loaded_versions)

    @classmethod
    def build(cls, settings: Settings, registry: ModelStore) -> ServiceState:
        """The whole state of a server on ``registry``: jobs, the watch and their metrics included."""
        metrics = ServiceMetrics()
        watch = Watch(settings, lambda: registry)
        metrics.watch_jobs(lambda: registry.metadata.job_counts())
        metrics.add_collector(WatchCollector(watch))
        return cls(settings, registry, JobManager(settings, lambda: registry), watch, metrics)

    def bind_loop(self) -> None:
        """Remember the event loop (at startup) so that threads can wake the reloader."""
        self._loop = asyncio.get_running_loop()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop the server runs on (for tests and threads that hand work to it)."""
        if self._loop is None:
            raise RuntimeError("the service has not started: no event loop is bound")
        return self._loop

    def slot(self, name: str) -> ModelSlot:
        """The slot of a served model; NotFoundError naming it (and what is served) otherwise."""
        found = self.slots.get(name)
        if found is None:
            served = ", ".join(self.slots)
            raise NotFoundError(f"model '{name[:100]}' is not served by this server (it serves: {served})")
        return found

    def model_changed(self) -> None:
        """A promote or rollback happened here: look at the aliases now rather than at the next poll."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.reload_wanted.set)

    def task_died(self, name: str, reason: str) -> None:
        """A background task ended for good: counted, and /readyz says so until the process restarts."""
        self.task_failures[name] = reason
        self.metrics.count_task_failure(name)

    def unready_reason(self) -> str | None:
        """Why /readyz is 503 (a dead task, or a model with no version loaded), or None when ready."""
        for name, reason in self.task_failures.items():
            return f"background task '{name}' died: {reason}"
        for slot in self.slots.values():
            if slot.predictor is None:
                return slot.unready_reason()
        return None
