"""The training job process: ``python -m tabserve.jobs.runner <job-id>``.

Reads the server's settings from stdin (a pipe, not the environment: see
``jobs.child_environment``) and the job's overrides from
its row, trains and registers, and writes status, throttled progress and a
heartbeat to the row so any replica can report on it (and fail it if this
process dies).
"""

from __future__ import annotations

import logging
import os
import re
import socket
import sys
import threading
import time

from tabserve.config import Settings, validate_overrides
from tabserve.errors import BackendUnavailableError, TabserveError
from tabserve.jobs.launcher import HEARTBEAT_S
from tabserve.registry.metadata import MetadataStore
from tabserve.urls import redact_text

log = logging.getLogger("tabserve.jobs.runner")

PROGRESS_EVERY_S = 0.5
RECORD_END_FOR_S = 30.0  # well inside the servers' STALE_AFTER_S, which covers a runner that gave up


class ProgressWriter:
    """The progress callback: writes fits done/total to the job row at most twice a second."""

    def __init__(self, metadata: MetadataStore, job_id: str) -> None:
        self.metadata = metadata
        self.job_id = job_id
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done not in (0, total) and now - self.last < PROGRESS_EVERY_S:
            return
        self.last = now
        try:
            self.metadata.update_job(self.job_id, done=done, total=total, heartbeat_at=time.time())
        except TabserveError as exc:  # progress is best effort; the heartbeat keeps trying
            log.warning("could not record progress: %s", exc)


def _heartbeat(metadata: MetadataStore, job_id: str, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_S):
        try:
            metadata.update_job(job_id, heartbeat_at=time.time())
        except TabserveError as exc:
            log.warning("heartbeat for job %s failed: %s", job_id, exc)


def _record_end(metadata: MetadataStore, job_id: str, model: str, **values: object) -> bool:
    """Write the job's end; while the database is away, keep trying for a while.

    So a job that failed because the database dropped says so itself once the
    database is back, instead of only "its process exited" from the server.
    """
    deadline = time.monotonic() + RECORD_END_FOR_S
    delay = 0.5
    while True:
        try:
            metadata.finish_job(job_id, model, **values)
            return True
        except BackendUnavailableError as exc:
            if time.monotonic() + delay > deadline:
                log.error("training job %s: could not record its end, giving up: %s", job_id, exc)
                return False
            log.warning("training job %s: could not record its end, retry in %.1f s: %s", job_id, delay, exc)
            time.sleep(delay)
            delay = min(2 * delay, 5.0)


def run_job(settings: Settings, job_id: str) -> int:
    """Run one queued job to its end; the exit code says whether it succeeded."""
    from tabserve.workflow import open_registry, train_and_register

    registry = open_registry(settings)
    metadata = registry.metadata
    job = metadata.get_job(job_id)
    stop = threading.Event()
    try:
        run_settings = validate_overrides(settings, job.overrides)
        now = time.time()
        metadata.update_job(
            job_id,
            status="running",
            started_at=now,
            heartbeat_at=now,
            host=socket.gethostname(),
            pid=os.getpid(),
        )
        threading.Thread(target=_heartbeat, args=(metadata, job_id, stop), daemon=True).start()
        outcome = train_and_register(run_settings, registry, ProgressWriter(metadata, job_id))
    except Exception as exc:
        stop.set()
        # Anyone with the token reads the job's error: a library's own message may quote cell
        # values (e.g. "could not convert string to float: '...'"), so it is kept without them.
        message = redact_text(str(exc)) if isinstance(exc, TabserveError) else library_reason(exc)
        log.error("training job %s failed: %s", job_id, message, exc_info=not isinstance(exc, TabserveError))
        _record_end(metadata, job_id, job.model, status="failed", error=message[:2000])
        registry.close()
        return 1
    finally:
        stop.set()
    recorded = _record_end(metadata, job_id, job.model, status="succeeded", version=outcome.version)
    log.info("training job %s made %s version %d", job_id, job.model, outcome.version)
    registry.close()
    return 0 if recorded else 1


# Quoted text, except a parameter's name ("The 'C' parameter of ...").
QUOTED = re.compile("(?:'[^']*'|\"[^\"]*\")(?! parameter\\b)")
REASON_CHARS = 400


def library_reason(exc: BaseException) -> str:
    """A library error's reason, fit for a job's readers: quoted text (which may be a cell value)
    replaced by '…', URLs without credentials, cut short; the log keeps the whole message."""
    text = QUOTED.sub("'…'", redact_text(str(exc)).replace("\n", " ").strip())
    if len(text) > REASON_CHARS:
        text = text[: REASON_CHARS - 1] + "…"
    reason = f": {text}" if text else ""
    return f"training failed with {type(exc).__name__}{reason} (the server log has the details)"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python -m tabserve.jobs.runner JOB_ID\n")
        return 2
    from tabserve.logs import configure_logging

    settings = Settings.model_validate_json(sys.stdin.buffer.read())
    # The server's own levels: its terminal (this process's stderr) shows the job's end, not only the file.
    configure_logging(settings.logging)
    return run_job(settings, argv[0])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
