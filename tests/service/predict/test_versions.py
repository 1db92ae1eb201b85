"""Non-production versions loaded on demand: bounded, least recently used evicted, loaded once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tabserve.config import load_settings
from tabserve.errors import NotFoundError
from tabserve.registry import open_registry
from tabserve.service.predict.versions import LoadedVersions
from tests.support.servers import register_copy


@pytest.fixture
def three_versions(iris_config: Path):
    assert register_copy(iris_config) == 2
    assert register_copy(iris_config) == 3
    registry = open_registry(load_settings(iris_config, environ={}))
    try:
        yield registry
    finally:
        registry.close()


def test_the_least_recently_used_version_is_evicted(three_versions):
    loaded = LoadedVersions(capacity=2)

    async def scenario() -> None:
        first = await loaded.get(three_versions, "iris", 1)
        await loaded.get(three_versions, "iris", 2)
        assert await loaded.get(three_versions, "iris", 1) is first  # kept, not loaded again
        await loaded.get(three_versions, "iris", 3)
        assert loaded.keys() == [("iris", 1), ("iris", 3)]  # 2 was the least recently used

    asyncio.run(scenario())


def test_requests_for_the_same_version_at_once_share_one_load(three_versions):
    loaded = LoadedVersions(capacity=1)

    async def scenario() -> None:
        a, b, c = await asyncio.gather(*(loaded.get(three_versions, "iris", 2) for _ in range(3)))
        assert a is b is c
        assert a.version == 2

    asyncio.run(scenario())


def test_capacity_zero_keeps_nothing_and_a_missing_version_is_not_found(three_versions):
    loaded = LoadedVersions(capacity=0)

    async def scenario() -> None:
        assert (await loaded.get(three_versions, "iris", 3)).version == 3
        assert len(loaded) == 0
        with pytest.raises(NotFoundError):
            await loaded.get(three_versions, "iris", 9)

    asyncio.run(scenario())
