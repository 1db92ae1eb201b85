"""A registry database that is down at start, or goes down while serving or training.

The server keeps running throughout: it retries with backoff and says why,
keeps predicting with the model it holds, answers what needs the database
with a 503 problem that hides the password, and works again once the
database is back, without a restart. The database is a private PostgreSQL
cluster the test stops and starts.
"""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from tabserve.config import load_settings
from tabserve.registry import open_registry
from tests.support.outage import outage_config, seed_version
from tests.support.servers import TABSERVE
from tests.support.traffic import PredictLoop, wait_for_job

pytestmark = [pytest.mark.slow, pytest.mark.backend]

SETOSA = [5.1, 3.8, 1.5, 0.3]
# Slow enough that the database can be stopped while the job is still fitting.
SLOW_GRID = {
    "candidates": [
        {
            "estimator": "sklearn.linear_model.LogisticRegression",
            "grid": {"C": [0.01 * i for i in range(1, 121)]},
        }
    ]
}


def assert_database_unavailable(response, cluster) -> None:
    """A 503 problem that says the registry database is down and names nothing of it (the log does)."""
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"]
    problem = response.json()
    assert problem["type"] == "urn:tabserve:problem:backend-unavailable"
    assert "the registry database is unreachable" in problem["detail"], problem
    assert f"127.0.0.1:{cluster.port}" not in response.text and "postgres" not in response.text
    assert cluster.password not in response.text


def test_a_server_started_while_the_database_is_down_serves_once_it_is_back(
    tmp_path, private_postgres, start_server
):
    private_postgres.stop()
    config = outage_config(tmp_path, private_postgres)
    server = start_server(config)
    server.wait("/healthz")

    def readyz_blames_the_database() -> bool:
        response = server.client.get("/readyz")
        return response.status_code == 503 and "registry database" in response.json()["detail"]

    server.until(readyz_blames_the_database, "/readyz 503 naming the database")
    assert_database_unavailable(server.client.get("/readyz"), private_postgres)
    assert_database_unavailable(server.client.get("/models/iris"), private_postgres)
    server.until(lambda: "retrying with backoff" in server.log(), "a log line saying why and that it retries")
    assert private_postgres.password not in server.log()

    private_postgres.start()
    trained = subprocess.run(
        [TABSERVE, "-c", str(config), "train"], capture_output=True, text=True, timeout=180, cwd=tmp_path
    )
    assert trained.returncode == 0, trained.stderr
    assert "version 1 (production)" in trained.stdout
    ready = server.wait("/readyz", timeout=60)  # backoff is at most 30 s apart
    assert ready.json()["version"] == 1
    predicted = server.client.post("/predict", json=SETOSA)
    assert predicted.status_code == 200, predicted.text
    assert predicted.json()["labels"] == ["setosa"]
    assert server.client.get("/models/iris").status_code == 200
    assert server.process.poll() is None  # the same process all along: no restart


def test_a_database_outage_while_serving_fails_only_what_needs_the_database(
    tmp_path, private_postgres, trained_iris, start_server
):
    config = outage_config(tmp_path, private_postgres)
    seed_version(config, trained_iris)
    server = start_server(config)
    assert server.wait().json()["version"] == 1
    loop = PredictLoop(server.url)
    try:
        private_postgres.stop()
        assert_database_unavailable(server.client.get("/models/iris"), private_postgres)
        assert_database_unavailable(server.client.get("/models/iris/versions/1"), private_postgres)
        assert_database_unavailable(server.client.post("/train", json={}), private_postgres)
        assert_database_unavailable(server.client.get("/jobs/0123abcd"), private_postgres)
        seen = len(loop.statuses)
        server.until(
            lambda: "cannot check the production alias, still serving version 1" in server.log(),
            "a log line saying the alias cannot be checked",
        )
        server.until(lambda: len(loop.statuses) > seen + 50, "predictions during the outage")
        assert server.client.get("/readyz").json()["version"] == 1  # the model is in memory: still ready
        assert server.client.get("/metrics").status_code == 200

        private_postgres.start()
        server.until(lambda: server.client.get("/models/iris").status_code == 200, "/models after the outage")
        assert [v["version"] for v in server.client.get("/models/iris").json()["versions"]] == [1]
        assert server.client.get("/jobs/0123abcd").status_code == 404
        server.until(lambda: "the registry answers again" in server.log(), "a log line on recovery")
    finally:
        loop.finish()
    assert len(loop.statuses) > 50
    assert set(loop.statuses) == {200}, "a prediction failed during the outage"
    assert server.process.poll() is None
    assert private_postgres.password not in server.log()


def start_slow_job(server) -> str:
    """POST /train with a slow grid; the job id once its process is fitting."""
    accepted = server.client.post("/train", json=SLOW_GRID)
    assert accepted.status_code == 202, accepted.text
    job_id = accepted.json()["id"]
    server.until(
        lambda: server.client.get(f"/jobs/{job_id}").json()["progress"]["total"] > 0,
        "the job to start fitting",
        timeout=180,
    )
    return job_id


def test_a_job_whose_database_drops_mid_run_fails_clearly_and_the_server_carries_on(
    tmp_path, private_postgres, trained_iris, start_server
):
    config = outage_config(tmp_path, private_postgres)
    seed_version(config, trained_iris)
    server = start_server(config)
    server.wait()
    loop = PredictLoop(server.url)
    try:
        job_id = start_slow_job(server)
        private_postgres.stop()
        server.until(
            lambda: f"training job {job_id} failed" in server.log(),
            "the job process to fail on the missing database",
            timeout=600,  # it first fits the whole slow grid, then fails to store the version
        )
        private_postgres.start()
        job = wait_for_job(server, job_id, ("failed", "succeeded"), timeout=180)
    finally:
        loop.finish()
    assert job["status"] == "failed", job
    assert "registry database" in job["error"] and "unavailable" in job["error"], job["error"]
    assert private_postgres.password not in job["error"]
    assert set(loop.statuses) == {200}, "a prediction failed while the job lost its database"

    retry = server.client.post("/train", json={"search": {"cv": 2}})
    assert retry.status_code == 202, retry.text  # the failed job released the model's training lock
    assert wait_for_job(server, retry.json()["id"], ("succeeded", "failed"))["status"] == "succeeded"


def test_a_job_process_that_dies_while_the_database_is_down_is_failed_once_it_is_back(
    tmp_path, private_postgres, trained_iris, start_server
):
    config = outage_config(tmp_path, private_postgres)
    seed_version(config, trained_iris)
    server = start_server(config)
    server.wait()
    job_id = start_slow_job(server)
    settings = load_settings(config, environ={})
    registry = open_registry(settings)
    try:
        pid = registry.metadata.get_job(job_id).pid
    finally:
        registry.close()

    private_postgres.stop()
    os.kill(pid, signal.SIGKILL)  # a grandchild this test started through the server
    server.until(
        lambda: "training job check failed" in server.log(),
        "the server's job check to meet the outage",
        timeout=120,
    )
    private_postgres.start()
    # Well before a missed heartbeat would (STALE_AFTER_S): the server remembers its exited child.
    job = wait_for_job(server, job_id, ("failed", "succeeded"), timeout=120)
    assert job["status"] == "failed", job
    assert "exited with code -9" in job["error"], job["error"]
    retry = server.client.post("/train", json={"search": {"cv": 2}})
    assert retry.status_code == 202, retry.text
    assert wait_for_job(server, retry.json()["id"], ("succeeded", "failed"))["status"] == "succeeded"
