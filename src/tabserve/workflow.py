"""Train from settings and register the result: the `tabserve train` story end to end."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tabserve.config import Settings
from tabserve.errors import ConflictError, NoModelError
from tabserve.extras import require_train_extra
from tabserve.promotion import settle
from tabserve.registration import store_version
from tabserve.registry import ModelStore, open_registry
from tabserve.schema import FeatureSchema, schema_changes
from tabserve.training import Progress, TrainedModel, train
from tabserve.urls import redact_tree, redact_url

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainOutcome:
    version: int
    promoted: bool
    trained: TrainedModel
    promotion: str = ""  # why it is production now, or why not (a gate, a lower score)


def register_trained(registry: ModelStore, settings: Settings, trained: TrainedModel) -> TrainOutcome:
    """Store a trained model as the next version and promote it if it scores as well."""
    written = store_version(
        registry, settings.model, trained, recorded_config(settings), pictures=settings.registry.pictures
    )
    settled = settle(
        registry,
        settings.model,
        written.version,
        trained.metrics["holdout_score"],
        promote_now=None,
        auto_promote=settings.registry.auto_promote,
        files=written.files,
        actor="train",
    )
    return TrainOutcome(written.version, settled.promoted, trained, settled.why)


def check_schema_change(registry: ModelStore, settings: Settings, trained: TrainedModel) -> None:
    """Refuse a version that would change what the model's callers send or get back, unless allowed.

    Training on another table by mistake (a served model trained on the default
    model's data) must not reach the registry one promotion away from production.
    """
    if settings.registry.allow_schema_change:
        return
    try:
        current = registry.serving_version(settings.model)
    except NoModelError:
        return
    record = registry.get(settings.model, current)
    changes = schema_changes(FeatureSchema.from_dict(record.feature_schema), trained.schema)
    if changes:
        raise ConflictError(
            f"model '{settings.model}': the trained version {'; '.join(changes)} compared with version "
            f"{current}, so it was not registered; if that is intended, set "
            "registry.allow_schema_change: true (tabserve train --allow-schema-change)"
        )


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
        check_schema_change(registry, settings, trained)
        return register_trained(registry, settings, trained)
    finally:
        if own:
            registry.close()
