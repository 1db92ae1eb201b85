"""Train from settings and register the result: the `tabserve train` story end to end."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from tabserve.compiled import CompileResult, compile_pipeline
from tabserve.config import Settings
from tabserve.registry import PRODUCTION, Registry, StoredFile
from tabserve.registry.serialization import dump_model
from tabserve.training import Progress, TrainedModel, train
from tabserve.urls import redact_tree, redact_url
from tabserve.versions import library_versions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainOutcome:
    version: int
    promoted: bool
    trained: TrainedModel


def open_registry(settings: Settings) -> Registry:
    return Registry.from_settings(settings.registry)


def register_trained(registry: Registry, settings: Settings, trained: TrainedModel) -> TrainOutcome:
    """Store a trained model as the next version and promote it if it scores as well."""
    files = [StoredFile("model", "model.skops", dump_model(trained.pipeline))]
    compiled = _compile(trained)
    if compiled.bundle is not None:
        files.append(StoredFile("compiled", "compiled.npz", compiled.bundle))
    if trained.profile is not None:
        files.append(StoredFile("profile", "profile.json", json.dumps(trained.profile).encode()))
    fields = {
        "estimator": trained.estimator,
        "params": trained.params,
        "metrics": {**trained.metrics, "serving": compiled.reason},
        "cv_results": trained.cv_results,
        "feature_schema": trained.schema.to_dict(),
        "data_rows": trained.data_rows,
        "data_hash": trained.data_hash,
        "libraries": library_versions(),
        "config": recorded_config(settings),
    }
    version = registry.register(settings.model, files, fields)
    promoted = _should_promote(registry, settings, trained)
    if promoted:
        registry.promote(settings.model, version)
    return TrainOutcome(version, promoted, trained)


def _compile(trained: TrainedModel) -> CompileResult:
    result = compile_pipeline(trained.pipeline, trained.schema, trained.reference_rows)
    log.info("serving fast path: %s", result.reason)
    return result


def recorded_config(settings: Settings) -> dict:
    """The config a version keeps: everything but secrets (no token, URLs without passwords)."""
    config = settings.model_dump(mode="json", exclude={"server": {"token"}})
    for section in ("data", "registry"):
        if config[section].get("url"):
            config[section]["url"] = redact_url(config[section]["url"])
    return redact_tree(config)  # and every other URL-valued field (data.path, server.train_sources)


def _should_promote(registry: Registry, settings: Settings, trained: TrainedModel) -> bool:
    """The first version always becomes production; later ones when auto_promote and as good."""
    current = registry.metadata.alias_version(settings.model, PRODUCTION)
    if current is None:
        return True
    if not settings.registry.auto_promote:
        return False
    baseline = registry.get(settings.model, current).metrics.get("holdout_score", 0.0)
    better = trained.metrics["holdout_score"] >= baseline
    log.info(
        "hold-out %.4f vs production v%d %.4f: %s",
        trained.metrics["holdout_score"],
        current,
        baseline,
        "promote" if better else "keep production",
    )
    return better


def train_and_register(
    settings: Settings, registry: Registry | None = None, progress: Progress | None = None
) -> TrainOutcome:
    """Train with the settings and store the result in the configured registry."""
    own = registry is None
    registry = registry or open_registry(settings)
    try:
        registry.metadata.ensure_schema()  # fail on an unreachable registry before training
        trained = train(settings, progress)
        return register_trained(registry, settings, trained)
    finally:
        if own:
            registry.close()
