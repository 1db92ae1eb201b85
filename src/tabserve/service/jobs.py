"""Training jobs: start one in its own process, answer for it, fail it if its process dies.

A job is a row in the registry database (any replica can answer for it) and a
``python -m tabserve.service.jobs_runner <id>`` process that does the work, so
training never competes with requests for this process's event loop or GIL.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from tabserve.config import Settings, validate_overrides
from tabserve.registry import JobRecord, Registry
from tabserve.service.errors import NotAcceptedError
from tabserve.urls import redact_url

log = logging.getLogger(__name__)

SETTINGS_ENV = "TABSERVE_JOB_SETTINGS"  # the server's effective settings, as JSON, for the job process
OVERRIDABLE_SECTIONS = ("data", "split", "search", "candidates")
HEARTBEAT_S = 5.0
STALE_AFTER_S = 45.0  # several missed heartbeats: the process is gone
CHECK_EVERY_S = 5.0
ACTIVE = ("queued", "running")


def _without_passwords(overrides: dict[str, Any]) -> dict[str, Any]:
    """The overrides as shown to anyone who can read a job: a data.url loses its password."""
    data = overrides.get("data")
    if isinstance(data, dict) and isinstance(data.get("url"), str):
        return {**overrides, "data": {**data, "url": redact_url(data["url"])}}
    return overrides


def job_view(job: JobRecord) -> dict[str, Any]:
    """What GET /jobs/{id} answers."""
    return {
        "id": job.id,
        "model": job.model,
        "status": job.status,
        "progress": {"done": job.done, "total": job.total},
        "version": job.version,
        "error": job.error,
        "overrides": _without_passwords(job.overrides),
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "url": f"/jobs/{job.id}",
    }


def check_overrides(settings: Settings, overrides: Mapping[str, Any]) -> None:
    """Only the sections that shape a training run may change per run; they are validated like the file."""
    refused = [key for key in overrides if key not in OVERRIDABLE_SECTIONS]
    if refused:
        raise NotAcceptedError(
            f"cannot override {', '.join(repr(k)[:40] for k in refused[:5])} for one run "
            f"(allowed sections: {', '.join(OVERRIDABLE_SECTIONS)})"
        )
    validate_overrides(settings, overrides)


class JobManager:
    """Starts job processes and watches them (and other replicas' jobs) for death."""

    def __init__(self, settings: Settings, registry: Callable[[], Registry]) -> None:
        self.settings = settings
        self.registry = registry
        self._children: dict[str, subprocess.Popen] = {}

    def start(self, overrides: Mapping[str, Any], model: str | None = None) -> JobRecord:
        """Queue a job for ``model`` (default: ``settings.model``) and launch its process;
        ConflictError if that model is already training."""
        settings = self.settings if model is None else self.settings.model_copy(update={"model": model})
        check_overrides(settings, overrides)
        metadata = self.registry().metadata
        job_id = uuid.uuid4().hex
        job = metadata.create_job(job_id, settings.model, dict(overrides))
        env = {**os.environ, SETTINGS_ENV: settings.model_dump_json()}
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "tabserve.service.jobs_runner", job_id],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
            )
        except OSError as exc:
            metadata.finish_job(
                job_id, job.model, status="failed", error=f"could not start the process: {exc}"
            )
            raise
        self._children[job_id] = process
        log.info("training job %s started (pid %d) for %s", job_id, process.pid, job.model)
        return job

    def get(self, job_id: str) -> JobRecord:
        return self.registry().metadata.get_job(job_id)

    def check(self) -> None:
        """Fail jobs whose process exited early or stopped sending heartbeats."""
        metadata = self.registry().metadata
        for job_id, process in list(self._children.items()):
            code = process.poll()
            if code is None:
                continue
            # Forgotten only once its row is settled: if the database is away, the next round tries again.
            job = metadata.get_job(job_id)
            if job.status in ACTIVE:
                log.error("training job %s: its process exited with code %d before finishing", job_id, code)
                metadata.finish_job(
                    job_id,
                    job.model,
                    status="failed",
                    error=f"the training process exited with code {code} before finishing",
                )
            del self._children[job_id]
        for job in metadata.stale_jobs(time.time() - STALE_AFTER_S):
            own = self._children.pop(job.id, None)
            if own is not None:
                own.kill()
                own.wait()
            log.error("training job %s: no heartbeat for %.0f s, marking it failed", job.id, STALE_AFTER_S)
            metadata.finish_job(
                job.id,
                job.model,
                status="failed",
                error=f"no heartbeat for {STALE_AFTER_S:.0f} s: the training process (pid {job.pid}) died",
            )

    async def watch(self) -> None:
        """The server's periodic check, run as a background task."""
        while True:
            try:
                await asyncio.to_thread(self.check)
            except Exception as exc:  # the database may be away; try again next round
                log.warning("training job check failed: %s", exc)
            await asyncio.sleep(CHECK_EVERY_S)

    def reap(self) -> None:
        """At shutdown: collect finished children; running ones keep going and record their own end."""
        for job_id, process in list(self._children.items()):
            if process.poll() is not None:
                del self._children[job_id]
