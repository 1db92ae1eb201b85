"""What one server process holds: settings, the registry, one slot per served model, metrics.

The state imports nothing that runs: the reloader reads and writes slots, and
the state only signals it through ``reload_wanted`` (an ``asyncio.Event``), so
the two never import each other.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tabserve.config import Settings
from tabserve.errors import BackendUnavailableError, NoModelError, NotFoundError
from tabserve.service.ops.metrics import ServiceMetrics
from tabserve.service.ops.pictures import PictureCache
from tabserve.service.predict.versions import LoadedVersions

if TYPE_CHECKING:
    from tabserve.jobs.launcher import JobManager
    from tabserve.monitoring.watch import Watch
    from tabserve.predictor import Predictor
    from tabserve.registry import Registry

STARTING = "starting: the model is not loaded yet"


@dataclass
class ModelSlot:
    """One served model: the production version loaded now, or why there is none.

    ``predictor`` is replaced by a single attribute assignment, which is atomic:
    a request reads it once and finishes on that object even if a reload swaps
    in another meanwhile.
    """

    name: str
    predictor: Predictor | None = None
    # Why nothing is loaded, for /readyz and 503s; "" once a model is up.
    not_ready_reason: str = STARTING
    backend_down: bool = False
    # Why the production alias's version is not the one served (it failed to load); "" when it is.
    degraded_reason: str = ""

    def require(self) -> Predictor:
        """The production predictor, or the error that says why there is none."""
        predictor = self.predictor
        if predictor is not None:
            return predictor
        if self.backend_down:
            raise BackendUnavailableError(
                f"model '{self.name}': no version is loaded: {self.not_ready_reason}"
            )
        raise NoModelError(f"{self.unready_reason()}; it is served as soon as it is registered")

    def unready_reason(self) -> str:
        """Why nothing is loaded, saying once how to train a model when that is what is missing."""
        if self.backend_down or self.not_ready_reason == STARTING:
            return f"model '{self.name}': {self.not_ready_reason}"
        return (
            f"model '{self.name}': no version is loaded ({self.not_ready_reason}); train one with "
            f"`tabserve train` or POST /models/{self.name}/train"
        )


@dataclass
class ServiceState:
    """Shared by every route of one app; ``slots`` keeps the order of ``server.models``."""

    settings: Settings
    metrics: ServiceMetrics = field(default_factory=ServiceMetrics)
    registry: Registry | None = None
    jobs: JobManager | None = None
    watch: Watch | None = None  # set by the app factory: drift, prediction log, shadow
    slots: dict[str, ModelSlot] = field(init=False)
    default: ModelSlot = field(init=False)
    versions: LoadedVersions = field(init=False)
    pictures: PictureCache = field(default_factory=PictureCache)
    # Set to make the reloader look at the aliases now; set from any thread with ``model_changed``.
    reload_wanted: asyncio.Event = field(default_factory=asyncio.Event)
    # Background tasks that died, by name, with the reason: /readyz is 503 while any is here.
    task_failures: dict[str, str] = field(default_factory=dict)
    _loop: asyncio.AbstractEventLoop | None = None

    def __post_init__(self) -> None:
        self.slots = {name: ModelSlot(name) for name in self.settings.served_models()}
        self.default = next(iter(self.slots.values()))
        self.versions = LoadedVersions(self.settings.server.max_loaded_versions)

    def bind_loop(self) -> None:
        """Remember the event loop (at startup) so that threads can wake the reloader."""
        self._loop = asyncio.get_running_loop()

    def require_registry(self) -> Registry:
        if self.registry is None:
            starting = "the service is starting; the registry is not open yet"
            raise BackendUnavailableError(starting, public=starting)
        return self.registry

    def require_jobs(self) -> JobManager:
        if self.jobs is None:
            starting = "the service is starting; training jobs are not available yet"
            raise BackendUnavailableError(starting, public=starting)
        return self.jobs

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
