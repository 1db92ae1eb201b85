"""A server whose registry is a private PostgreSQL cluster the test may stop and start."""

from __future__ import annotations

from pathlib import Path

from tabserve.config import load_settings
from tabserve.registry import open_registry
from tabserve.workflow import register_trained
from tests.support.servers import write_config


def outage_config(root: Path, cluster) -> Path:
    registry = {"url": cluster.url, "artifacts": str(root / "artifacts")}
    return write_config(root, registry, server={"reload_interval_s": 0.5})


def seed_version(config: Path, trained_iris) -> None:
    """Register the session's trained iris as version 1 (production), without training again."""
    settings = load_settings(config, environ={})
    registry = open_registry(settings)
    try:
        assert register_trained(registry, settings, trained_iris[1].trained).version == 1
    finally:
        registry.close()
