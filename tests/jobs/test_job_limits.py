"""A training job that runs too long or needs too much memory is failed with the reason, its lock freed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest
import yaml

from tabserve.config import load_settings
from tabserve.jobs.limits import JobLimitError, memory_message, time_limit, timeout_message
from tabserve.registry import open_registry
from tabserve.service.app import create_app
from tests.support.servers import serve_in_thread, write_config


def _wait_for_job(client, job_id: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}").json()
        if job["status"] in ("failed", "succeeded"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not end: {job}")


def test_a_job_past_its_timeout_is_failed_saying_so_and_frees_the_model(tmp_path, iris_config):
    registry = yaml.safe_load(iris_config.read_text())["registry"]
    config = write_config(tmp_path, registry, server={"job_timeout_s": 0.2})
    with serve_in_thread(create_app(load_settings(config, environ={}))) as client:
        started = client.post("/train")
        assert started.status_code == 202, started.text
        job = _wait_for_job(client, started.json()["id"])
        assert job["status"] == "failed", job
        assert job["error"] == timeout_message(0.2)
        again = client.post("/train")
        assert again.status_code == 202, again.text  # the model's training lock was released
        _wait_for_job(client, again.json()["id"])


def test_the_timer_interrupts_the_training_thread():
    with pytest.raises(JobLimitError, match=r"server\.job_timeout_s \(0\.2 s\)"), time_limit(0.2):
        time.sleep(10)
    with time_limit(5):  # a block that ends in time is left alone, and the timer is cleared
        pass
    time.sleep(0.1)


def test_the_memory_limit_turns_a_big_allocation_into_memory_error():
    script = textwrap.dedent(
        """
        import os
        from tabserve.jobs.limits import apply_memory_limit
        pages = int(open("/proc/self/statm").read().split()[0])
        now_mb = pages * os.sysconf("SC_PAGE_SIZE") // 2**20
        apply_memory_limit(now_mb + 200)
        small = bytearray(50 * 2**20)  # within the limit
        try:
            bytearray(1024 * 2**20)
        except MemoryError:
            print("refused")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "refused"


def test_a_job_out_of_memory_is_failed_with_the_limit_and_frees_the_model(tmp_path, iris_config, monkeypatch):
    import tabserve.jobs.runner as runner
    import tabserve.workflow

    settings = load_settings(iris_config, environ={}, overrides={"server": {"job_memory_mb": 512}})
    registry = open_registry(settings)
    try:
        registry.metadata.create_job("j-memory", "iris", {})
    finally:
        registry.close()
    applied: list[int | None] = []
    monkeypatch.setattr(runner, "apply_memory_limit", applied.append)  # not on the test process itself
    monkeypatch.setattr(runner, "apply_memory_limit_off", lambda: None)

    def exhausted(*_args, **_kwargs):
        raise MemoryError

    monkeypatch.setattr(tabserve.workflow, "train_and_register", exhausted)
    assert runner.run_job(settings, "j-memory") == 1
    assert applied == [512]
    registry = open_registry(settings)
    try:
        job = registry.metadata.get_job("j-memory")
        assert job.status == "failed" and job.error == memory_message(512)
        registry.metadata.create_job("j-after", "iris", {})  # the lock is free again
    finally:
        registry.close()
