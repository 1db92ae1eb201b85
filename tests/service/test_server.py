"""Process-level behaviour: workers, SIGTERM, an empty registry, an unreachable database."""

from __future__ import annotations

import shutil
import threading
import time

import httpx
import pytest

from tests.service.conftest import free_port, metric, wait_for_metric, write_config
from tests.service.test_training_jobs import wait_for_job

SETOSA = [5.1, 3.8, 1.5, 0.3]


@pytest.mark.slow
def test_two_workers_share_one_port_and_stop_cleanly_on_sigterm(iris_config, start_server):
    server = start_server(iris_config, "--workers", "2")
    server.wait()
    ready_in_a_row = 0
    deadline = time.monotonic() + 60
    while ready_in_a_row < 10:  # new connections each time, so both workers are asked
        assert time.monotonic() < deadline, server.log()
        ok = httpx.get(f"{server.url}/readyz").status_code == 200
        ready_in_a_row = ready_in_a_row + 1 if ok else 0
    for _ in range(10):
        assert httpx.post(f"{server.url}/predict", json=SETOSA).json()["labels"] == ["setosa"]
    for _ in range(50):
        assert server.client.post("/predict", json=SETOSA).status_code == 200
    assert server.terminate() == 0
    assert "Finished server process" in server.log()


@pytest.mark.slow
def test_sigterm_finishes_the_request_in_flight_then_exits_0(iris_config, start_server):
    server = start_server(iris_config)
    server.wait()
    result: dict = {}

    def slow_request() -> None:  # the first pairplot takes seconds to draw
        with httpx.Client(base_url=server.url, timeout=60) as client:
            result["response"] = client.get("/visualise/pairplot.png")

    thread = threading.Thread(target=slow_request)
    thread.start()
    # In flight: the pairplot request and the scrape that counts itself, and nothing logged as drawn.
    wait_for_metric(server.client, "tabserve_http_requests_in_flight", 2)
    assert "drew the pairplot" not in server.log()
    assert server.terminate(timeout=180) == 0  # drawing takes seconds, more on a busy machine
    thread.join(60)
    assert result["response"].status_code == 200
    assert result["response"].content.startswith(b"\x89PNG")


@pytest.mark.slow
def test_empty_registry_is_not_ready_until_post_train_makes_a_model(tmp_path, start_server):
    root = tmp_path
    config = write_config(
        root, {"url": f"sqlite:///{root / 'registry.db'}", "artifacts": str(root / "artifacts")}
    )
    server = start_server(config)
    ready = server.wait("/readyz", status=503)
    assert ready.headers["content-type"] == "application/problem+json"
    assert ready.json()["detail"].count("tabserve train") == 1
    predict = server.client.post("/predict", json=SETOSA)
    assert predict.status_code == 503
    detail = predict.json()["detail"]
    assert detail.count("tabserve train") == 1 and detail.count("POST /models/iris/train") == 1
    assert server.client.get("/models/iris").json()["versions"] == []
    assert "No model is served yet" in server.client.get("/visualise").text
    job = server.client.post("/train").json()
    assert wait_for_job(server, job["id"], ("succeeded", "failed"))["status"] == "succeeded"
    server.wait("/readyz", timeout=30)
    assert server.client.post("/predict", json=SETOSA).json()["version"] == 1


@pytest.mark.slow
def test_unreachable_database_keeps_retrying_without_showing_the_password(tmp_path, start_server):
    password = "pw-8c41-never-shown"
    url = f"postgresql+psycopg://tabserve:{password}@127.0.0.1:{free_port()}/registry"
    config = write_config(tmp_path, {"url": url, "artifacts": str(tmp_path / "artifacts")})
    server = start_server(config)
    ready = server.wait("/readyz", status=503)
    assert "unavailable" in ready.json()["detail"]
    assert server.client.get("/models/iris").status_code == 503
    assert server.client.post("/predict", json=SETOSA).status_code == 503
    polls = metric(server.client, "tabserve_reloader_polls_total")
    wait_for_metric(server.client, "tabserve_reloader_polls_total", polls + 2)  # retried, failed again
    assert server.client.get("/healthz").status_code == 200  # alive, just not ready
    assert server.client.get("/readyz").status_code == 503
    assert password not in ready.text
    assert password not in server.log()
    assert "unavailable" in server.log()


@pytest.mark.slow
def test_serving_starts_once_the_database_comes_back(tmp_path, trained_iris, start_server):
    source = trained_iris[0]
    database = tmp_path / "registry.db"
    database.mkdir()  # a folder where the database file should be: SQLite cannot open it
    shutil.copytree(source.registry.artifacts, tmp_path / "artifacts")
    config = write_config(
        tmp_path, {"url": f"sqlite:///{database}", "artifacts": str(tmp_path / "artifacts")}
    )
    server = start_server(config)
    server.wait("/readyz", status=503)
    wait_for_metric(server.client, "tabserve_reloader_polls_total", 1)  # it has tried and failed
    database.rmdir()
    shutil.copy(source.registry.url.removeprefix("sqlite:///"), database)
    assert server.wait("/readyz", timeout=40).json()["version"] == 1
    assert server.client.post("/predict", json=SETOSA).json()["labels"] == ["setosa"]
