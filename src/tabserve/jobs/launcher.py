"""Training jobs: start one in its own process, answer for it, fail it if its process dies.

A job is a row in the registry database (any replica can answer for it) and a
``python -m tabserve.jobs.runner <id>`` process that does the work, so
training never competes with requests for this process's event loop or GIL.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tabserve.config import Settings
from tabserve.config_sources import ENV_PREFIX
from tabserve.jobs.limits import KILL_GRACE_S, timeout_message
from tabserve.jobs.policy import OVERRIDABLE_SECTIONS, check_train_overrides
from tabserve.model_configs import require_training_settings
from tabserve.registry import JobRecord, ModelStore
from tabserve.timefmt import iso_utc
from tabserve.urls import redact_text, redact_tree

log = logging.getLogger(__name__)

__all__ = ["OVERRIDABLE_SECTIONS", "JobManager", "check_overrides", "job_view"]
HEARTBEAT_S = 5.0
STALE_AFTER_S = 45.0  # several missed heartbeats: the process is gone
CHECK_EVERY_S = 5.0
ACTIVE = ("queued", "running")
HOST = socket.gethostname()


def process_is_gone(pid: int | None, job_id: str) -> bool:
    """On this host: no live process with this pid runs this job (pid reuse is caught by the command line)."""
    if pid is None:
        return False
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return True
    except OSError:  # no /proc here: fall back to the heartbeat timeout
        return False
    if not command:  # a zombie: exited, not yet collected by its parent
        return True
    return b"tabserve.jobs.runner" not in command or job_id.encode() not in command


def job_view(job: JobRecord) -> dict[str, Any]:
    """What GET /jobs/{id} answers."""
    return {
        "id": job.id,
        "model": job.model,
        "status": job.status,
        "progress": {"done": job.done, "total": job.total},
        "version": job.version,
        "error": redact_text(job.error) if job.error else job.error,
        "overrides": redact_tree(job.overrides),
        "created_at": iso_utc(job.created_at),
        "started_at": iso_utc(job.started_at),
        "finished_at": iso_utc(job.finished_at),
        "url": f"/jobs/{job.id}",
    }


def check_overrides(settings: Settings, overrides: Mapping[str, Any], newest_task: str | None = None) -> None:
    """Only what cannot reach beyond the server's config may change per run (see train_policy);
    a body that sets the scorer or the candidates has them built once before the job is accepted.
    ``newest_task``: the task of the model's newest version (what ``task: auto`` decided last)."""
    run = check_train_overrides(settings, overrides, newest_task)
    search = overrides.get("search")
    if "candidates" in overrides or (isinstance(search, Mapping) and "scoring" in search):
        from tabserve.jobs.precheck import check_in_process

        check_in_process(run)


def child_environment() -> dict[str, str]:
    """The environment a job process gets: the server's, without tabserve's own variables.

    Settings (token and database passwords included) go to the child over a pipe
    instead, since any process of the same user can read ``/proc/PID/environ``.
    """
    return {name: value for name, value in os.environ.items() if not name.startswith(ENV_PREFIX)}


def _hand_over(process: subprocess.Popen, settings: Settings) -> None:
    """Write the settings JSON to the child's stdin and close it (check notices a child that died early)."""
    assert process.stdin is not None
    try:
        process.stdin.write(settings.model_dump_json().encode())
        process.stdin.close()
    except BrokenPipeError:
        log.warning("training job process %d exited before reading its settings", process.pid)


class JobManager:
    """Starts job processes and watches them (and other replicas' jobs) for death."""

    def __init__(self, settings: Settings, registry: Callable[[], ModelStore]) -> None:
        self.settings = settings
        self.registry = registry
        self._children: dict[str, subprocess.Popen] = {}
        self._started: dict[str, float] = {}  # monotonic start of each child, for the timeout

    def start(self, overrides: Mapping[str, Any], model: str | None = None) -> JobRecord:
        """Queue a job for ``model`` (default: ``settings.model``) and launch its process;
        ConflictError if that model is already training; ServeOnlyError in a serve-only install."""
        from tabserve.extras import require_train_extra

        require_train_extra("training")
        settings = require_training_settings(self.settings, model or self.settings.model)
        check_overrides(settings, overrides, self._newest_task(settings))
        metadata = self.registry().metadata
        job_id = uuid.uuid4().hex
        job = metadata.create_job(job_id, settings.model, dict(overrides))
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "tabserve.jobs.runner", job_id],
                env=child_environment(),
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
            )
            _hand_over(process, settings)
        except OSError as exc:
            metadata.finish_job(
                job_id, job.model, status="failed", error=f"could not start the process: {exc}"
            )
            raise
        self._children[job_id] = process
        self._started[job_id] = time.monotonic()
        # Where the process runs, so that any server on this host can tell at once that it is gone.
        metadata.update_job(job_id, host=HOST, pid=process.pid)
        log.info("training job %s started (pid %d) for %s", job_id, process.pid, job.model)
        return job

    def _newest_task(self, settings: Settings) -> str | None:
        """The task the model's newest version was trained for; None without versions (or when the
        config names the task, which then counts)."""
        if settings.task != "auto":
            return None
        metadata = self.registry().metadata
        newest = metadata.latest_version(settings.model)
        return None if newest is None else metadata.get_version(settings.model, newest).task

    def get(self, job_id: str) -> JobRecord:
        return self.registry().metadata.get_job(job_id)

    def _stop_if_overdue(self, job_id: str, process: subprocess.Popen) -> None:
        """Kill a job process still running well past server.job_timeout_s (its own timer did not stop it)."""
        timeout = self.settings.server.job_timeout_s
        if time.monotonic() - self._started.get(job_id, time.monotonic()) <= timeout + KILL_GRACE_S:
            return
        log.error("training job %s: still running %g s past its timeout, killing it", job_id, KILL_GRACE_S)
        process.kill()
        process.wait()
        job = self.registry().metadata.get_job(job_id)
        if job.status in ACTIVE:
            self.registry().metadata.finish_job(
                job_id, job.model, status="failed", error=timeout_message(timeout)
            )
        del self._children[job_id]
        self._started.pop(job_id, None)

    def check(self) -> None:
        """Fail jobs whose process exited early or stopped sending heartbeats."""
        metadata = self.registry().metadata
        for job_id, process in list(self._children.items()):
            code = process.poll()
            if code is None:
                self._stop_if_overdue(job_id, process)
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
            self._started.pop(job_id, None)
        for job in metadata.active_jobs():
            if job.id in self._children or job.host != HOST or not process_is_gone(job.pid, job.id):
                continue
            log.error(
                "training job %s: its process (pid %s) on this host is gone, marking it failed",
                job.id,
                job.pid,
            )
            metadata.finish_job(
                job.id,
                job.model,
                status="failed",
                error=f"the training process (pid {job.pid} on {HOST}) is gone: its server stopped",
            )
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
