"""A server killed during a job: the restarted server fails the dead job at once (issue 9, finding 8)."""

from __future__ import annotations

import os
import signal

import pytest

from tests.support.polling import eventually
from tests.support.traffic import job_pid, wait_for_job

SLOW_GRID = {
    "candidates": [
        {
            "estimator": "sklearn.linear_model.LogisticRegression",
            "grid": {"C": [0.1 * i for i in range(1, 200)]},
        }
    ]
}


@pytest.mark.slow
def test_a_restarted_server_fails_its_dead_job_without_waiting_for_the_heartbeat(jobs_config, start_server):
    first = start_server(jobs_config)
    first.wait()
    job_id = first.client.post("/train", json=SLOW_GRID).json()["id"]
    pid = job_pid(jobs_config, job_id)
    assert pid is not None  # recorded by the server when it started the process, before the job runs
    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait()
    os.kill(pid, signal.SIGKILL)  # the job process this test started through the server
    eventually(lambda: b"tabserve.jobs.runner" not in _cmdline(pid), "the killed job process going", 30)
    second = start_server(jobs_config)
    second.wait()
    job = wait_for_job(second, job_id, ("failed", "succeeded"), timeout=30)
    assert job["status"] == "failed"
    assert "is gone" in job["error"]  # this host's dead process, not the 45 s heartbeat timeout
    retry = second.client.post("/train", json={"search": {"cv": 2}})
    assert retry.status_code == 202, retry.text
    wait_for_job(second, retry.json()["id"], ("succeeded", "failed"))


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read()
    except OSError:
        return b""
