"""Process-level behaviour: workers, SIGTERM, an empty registry, an unreachable database."""

from __future__ import annotations

import json
import shutil
import signal
import socket

import httpx
import pytest

from tests.support.polling import eventually
from tests.support.servers import free_port, metric, write_config
from tests.support.traffic import wait_for_job

SETOSA = [5.1, 3.8, 1.5, 0.3]


@pytest.mark.slow
def test_two_workers_share_one_port_and_stop_cleanly_on_sigterm(iris_config, start_server):
    server = start_server(iris_config, "--workers", "2")
    server.wait()
    # New connections each time, so both workers are asked: ten ready answers in a row.
    server.until(
        lambda: all(httpx.get(f"{server.url}/readyz").status_code == 200 for _ in range(10)),
        "both workers ready",
    )
    for _ in range(10):
        assert httpx.post(f"{server.url}/predict", json=SETOSA).json()["labels"] == ["setosa"]
    for _ in range(50):
        assert server.client.post("/predict", json=SETOSA).status_code == 200
    assert server.terminate() == 0
    assert "Finished server process" in server.log()


@pytest.mark.slow
def test_sigterm_finishes_the_request_in_flight_then_exits_0(iris_config, start_server):
    """A request whose body is half sent when SIGTERM arrives is still answered, then exit 0.

    The test itself holds the request open (the rest of the body goes only after the server
    logs that it is shutting down), so nothing depends on how long a handler takes.
    """
    server = start_server(iris_config)
    server.wait()
    body = json.dumps({"instances": [SETOSA]}).encode()
    head = (
        "POST /v1/models/iris:predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        sock.sendall(head.encode() + body[:5])
        # In flight: the half-sent request and the scrape that counts itself.
        eventually(
            lambda: metric(server.client, "tabserve_http_requests_in_flight") >= 2,
            "tabserve_http_requests_in_flight reaching 2",
        )
        server.process.send_signal(signal.SIGTERM)
        eventually(lambda: "Shutting down" in server.log(), "the server logging its shutdown")
        assert server.process.poll() is None, "the server exited with a request in flight"
        sock.sendall(body[5:])
        response = sock.makefile("rb").read()  # the server closes the connection after answering
    status_line, _, rest = response.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 200 OK", response[:200]
    assert json.loads(rest.partition(b"\r\n\r\n")[2]) == {"predictions": ["setosa"]}
    assert server.process.wait(60) == 0
    assert "Finished server process" in server.log()


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
    assert ready.json()["detail"].endswith("the registry database is unreachable")
    assert server.client.get("/models/iris").status_code == 503
    assert server.client.post("/predict", json=SETOSA).status_code == 503
    polls = metric(server.client, "tabserve_reloader_polls_total")
    eventually(
        lambda: metric(server.client, "tabserve_reloader_polls_total") >= polls + 2,
        "tabserve_reloader_polls_total reaching polls + 2",
    )  # retried, failed again
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
    eventually(
        lambda: metric(server.client, "tabserve_reloader_polls_total") >= 1,
        "tabserve_reloader_polls_total reaching 1",
    )  # it has tried and failed
    database.rmdir()
    shutil.copy(source.registry.url.removeprefix("sqlite:///"), database)
    assert server.wait("/readyz", timeout=40).json()["version"] == 1
    assert server.client.post("/predict", json=SETOSA).json()["labels"] == ["setosa"]
