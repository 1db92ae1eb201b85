"""The job process: ``python -m tabserve.jobs.runner <job-id>``.

Reads the server's settings from stdin (a pipe, not the environment: see
``jobs.child_environment``) and the job's overrides from its row; trains and
registers, or scores a configured source into a configured sink; and writes
status, throttled progress and a heartbeat to the row so any replica can
report on it (and fail it if this process dies).
"""

from __future__ import annotations

import logging
import os
import re
import socket
import sys
import threading
import time
from typing import Any

from tabserve.config import Settings, validate_overrides
from tabserve.errors import BackendUnavailableError, TabserveError
from tabserve.jobs.launcher import HEARTBEAT_S, KIND_WORDS
from tabserve.jobs.limits import apply_memory_limit, memory_message, time_limit
from tabserve.registry import JobRecord
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


class RowsWriter:
    """A scoring job's rows scored and rejected so far, written to its row at most twice a second."""

    def __init__(self, metadata: MetadataStore, job_id: str) -> None:
        self.metadata = metadata
        self.job_id = job_id
        self.last = 0.0

    def __call__(self, scored: int, rejected: int) -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_EVERY_S:
            return
        self.last = now
        try:
            self.metadata.update_job(self.job_id, scored=scored, rejected=rejected, heartbeat_at=time.time())
        except TabserveError as exc:
            log.warning("could not record progress: %s", exc)


def _train(settings: Settings, registry: Any, job: JobRecord) -> dict[str, Any]:
    from tabserve.workflow import train_and_register

    run_settings = validate_overrides(settings, job.overrides)
    outcome = train_and_register(run_settings, registry, ProgressWriter(registry.metadata, job.id))
    log.info("training job %s made %s version %d", job.id, job.model, outcome.version)
    return {"version": outcome.version}


def _score(settings: Settings, registry: Any, job: JobRecord) -> dict[str, Any]:
    """Score the job's configured source into its configured sink with the version it was given."""
    from tabserve.jobs import score_policy
    from tabserve.scoring.runner import ScoreJob, run

    request = score_policy.ScoreRequest.from_overrides(job.overrides)
    source, sink = score_policy.resolve(settings, request)
    assert job.version is not None  # set when the job was accepted
    score = settings.score
    work = ScoreJob(
        registry=settings.registry.model_dump(),
        model=job.model,
        version=job.version,
        sink=sink.model_dump(),
        rejects=score_policy.rejects_for(settings, sink),
        key_columns=tuple(score.key_columns),
        chunk_rows=score.chunk_rows,
    )
    summary = run(
        work,
        [source],
        score.sql_partition_rows,
        score.dask_address,
        ProgressWriter(registry.metadata, job.id),
        RowsWriter(registry.metadata, job.id),
    )
    log.info("scoring job %s: %d rows scored, %d rejected", job.id, summary.scored, summary.rejected)
    return {"scored": summary.scored, "rejected": summary.rejected}


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


def apply_memory_limit_off() -> None:
    """Lift the memory cap again so that recording the failure cannot fail for want of memory."""
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))


def run_job(settings: Settings, job_id: str) -> int:
    """Run one queued job to its end; the exit code says whether it succeeded."""
    from tabserve.registry import open_registry

    registry = open_registry(settings)
    metadata = registry.metadata
    job = metadata.get_job(job_id)
    stop = threading.Event()
    work = _score if job.kind == "score" else _train
    try:
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
        limits = settings.server
        with time_limit(limits.job_timeout_s):
            apply_memory_limit(limits.job_memory_mb)  # after the imports and threads every job needs
            outcome = work(settings, registry, job)
    except Exception as exc:
        stop.set()
        apply_memory_limit_off()
        # Anyone with the token reads the job's error: a library's own message may quote cell
        # values (e.g. "could not convert string to float: '...'"), so it is kept without them.
        if isinstance(exc, MemoryError) and settings.server.job_memory_mb is not None:
            message = memory_message(settings.server.job_memory_mb)
        elif isinstance(exc, TabserveError):
            message = redact_text(str(exc))
        else:
            message = library_reason(exc, KIND_WORDS[job.kind])
        log.error(
            "%s job %s failed: %s",
            KIND_WORDS[job.kind],
            job_id,
            message,
            exc_info=not isinstance(exc, TabserveError),
        )
        _record_end(metadata, job_id, job.model, status="failed", error=message[:2000])
        registry.close()
        return 1
    finally:
        stop.set()
    apply_memory_limit_off()
    recorded = _record_end(metadata, job_id, job.model, status="succeeded", **outcome)
    registry.close()
    return 0 if recorded else 1


# Quoted text, except a parameter's name ("The 'C' parameter of ...").
QUOTED = re.compile("(?:'[^']*'|\"[^\"]*\")(?! parameter\\b)")
REASON_CHARS = 400


def library_reason(exc: BaseException, what: str = "training") -> str:
    """A library error's reason, fit for a job's readers: quoted text (which may be a cell value)
    replaced by '…', URLs without credentials, cut short; the log keeps the whole message."""
    text = QUOTED.sub("'…'", redact_text(str(exc)).replace("\n", " ").strip())
    if len(text) > REASON_CHARS:
        text = text[: REASON_CHARS - 1] + "…"
    reason = f": {text}" if text else ""
    return f"{what} failed with {type(exc).__name__}{reason} (the server log has the details)"


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
