"""An alias moved to a version the server cannot load: it keeps serving and says so (issue 9, 4)."""

from __future__ import annotations

from tabserve.config import load_settings
from tabserve.registry import open_registry
from tests.support.servers import register_copy
from tests.support.traffic import damage

SETOSA = [5.1, 3.5, 1.4, 0.2]


def test_an_unloadable_alias_is_degraded_on_readyz_and_metrics(iris_config, start_app):
    server = start_app(iris_config)
    server.wait()
    second = register_copy(iris_config)
    damage(iris_config, second, "model")
    registry = open_registry(load_settings(iris_config, environ={}))
    try:
        registry.metadata.set_alias("iris", second)  # as another tool (or a later disk fault) would
    finally:
        registry.close()
    ready = server.until(
        lambda: (r := server.client.get("/readyz")).json().get("status") == "degraded" and r, "degraded"
    )
    assert ready.status_code == 200 and ready.json()["status"] == "degraded", ready.text
    assert ready.json()["version"] == 1
    reason = ready.json()["degraded"]["iris"]
    assert f"version {second}" in reason and "checksum" in reason and "artifacts" not in reason
    assert 'tabserve_model_alias_unloadable{model="iris"} 1.0' in server.client.get("/metrics").text
    predicted = server.client.post("/predict", json=SETOSA)
    assert predicted.status_code == 200 and predicted.json()["version"] == 1
    assert server.client.post("/models/iris/rollback").status_code == 200  # back to version 1
    server.until(lambda: server.client.get("/readyz").json()["status"] == "ready", "ready again")
    assert server.client.get("/readyz").json()["status"] == "ready"
    assert 'tabserve_model_alias_unloadable{model="iris"} 0.0' in server.client.get("/metrics").text
