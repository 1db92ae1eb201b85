"""Versions made for promotion tests: a stored version's model again, with metrics changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tabserve.config import Settings
from tabserve.registry import ModelStore, StoredFile, open_registry
from tabserve.registry.records import DESCRIBING_FIELDS
from tests.support.servers import copy_registry
from tests.support.settings import make_settings


def copy_version(registry: ModelStore, model: str = "iris", source: int = 1, **metrics: Any) -> int:
    """Register ``source``'s model and sample rows again as a new version whose metrics are changed
    by ``metrics`` (a value None removes the metric); the new version's number."""
    record = registry.get(model, source)
    fields = {name: getattr(record, name) for name in DESCRIBING_FIELDS}
    changed = {**record.metrics, **metrics}
    fields["metrics"] = {key: value for key, value in changed.items() if value is not None}
    files = [StoredFile("model", "model.skops", registry.read_file(record))]
    if "sample" in record.artifacts:
        files.append(StoredFile("sample", "sample.json", registry.read_file(record, "sample")))
    return registry.register(model, files, fields)


def gated_settings(trained: Settings, root: Path, **promotion: Any) -> Settings:
    """A copy of the trained iris registry under ``root`` with these ``promotion`` gates."""
    return make_settings(root, registry=copy_registry(trained, root / "registry"), promotion=promotion)


def with_worse_version(trained: Settings, root: Path, drop: float = 0.25, **promotion: Any) -> Settings:
    """A copy of the trained iris registry (v1 production) plus v2 scoring ``drop`` below it."""
    settings = gated_settings(trained, root, **promotion)
    with open_registry(settings) as registry:
        baseline = registry.get("iris", 1).metrics["holdout_score"]
        copy_version(registry, holdout_score=baseline - drop)
    return settings
