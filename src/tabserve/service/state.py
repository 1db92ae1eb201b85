"""What one server process holds: settings, the registry, the loaded predictor, metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tabserve.config import Settings
from tabserve.errors import BackendUnavailableError, NoModelError
from tabserve.service.metrics import ServiceMetrics
from tabserve.service.pictures import PictureCache

if TYPE_CHECKING:
    from tabserve.predictor import Predictor
    from tabserve.registry import Registry
    from tabserve.service.jobs import JobManager
    from tabserve.service.reloader import Reloader


@dataclass
class ServiceState:
    """Shared by every route of one app.

    ``predictor`` is replaced by a single attribute assignment, which is atomic:
    a request reads it once and finishes on that object even if a reload swaps
    in another meanwhile.
    """

    settings: Settings
    metrics: ServiceMetrics = field(default_factory=ServiceMetrics)
    registry: Registry | None = None
    jobs: JobManager | None = None
    reloader: Reloader | None = None
    predictor: Predictor | None = None
    # Why nothing is loaded, for /readyz and 503s; None once a model is up.
    not_ready_reason: str = "starting: the model is not loaded yet"
    backend_down: bool = False
    pictures: PictureCache = field(default_factory=PictureCache)

    def require_registry(self) -> Registry:
        if self.registry is None:
            raise BackendUnavailableError("the service is starting; the registry is not open yet")
        return self.registry

    def require_jobs(self) -> JobManager:
        if self.jobs is None:
            raise BackendUnavailableError("the service is starting; training jobs are not available yet")
        return self.jobs

    def model_changed(self) -> None:
        """A promote or rollback happened here: look at the alias now rather than at the next poll."""
        if self.reloader is not None:
            self.reloader.wake()

    def require_predictor(self) -> Predictor:
        predictor = self.predictor
        if predictor is not None:
            return predictor
        if self.backend_down:
            raise BackendUnavailableError(f"no model is loaded: {self.not_ready_reason}")
        raise NoModelError(
            f"no model is loaded ({self.not_ready_reason}); train one with `tabserve train` "
            "or POST /train, and it is served as soon as it is registered"
        )
