"""Train from settings and register the result: the `tabserve train` story end to end."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tabserve.config import Settings
from tabserve.extras import require_train_extra
from tabserve.promotion import settle
from tabserve.registration import store_version
from tabserve.registry import ModelStore, open_registry
from tabserve.training import Progress, TrainedModel, train
from tabserve.urls import redact_tree, redact_url

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainOutcome:
    version: int
    promoted: bool
    trained: TrainedModel


def register_trained(registry: ModelStore, settings: Settings, trained: TrainedModel) -> TrainOutcome:
    """Store a trained model as the next version and promote it if it scores as well."""
    written = store_version(
        registry, settings.model, trained, recorded_config(settings), pictures=settings.registry.pictures
    )
    promoted = settle(
        registry,
        settings.model,
        written.version,
        trained.metrics["holdout_score"],
        promote_now=None,
        auto_promote=settings.registry.auto_promote,
        files=written.files,
    )
    return TrainOutcome(written.version, promoted, trained)


def recorded_config(settings: Settings) -> dict:
    """The config a version keeps: everything but secrets (no token, URLs without passwords)."""
    config = settings.model_dump(mode="json", exclude={"server": {"token"}})
    for section in ("data", "registry"):
        if config[section].get("url"):
            config[section]["url"] = redact_url(config[section]["url"])
    return redact_tree(config)  # and every other URL-valued field (data.path, server.train_sources)


def train_and_register(
    settings: Settings, registry: ModelStore | None = None, progress: Progress | None = None
) -> TrainOutcome:
    """Train with the settings and store the result in the configured registry."""
    require_train_extra("tabserve train")
    own = registry is None
    registry = registry or open_registry(settings)
    try:
        registry.metadata.ensure_schema()  # fail on an unreachable registry before training
        trained = train(settings, progress)
        return register_trained(registry, settings, trained)
    finally:
        if own:
            registry.close()
