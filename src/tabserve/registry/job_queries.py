"""Jobs and their locks in the registry database.

A lock is a row keyed by what the job holds (the model it trains, or
``score:<hash>`` for the sink a scoring job writes), inserted in the same
transaction as the job: a second job for a model that is training, or for a
sink being written, fails on the primary key, on every backend and across
processes.
"""

from __future__ import annotations

import json
import time
from typing import Any

import sqlalchemy as sa

from tabserve.errors import ConflictError, NotFoundError
from tabserve.registry import tables as t
from tabserve.registry.connection import RegistryConnection
from tabserve.registry.records import JobRecord, job_from_row


class JobQueries(RegistryConnection):
    """The jobs and training-lock tables."""

    def create_job(
        self,
        job_id: str,
        model: str,
        overrides: dict[str, Any],
        kind: str = "train",
        lock: str | None = None,
        busy: str | None = None,
        version: int | None = None,
    ) -> JobRecord:
        """Queue a job holding ``lock`` (default: the model), or raise ConflictError naming the
        job that holds it (``busy`` says what is busy; default: the model is training)."""
        now = time.time()
        key = lock or model
        try:
            with self._begin() as conn:
                conn.execute(sa.insert(t.training_locks).values(model=key, job_id=job_id, taken_at=now))
                conn.execute(
                    sa.insert(t.jobs).values(
                        id=job_id,
                        model=model,
                        status="queued",
                        done=0,
                        total=0,
                        overrides=json.dumps(overrides),
                        created_at=now,
                        kind=kind,
                        version=version,
                    )
                )
        except sa.exc.IntegrityError:
            running = self.training_lock(key)
            what = busy or f"model '{model}' is already training"
            raise ConflictError(f"{what} (job {running})", job_id=running) from None
        return self.get_job(job_id)

    def training_lock(self, model: str) -> str | None:
        with self._begin() as conn:
            return conn.execute(
                sa.select(t.training_locks.c.job_id).where(t.training_locks.c.model == model)
            ).scalar()

    def get_job(self, job_id: str) -> JobRecord:
        with self._begin() as conn:
            row = conn.execute(sa.select(t.jobs).where(t.jobs.c.id == job_id)).first()
        if row is None:
            raise NotFoundError(f"no training job '{job_id}'")
        return job_from_row(row)

    def update_job(self, job_id: str, **values: Any) -> None:
        with self._begin() as conn:
            conn.execute(sa.update(t.jobs).where(t.jobs.c.id == job_id).values(**values))

    def finish_job(self, job_id: str, model: str, **values: Any) -> None:
        """Record a job's end and release its lock together; the lock is found by the job's id
        (a scoring job's lock is its sink's, not ``model``'s)."""
        with self._begin() as conn:
            conn.execute(
                sa.update(t.jobs).where(t.jobs.c.id == job_id).values(finished_at=time.time(), **values)
            )
            conn.execute(sa.delete(t.training_locks).where(t.training_locks.c.job_id == job_id))

    def stale_jobs(self, older_than: float) -> list[JobRecord]:
        """Queued or running jobs whose last heartbeat (or creation) is older than ``older_than``."""
        with self._begin() as conn:
            rows = conn.execute(
                sa.select(t.jobs).where(
                    t.jobs.c.status.in_(("queued", "running")),
                    sa.func.coalesce(t.jobs.c.heartbeat_at, t.jobs.c.created_at) < older_than,
                )
            ).all()
        return [job_from_row(r) for r in rows]

    def active_jobs(self) -> list[JobRecord]:
        """Queued or running jobs, whatever their heartbeat."""
        with self._begin() as conn:
            rows = conn.execute(sa.select(t.jobs).where(t.jobs.c.status.in_(("queued", "running")))).all()
        return [job_from_row(r) for r in rows]

    def job_counts(self) -> dict[str, int]:
        with self._begin() as conn:
            rows = conn.execute(sa.select(t.jobs.c.status, sa.func.count()).group_by(t.jobs.c.status)).all()
        return {status: int(count) for status, count in rows}

    def recent_jobs(self, limit: int = 50, models: list[str] | None = None) -> list[JobRecord]:
        """The newest jobs first (of these models, if given), at most ``limit``."""
        query = sa.select(t.jobs).order_by(t.jobs.c.created_at.desc(), t.jobs.c.id.desc()).limit(limit)
        if models is not None:
            query = query.where(t.jobs.c.model.in_(models))
        with self._begin() as conn:
            rows = conn.execute(query).all()
        return [job_from_row(r) for r in rows]
