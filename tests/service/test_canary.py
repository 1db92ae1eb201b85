"""Canary releases in one app: the weighted and sticky split on every protocol, both versions'
figures, promote and stop, a candidate that fails aborted by its rule, and production served
whenever the canary cannot be."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from starlette.testclient import TestClient

from tabserve.config import load_settings
from tabserve.registry import open_registry
from tabserve.service.app import create_app, with_fast_predict
from tabserve.service.deps import service_state
from tabserve.service.predict.canary import BUCKETS, bucket
from tests.support.polling import eventually
from tests.support.servers import copy_registry, register_copy, write_config

ROW = [5.1, 3.5, 1.4, 0.2]
CSV_ROW = b"sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n"
EVALUATE_EVERY_S = 0.3


def _start(config: Path) -> Iterator[SimpleNamespace]:
    app = create_app(load_settings(config, environ={}))
    state = service_state(app)
    with TestClient(
        with_fast_predict(app), base_url="http://127.0.0.1", raise_server_exceptions=False
    ) as client:
        eventually(lambda: client.get("/readyz").status_code == 200, "the app ready")
        yield SimpleNamespace(client=client, state=state, config=config)


@pytest.fixture
def served(tmp_path, trained_iris) -> Iterator[SimpleNamespace]:
    """An app on a copy of the trained registry with a second version (same model) not promoted."""
    registry = copy_registry(trained_iris[0], tmp_path / "registry")
    config = write_config(
        tmp_path,
        registry,
        canary={"min_requests": 20, "window_requests": 40, "evaluate_every_s": EVALUATE_EVERY_S},
    )
    assert register_copy(config) == 2
    yield from _start(config)


def start_canary(served: SimpleNamespace, weight: int = 20, version: int = 2) -> dict:
    answer = served.client.post(f"/models/iris/versions/{version}/canary", json={"weight": weight})
    assert answer.status_code == 200, answer.text
    eventually(lambda: "iris" in served.state.canaries, "the canary served")
    return answer.json()


def key_on(side: str, weight: int = 20) -> bytes:
    """A routing key whose bucket sends it to the candidate ("candidate") or production at ``weight``."""
    for n in range(1000):
        key = f"caller-{n}".encode()
        if (bucket(key) < BUCKETS * weight // 100) == (side == "candidate"):
            return key
    raise AssertionError("no key found")


def test_a_canary_at_20_percent_answers_about_a_fifth_of_the_requests(served):
    start_canary(served, 20)
    n = 2000
    versions = Counter(served.client.post("/predict", json=ROW).json()["version"] for _ in range(n))
    assert set(versions) == {1, 2}
    spread = 4.5 * math.sqrt(n * 0.2 * 0.8)  # binomial: a false failure about once in 150,000 runs
    assert abs(versions[2] - n * 0.2) < spread, versions


def test_a_routing_key_always_gets_the_same_version(served):
    start_canary(served, 20)
    seen: dict[str, set[int]] = {}
    for n in range(100):
        key = f"user-{n}"
        for _ in range(4):
            answer = served.client.post("/predict", json=ROW, headers={"X-Routing-Key": key})
            seen.setdefault(key, set()).add(answer.json()["version"])
    assert all(len(versions) == 1 for versions in seen.values())
    on_candidate = sum(1 for versions in seen.values() if versions == {2})
    assert 2 <= on_candidate <= 45  # about 20 of 100 keys


def test_every_protocol_routes_a_key_and_says_which_version_answered(served):
    start_canary(served, 20)
    for side, version in (("candidate", 2), ("production", 1)):
        headers = {"X-Routing-Key": key_on(side).decode()}
        client = served.client
        tabserve = client.post("/models/iris/predict", json={"instances": [ROW, ROW]}, headers=headers)
        assert tabserve.json()["version"] == version
        csv = client.post("/predict", content=CSV_ROW, headers={**headers, "Content-Type": "text/csv"})
        assert csv.status_code == 200 and csv.headers["x-tabserve-version"] == str(version)
        oip = client.post(
            "/v2/models/iris/infer",
            json={"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": ROW}]},
            headers=headers,
        )
        assert oip.status_code == 200, oip.text
        assert oip.json()["model_version"] == str(version)
        v1 = client.post("/v1/models/iris:predict", json={"instances": [ROW]}, headers=headers)
        assert v1.status_code == 200 and v1.headers["x-tabserve-version"] == str(version)
        mlflow = client.post("/invocations", json={"inputs": [ROW]}, headers=headers)
        assert mlflow.status_code == 200 and mlflow.headers["x-tabserve-version"] == str(version)


def test_both_versions_figures_are_shown_side_by_side(served):
    start_canary(served, 50)
    for n in range(60):
        served.client.post("/predict", json=ROW, headers={"X-Routing-Key": f"k{n}"})
    shown = served.client.get("/models/iris/canary").json()
    assert shown["canary"]["version"] == 2 and shown["canary"]["weight"] == 50
    assert shown["served_here"] is True and shown["production_version"] == 1
    by_role = {item["role"]: item for item in shown["versions"]}
    assert by_role["candidate"]["version"] == 2 and by_role["production"]["version"] == 1
    assert by_role["candidate"]["requests"] + by_role["production"]["requests"] == 60
    for item in by_role.values():
        assert item["errors"] == 0 and item["p99_ms"] >= item["p50_ms"] > 0
        assert item["class_mix"] == {"setosa": 1.0}
    metrics = served.client.get("/metrics").text
    assert 'tabserve_canary_requests_total{model="iris",role="candidate",version="2"}' in metrics
    assert 'tabserve_canary_weight{model="iris",version="2"} 50.0' in metrics


@pytest.mark.parametrize("body", [{"weight": 0}, {"weight": 100}, {"weight": "20"}, {"weight": 2.5}, {}])
def test_a_weight_outside_1_to_99_is_a_422_naming_weight(served, body):
    answer = served.client.post("/models/iris/versions/2/canary", json=body)
    assert answer.status_code == 422
    assert "weight" in answer.json()["detail"]


def test_a_canary_of_production_or_of_no_version_is_refused(served):
    assert served.client.post("/models/iris/versions/1/canary", json={"weight": 10}).status_code == 409
    assert served.client.post("/models/iris/versions/9/canary", json={"weight": 10}).status_code == 404
    assert served.client.post("/models/iris/versions/2/canary/promote").status_code == 404
    assert served.client.delete("/models/iris/versions/2/canary").status_code == 404


def test_promote_makes_the_candidate_production_and_ends_the_canary(served):
    start_canary(served, 20)
    answer = served.client.post("/models/iris/versions/2/canary/promote")
    assert answer.status_code == 200, answer.text
    assert answer.json()["canary"]["outcome"] == "promoted"
    eventually(lambda: served.client.get("/readyz").json()["version"] == 2, "v2 production")
    eventually(lambda: "iris" not in served.state.canaries, "the canary no longer routed")
    versions = {served.client.post("/predict", json=ROW).json()["version"] for _ in range(50)}
    assert versions == {2}
    history = served.client.get("/models/iris/canary").json()
    assert history["canary"] is None and history["history"][0]["outcome"] == "promoted"
    moves = served.client.get("/models/iris/history").json()["moves"]
    assert [(m["alias"], m["action"], m["to_version"], m["actor"]) for m in moves[:3]] == [
        ("canary", "remove", None, "http"),
        ("production", "promote", 2, "canary"),
        ("canary", "promote", 2, "http"),
    ]
    assert moves[2]["reason"] == "canary at 20% of production traffic"


def test_stop_sends_all_traffic_back_to_production(served):
    start_canary(served, 90)
    answer = served.client.delete("/models/iris/versions/2/canary")
    assert answer.status_code == 200 and answer.json()["canary"]["outcome"] == "stopped"
    eventually(lambda: "iris" not in served.state.canaries, "the canary no longer routed")
    assert {served.client.post("/predict", json=ROW).json()["version"] for _ in range(50)} == {1}


def test_a_failing_candidate_is_aborted_by_its_rule_and_production_keeps_answering(served):
    start_canary(served, 50)
    candidate = served.state.canaries["iris"].candidate

    def broken(*args, **kwargs):
        raise RuntimeError("the candidate fails")

    candidate.predict_row = broken  # a test hook: this loaded version now fails every request
    candidate.predict = broken
    statuses: dict[int, Counter] = {1: Counter(), 2: Counter()}
    for n in range(400):
        key = key_on("candidate" if n % 2 else "production", 50)
        answer = served.client.post("/predict", json=ROW, headers={"X-Routing-Key": key.decode()})
        statuses[2 if n % 2 else 1][answer.status_code] += 1
        if "iris" not in served.state.canaries:
            break
    eventually(
        lambda: "iris" not in served.state.canaries, "the canary aborted", timeout=10 * EVALUATE_EVERY_S
    )
    ended = served.client.get("/models/iris/canary").json()["history"][0]
    assert ended["outcome"] == "aborted" and "error rate" in ended["reason"]
    move = served.client.get("/models/iris/history?alias=canary").json()["moves"][0]
    assert (move["action"], move["actor"]) == ("remove", "abort")
    assert move["reason"] == f"automatic abort: {ended['reason']}"
    assert statuses[1] == Counter({200: statuses[1].total()})  # production never failed
    assert set(statuses[2]) <= {500, 200}
    after = {served.client.post("/predict", json=ROW).json()["version"] for _ in range(30)}
    assert after == {1}
    assert "tabserve_canary_aborts_total" in served.client.get("/metrics").text


def test_a_candidate_that_cannot_load_leaves_production_serving_and_readyz_says_so(served):
    settings = load_settings(served.config, environ={})
    registry = open_registry(settings)
    try:
        record = registry.get("iris", 2)
        registry.metadata.start_canary("iris", 2, 50)  # as another server would, then the file breaks
        path = Path(settings.registry.artifacts) / record.artifacts["model"]["key"]
        path.write_bytes(b"not a model")
    finally:
        registry.close()
    served.state.model_changed()
    ready = eventually(
        lambda: (r := served.client.get("/readyz").json()).get("canary") and r, "readyz naming the canary"
    )
    assert ready["status"] == "ready" and "cannot be loaded" in ready["canary"]["iris"]
    assert {served.client.post("/predict", json=ROW).json()["version"] for _ in range(30)} == {1}


def test_the_model_page_shows_the_canary_with_promote_and_stop(served):
    start_canary(served, 20)
    for n in range(30):
        served.client.post("/predict", json=ROW, headers={"X-Routing-Key": f"k{n}"})
    page = served.client.get("/ui/models/iris").text
    assert "Version 2 answers 20% of production traffic" in page and "data-canary-start" not in page
    assert 'data-canary="promote" data-model="iris" data-version="2"' in page
    assert 'data-canary="stop" data-model="iris" data-version="2"' in page
    assert (
        '<tr data-role="candidate"><td>v2</td>' in page and '<tr data-role="production"><td>v1</td>' in page
    )
    assert served.client.delete("/models/iris/versions/2/canary").status_code == 200
    page = served.client.get("/ui/models/iris").text
    assert "No canary is running" in page and "data-canary=" not in page
    assert "<span data-canary-outcome>stopped</span>: stopped by http." in page
    assert '<form class="inline" data-canary-start data-model="iris">' in page
    assert '<select id="canary-version" name="version"><option value="2">v2</option></select>' in page


def test_grpc_routes_a_key_given_as_metadata(tmp_path, trained_iris):
    grpcclient = pytest.importorskip("tritonclient.grpc", reason="tritonclient[grpc] is the dev extra")
    import numpy as np

    from tabserve.service.deps import grpc_port
    from tests.support.servers import serve_in_thread

    registry = copy_registry(trained_iris[0], tmp_path / "registry")
    config = write_config(tmp_path, registry, server={"grpc_port": 0})
    assert register_copy(config) == 2
    app = create_app(load_settings(config, environ={}))
    state = service_state(app)
    with serve_in_thread(with_fast_predict(app)) as client:
        eventually(lambda: client.get("/readyz").status_code == 200, "the app ready")
        assert client.post("/models/iris/versions/2/canary", json={"weight": 20}).status_code == 200
        eventually(lambda: "iris" in state.canaries, "the canary served")
        inference = grpcclient.InferenceServerClient(f"127.0.0.1:{grpc_port(app)}")
        try:
            for side, version in (("candidate", 2), ("production", 1)):
                tensor = grpcclient.InferInput("input", [1, 4], "FP64")
                tensor.set_data_from_numpy(np.array([ROW]))
                for _ in range(5):
                    result = inference.infer(
                        "iris", [tensor], headers={"x-routing-key": key_on(side).decode()}
                    )
                    assert result.get_response().model_version == str(version)
        finally:
            inference.close()


def test_a_server_that_cannot_read_the_canary_state_serves_production_and_says_so(served):
    import sqlite3

    start_canary(served, 90)
    database = load_settings(served.config, environ={}).registry.url.removeprefix("sqlite:///")
    with sqlite3.connect(database) as conn:
        conn.execute("DROP TABLE tabserve_canaries")  # the state cannot be read any more
    served.state.model_changed()
    ready = eventually(
        lambda: (r := served.client.get("/readyz").json()).get("canary") and r, "readyz naming the canary"
    )
    assert "cannot read the canary state" in ready["canary"]["iris"]
    assert "tabserve_canaries" not in ready["canary"]["iris"]  # the detail is in the log, not the answer
    answers = [served.client.post("/predict", json=ROW) for _ in range(30)]
    assert {a.status_code for a in answers} == {200} and {a.json()["version"] for a in answers} == {1}
