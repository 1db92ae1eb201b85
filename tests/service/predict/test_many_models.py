"""One server, several models: each follows its own production alias; any version can answer."""

from __future__ import annotations

import pytest

from tests.support.servers import register_copy
from tests.support.traffic import PredictLoop

SETOSA = [5.1, 3.8, 1.5, 0.3]


def served_versions(server) -> dict:
    response = server.client.get("/readyz")
    return response.json().get("models", {}) if response.status_code == 200 else {}


@pytest.mark.slow
def test_one_process_serves_two_models_promoted_independently_under_load(iris_config, start_server):
    assert register_copy(iris_config, model="flowers") == 1
    server = start_server(iris_config, "--model", "iris", "--model", "flowers")
    server.wait()
    assert served_versions(server) == {"iris": 1, "flowers": 1}
    assert [m["name"] for m in server.client.get("/models").json()["models"]] == ["iris", "flowers"]
    assert register_copy(iris_config) == 2
    assert register_copy(iris_config, model="flowers") == 2
    loops = {name: PredictLoop(server.url, f"/models/{name}/predict") for name in ("iris", "flowers")}
    default = PredictLoop(server.url)
    try:
        server.until(lambda: all(len(loop.versions) > 20 for loop in loops.values()), "predictions")
        promoted = server.client.post("/models/flowers/versions/2/promote")
        assert promoted.json() == {"model": "flowers", "alias": "production", "version": 2}
        server.until(lambda: loops["flowers"].versions[-1] == 2, "flowers v2 served")
        seen = len(loops["iris"].versions)
        server.until(lambda: len(loops["iris"].versions) > seen + 20, "more iris predictions")
        assert set(loops["iris"].versions) == {1}, "promoting flowers moved iris"
        assert server.client.post("/models/iris/versions/2/promote").status_code == 200
        server.until(lambda: loops["iris"].versions[-1] == 2, "iris v2 served")
        assert server.client.post("/models/flowers/rollback").json()["version"] == 1
        server.until(lambda: loops["flowers"].versions[-1] == 1, "flowers rolled back")
        server.until(lambda: len(default.versions) > 0 and default.versions[-1] == 2, "default follows iris")
    finally:
        for loop in (*loops.values(), default):
            loop.finish()
    for name, loop in {**loops, "default": default}.items():
        assert set(loop.statuses) == {200}, f"a prediction against {name} failed"
    assert served_versions(server) == {"iris": 2, "flowers": 1}
    assert [v["version"] for v in server.client.get("/models/flowers").json()["versions"]] == [1, 2]


@pytest.mark.slow
def test_a_version_predict_answers_from_that_version_while_another_is_production(iris_config, start_server):
    server = start_server(iris_config)
    server.wait()
    assert register_copy(iris_config) == 2
    assert server.client.post("/models/iris/versions/2/promote").status_code == 200
    server.until(lambda: served_versions(server) == {"iris": 2}, "v2 in production")
    for path in ("/models/iris/versions/1/predict", "/models/iris/versions/1/predict?labels_only=true"):
        old = server.client.post(path, json=SETOSA)
        assert old.status_code == 200, old.text
        assert old.json()["version"] == 1 and old.json()["labels"] == ["setosa"]
    assert server.client.post("/models/iris/versions/2/predict", json=SETOSA).json()["version"] == 2
    assert server.client.post("/models/iris/predict", json=SETOSA).json()["version"] == 2
    assert server.client.post("/predict", json=SETOSA).json()["version"] == 2
    missing = server.client.post("/models/iris/versions/7/predict", json=SETOSA)
    assert missing.status_code == 404 and "7" in missing.json()["detail"]
