"""POST /train and GET /jobs/{id}: a job process makes a new version while predictions continue."""

from __future__ import annotations

import os
import signal

import pytest

from tests.support.traffic import PredictLoop, job_pid, wait_for_job


@pytest.mark.slow
def test_train_makes_version_2_while_predictions_continue(jobs_config, start_server):
    server = start_server(jobs_config)
    server.wait()
    loop = PredictLoop(server.url)
    try:
        accepted = server.client.post("/train", json={"search": {"cv": 4}})
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["id"]
        assert accepted.json()["url"] == f"/jobs/{job_id}" == accepted.headers["location"]

        second = server.client.post("/train")
        assert second.status_code == 409
        assert second.json()["job_id"] == job_id
        assert job_id in second.json()["detail"]

        job = wait_for_job(server, job_id, ("succeeded", "failed"))
        assert job["status"] == "succeeded", job
        assert job["version"] == 2
        assert job["progress"]["total"] > 0 and job["progress"]["done"] == job["progress"]["total"]
        assert job["overrides"] == {"search": {"cv": 4}}
        assert f"training job {job_id} made iris version 2" in server.output.read_text()  # the terminal
        server.wait("/readyz", timeout=30)
        server.until(lambda: loop.versions and loop.versions[-1] == 2, "the predict loop seeing version 2")
    finally:
        loop.finish()
    assert set(loop.statuses) == {200}, "a prediction failed during training"
    assert loop.versions[0] == 1 and loop.versions[-1] == 2
    assert server.client.get("/models/iris/versions/2").json()["version"] == 2
    metrics = server.client.get("/metrics").text
    assert 'tabserve_training_jobs{status="succeeded"} 1.0' in metrics
    again = server.client.post("/train", json={})
    assert again.status_code == 202  # the lock was released
    wait_for_job(server, again.json()["id"], ("succeeded", "failed"))  # do not let it outlive the test


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        (b'{"registry": {"url": "sqlite:///elsewhere.db"}}', {}, 422, "allowed sections: data, split"),
        (b'{"search": {"cv": 1}}', {}, 422, "search.cv"),
        (b'{"search": {"cvv": 3}}', {}, 422, "unknown key"),
        (b'{"candidates": [{"estimator": "os.system"}]}', {}, 422, "not in an allowed package"),
        (b"[1, 2]", {}, 422, "JSON object"),
        (b"{not json", {}, 400, "not valid JSON"),
        (b"cv=3", {"content-type": "text/csv"}, 415, "application/json"),
        (b'{"data": {"x": "' + b"y" * 70_000 + b'"}}', {}, 413, "limit"),
    ],
    ids=["section", "value", "unknown-key", "estimator", "not-object", "not-json", "content-type", "too-big"],
)
def test_bad_train_bodies_are_refused_before_any_job_starts(app_server, body, headers, status, message):
    response = app_server.client.post("/train", content=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert message in response.json()["detail"]
    assert 'tabserve_training_jobs{status="queued"} 0.0' in app_server.client.get("/metrics").text


@pytest.mark.slow
def test_a_job_whose_process_dies_is_marked_failed(jobs_config, start_server):
    server = start_server(jobs_config)
    server.wait()
    # Slow the fits down so the process is still running when it is killed.
    slow_grid = {
        "candidates": [
            {
                "estimator": "sklearn.linear_model.LogisticRegression",
                "grid": {"C": [0.1 * i for i in range(1, 200)]},
            }
        ]
    }
    job_id = server.client.post("/train", json=slow_grid).json()["id"]
    job = wait_for_job(server, job_id, ("running", "succeeded", "failed"))
    assert job["status"] == "running", job
    server.until(
        lambda: server.client.get(f"/jobs/{job_id}").json()["progress"]["total"] > 0, "the job fitting"
    )
    pid = job_pid(jobs_config, job_id)
    os.kill(pid, signal.SIGKILL)  # a grandchild this test started through the server
    failed = wait_for_job(server, job_id, ("failed", "succeeded"), timeout=30)
    assert failed["status"] == "failed"
    assert "exited" in failed["error"] or "heartbeat" in failed["error"]
    retry = server.client.post("/train", json={"search": {"cv": 2}})
    assert retry.status_code == 202  # the dead job's lock was released
    wait_for_job(server, retry.json()["id"], ("succeeded", "failed"))
