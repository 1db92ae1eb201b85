"""Two server processes on one registry follow the same canary: started, stopped, aborted or
promoted through one (or by any other process), the other routes alike within a reload interval."""

from __future__ import annotations

import pytest

from tabserve import canary
from tabserve.config import load_settings
from tabserve.registry import open_registry
from tabserve.service.predict.canary import BUCKETS, bucket
from tests.support.servers import copy_registry, register_copy, write_config

pytestmark = pytest.mark.slow

ROW = [5.1, 3.5, 1.4, 0.2]


def _key(to_candidate: bool, weight: int) -> str:
    return next(
        f"caller-{n}"
        for n in range(1000)
        if (bucket(f"caller-{n}".encode()) < BUCKETS * weight // 100) == to_candidate
    )


def _answers(server, key: str, n: int = 10) -> set[int]:
    return {
        server.client.post("/predict", json=ROW, headers={"X-Routing-Key": key}).json()["version"]
        for _ in range(n)
    }


def _served_here(server) -> bool:
    return server.client.get("/models/iris/canary").json()["served_here"]


def test_replicas_follow_the_canary_through_the_registry(tmp_path, trained_iris, start_server):
    registry = copy_registry(trained_iris[0], tmp_path / "registry")
    config = write_config(tmp_path, registry, server={"reload_interval_s": 0.5})
    assert register_copy(config) == 2
    first, second = start_server(config), start_server(config)
    first.wait()
    second.wait()
    on_candidate, on_production = _key(True, 30), _key(False, 30)

    assert first.client.post("/models/iris/versions/2/canary", json={"weight": 30}).status_code == 200
    for server in (first, second):
        server.until(lambda s=server: _served_here(s), "the canary followed")
        assert _answers(server, on_candidate) == {2}
        assert _answers(server, on_production) == {1}

    assert first.client.delete("/models/iris/versions/2/canary").status_code == 200
    second.until(lambda: not _served_here(second), "the stop followed")
    assert _answers(second, on_candidate) == {1}

    assert second.client.post("/models/iris/versions/2/canary", json={"weight": 30}).status_code == 200
    first.until(lambda: _served_here(first), "the canary started through the other replica")
    store = open_registry(load_settings(config, environ={}))
    try:  # as another replica's judge ends it when a rule is broken
        canary.abort(store, "iris", 2, "error rate 50.0% over its last 40 requests")
    finally:
        store.close()
    for server in (first, second):
        server.until(lambda s=server: not _served_here(s), "the abort followed")
        shown = server.client.get("/models/iris/canary").json()
        assert shown["history"][0]["outcome"] == "aborted"

    assert first.client.post("/models/iris/versions/2/canary", json={"weight": 30}).status_code == 200
    second.until(lambda: _served_here(second), "the canary followed again")
    assert second.client.post("/models/iris/versions/2/canary/promote").status_code == 200
    for server in (first, second):
        server.until(lambda s=server: s.client.get("/readyz").json()["version"] == 2, "v2 production")
        server.until(lambda s=server: not _served_here(s), "the promoted canary ended")
        assert _answers(server, on_production) == {2}
