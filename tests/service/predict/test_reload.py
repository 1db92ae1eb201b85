"""Hot reload: a promotion or rollback reaches a running server without a failed request."""

from __future__ import annotations

import pytest

from tests.support.polling import eventually
from tests.support.servers import register_copy
from tests.support.traffic import PredictLoop


@pytest.mark.slow
def test_promote_and_rollback_swap_the_model_under_load(iris_config, start_server):
    server = start_server(iris_config)
    server.wait()
    new_version = register_copy(iris_config)
    assert new_version == 2
    loop = PredictLoop(server.url)
    try:
        eventually(lambda: len(loop.versions) > 20)
        assert set(loop.versions) == {1}  # registered but not promoted: not served
        assert server.client.post("/models/iris/versions/2/promote").json()["version"] == 2
        eventually(lambda: loop.versions[-1] == 2)
        seen = len(loop.versions)
        eventually(lambda: len(loop.versions) > seen + 20)
        assert server.client.post("/models/iris/rollback").json()["version"] == 1
        eventually(lambda: loop.versions[-1] == 1)
    finally:
        loop.finish()
    assert set(loop.statuses) == {200}, "a request failed during a swap"
    switches = [b for a, b in zip(loop.versions, loop.versions[1:], strict=False) if a != b]
    assert switches == [2, 1], "each swap happens once, not back and forth"
    assert server.client.get("/readyz").json()["version"] == 1


@pytest.mark.slow
def test_promotion_by_another_process_is_picked_up_by_polling(iris_config, start_server):
    server = start_server(iris_config)
    server.wait()
    register_copy(iris_config)
    from tabserve.config import load_settings
    from tabserve.registry import open_registry

    registry = open_registry(load_settings(iris_config, environ={}))
    try:
        registry.promote("iris", 2)  # as `tabserve models promote 2` would, from elsewhere
    finally:
        registry.close()
    server.until(lambda: server.client.get("/readyz").json()["version"] == 2, "v2 served after polling")
    assert server.client.post("/predict", json=[5.1, 3.8, 1.5, 0.3]).json()["version"] == 2
