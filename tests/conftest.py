"""Shared fixtures: settings rooted in a temporary folder, and a registry with iris trained."""

from __future__ import annotations

from pathlib import Path

import pytest

from tabserve.config import Settings, load_settings
from tabserve.registry import Registry
from tabserve.workflow import TrainOutcome, open_registry, train_and_register


def make_settings(root: Path, **sections: dict) -> Settings:
    """Settings whose registry, artifacts and log live under ``root``; sections override."""
    base = {
        "registry": {"url": f"sqlite:///{root / 'registry.db'}", "artifacts": str(root / "artifacts")},
        "logging": {"file": None},
        "search": {"n_jobs": 1},
    }
    for name, values in sections.items():
        base[name] = {**base.get(name, {}), **values} if isinstance(values, dict) else values
    return load_settings(environ={}, overrides=base)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def registry(settings: Settings) -> Registry:
    opened = open_registry(settings)
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def trained_iris(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, TrainOutcome]:
    """Iris trained once per session with the default (seed) grid; read-only for tests."""
    root = tmp_path_factory.mktemp("iris-registry")
    iris_settings = make_settings(root)
    return iris_settings, train_and_register(iris_settings)
