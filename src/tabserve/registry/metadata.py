"""The SQL metadata store: versions, aliases and training jobs.

One implementation serves SQLite, MySQL/MariaDB and PostgreSQL through
SQLAlchemy Core; only portable SQL is used, and races between processes are
settled by primary keys (a clash is retried or reported), never by locks held
across network calls.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tabserve.errors import BackendUnavailableError, ConflictError, NotFoundError
from tabserve.registry import tables as t
from tabserve.urls import redact_url

log = logging.getLogger(__name__)

PRODUCTION = "production"
MAX_INSERT_ATTEMPTS = 50


@dataclass(frozen=True)
class VersionRecord:
    """One registered model version, as stored."""

    model: str
    version: int
    created_at: float
    estimator: str
    params: dict[str, Any]
    metrics: dict[str, Any]
    cv_results: list[dict[str, Any]]
    feature_schema: dict[str, Any]
    data_rows: int
    data_hash: str
    libraries: dict[str, str]
    config: dict[str, Any]
    artifacts: dict[str, dict[str, str]]
    sha256: str
    aliases: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The fields a listing shows."""
        return {
            "model": self.model,
            "version": self.version,
            "created_at": self.created_at,
            "estimator": self.estimator,
            "params": self.params,
            "cv_score": self.metrics.get("cv_score"),
            "accuracy": self.metrics.get("accuracy"),
            "f1_macro": self.metrics.get("f1_macro"),
            "aliases": self.aliases,
        }

    def detail(self) -> dict[str, Any]:
        """Everything a version records, for `models show` and GET /models/{version}."""
        return {
            **self.summary(),
            "metrics": self.metrics,
            "cv_results": self.cv_results,
            "feature_schema": self.feature_schema,
            "data_rows": self.data_rows,
            "data_hash": self.data_hash,
            "libraries": self.libraries,
            "sha256": self.sha256,
        }


@dataclass(frozen=True)
class JobRecord:
    id: str
    model: str
    status: str
    done: int
    total: int
    version: int | None
    error: str | None
    overrides: dict[str, Any]
    created_at: float
    started_at: float | None
    finished_at: float | None
    heartbeat_at: float | None
    host: str | None
    pid: int | None


_JSON_COLUMNS = ("params", "metrics", "cv_results", "feature_schema", "libraries", "config", "artifacts")


def _version_from_row(row: sa.Row, aliases: list[str]) -> VersionRecord:
    values = dict(row._mapping)
    for column in _JSON_COLUMNS:
        values[column] = json.loads(values[column])
    return VersionRecord(**values, aliases=aliases)


def _job_from_row(row: sa.Row) -> JobRecord:
    values = dict(row._mapping)
    values["overrides"] = json.loads(values["overrides"])
    return JobRecord(**values)


CONNECT_TIMEOUT_S = 5


def _engine_options(url: str) -> dict[str, Any]:
    """Pool settings; a short connect timeout so an outage is reported in seconds, not minutes."""
    backend = sa.make_url(url).get_backend_name()
    if backend == "sqlite":
        return {"connect_args": {"timeout": 30}}
    options: dict[str, Any] = {"pool_pre_ping": True, "pool_recycle": 1800, "pool_size": 5, "max_overflow": 5}
    if backend in ("mysql", "mariadb", "postgresql"):
        options["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_S}
    return options


class MetadataStore:
    """Registry metadata in a SQL database named by a SQLAlchemy URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.safe_url = redact_url(url)
        _make_sqlite_folder(url)
        self.engine = sa.create_engine(url, **_engine_options(url))
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            sa.event.listen(self.engine, "begin", _sqlite_begin_immediate)
        self._migrated = False

    @contextmanager
    def _begin(self) -> Iterator[sa.Connection]:
        self.ensure_schema()
        with _translate_outage(self.safe_url), self.engine.begin() as conn:
            yield conn

    def ensure_schema(self) -> None:
        """Create or upgrade the tables on first use."""
        if self._migrated:
            return
        with _translate_outage(self.safe_url):
            t.migrate(self.engine)
        self._migrated = True

    def ping(self) -> None:
        with _translate_outage(self.safe_url), self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        self.engine.dispose()

    # versions -----------------------------------------------------------
    def add_version(self, model: str, fields: dict[str, Any]) -> int:
        """Insert a version under the next free number; a clash with a concurrent writer retries.

        The primary key (model, version) settles races on every backend: the
        loser's insert fails (or deadlocks on MySQL), and it tries the next number.
        """
        row = {k: json.dumps(fields[k]) if k in _JSON_COLUMNS else fields[k] for k in fields}
        for attempt in range(MAX_INSERT_ATTEMPTS):
            try:
                with self._begin() as conn:
                    latest = conn.execute(
                        sa.select(sa.func.max(t.versions.c.version)).where(t.versions.c.model == model)
                    ).scalar()
                    number = (latest or 0) + 1
                    conn.execute(
                        sa.insert(t.versions).values(
                            model=model, version=number, created_at=time.time(), **row
                        )
                    )
                return number
            except sa.exc.IntegrityError:
                if not self._version_exists(model, number):
                    raise  # a real constraint failure, not a clash over the number
                time.sleep(random.uniform(0.005, 0.02) * min(attempt + 1, 10))
            except _TransientConflict:
                # Jittered, growing pause so writers that collided do not collide again.
                time.sleep(random.uniform(0.005, 0.02) * min(attempt + 1, 10))
        raise ConflictError(
            f"model '{model}': could not claim a version number after {MAX_INSERT_ATTEMPTS} tries"
        )

    def _version_exists(self, model: str, version: int) -> bool:
        with self._begin() as conn:
            found = conn.execute(
                sa.select(t.versions.c.version).where(
                    t.versions.c.model == model, t.versions.c.version == version
                )
            ).first()
        return found is not None

    def _aliases_by_version(self, conn: sa.Connection, model: str) -> dict[int, list[str]]:
        found: dict[int, list[str]] = {}
        for alias, version in conn.execute(
            sa.select(t.aliases.c.alias, t.aliases.c.version).where(t.aliases.c.model == model)
        ):
            found.setdefault(version, []).append(alias)
        return found

    def list_versions(self, model: str) -> list[VersionRecord]:
        with self._begin() as conn:
            aliases = self._aliases_by_version(conn, model)
            rows = conn.execute(
                sa.select(t.versions).where(t.versions.c.model == model).order_by(t.versions.c.version)
            ).all()
        return [_version_from_row(r, aliases.get(r.version, [])) for r in rows]

    def get_version(self, model: str, version: int) -> VersionRecord:
        with self._begin() as conn:
            row = conn.execute(
                sa.select(t.versions).where(t.versions.c.model == model, t.versions.c.version == version)
            ).first()
            if row is None:
                raise NotFoundError(f"model '{model}' has no version {version}")
            aliases = self._aliases_by_version(conn, model)
        return _version_from_row(row, aliases.get(version, []))

    def models(self) -> list[str]:
        with self._begin() as conn:
            return list(
                conn.execute(sa.select(t.versions.c.model).distinct().order_by(t.versions.c.model)).scalars()
            )

    # aliases ------------------------------------------------------------
    def alias_version(self, model: str, alias: str = PRODUCTION) -> int | None:
        with self._begin() as conn:
            return conn.execute(
                sa.select(t.aliases.c.version).where(t.aliases.c.model == model, t.aliases.c.alias == alias)
            ).scalar()

    def latest_version(self, model: str) -> int | None:
        with self._begin() as conn:
            return conn.execute(
                sa.select(sa.func.max(t.versions.c.version)).where(t.versions.c.model == model)
            ).scalar()

    def set_alias(self, model: str, version: int, alias: str = PRODUCTION) -> None:
        """Point ``alias`` at ``version`` and remember the move, in one transaction.

        Two first promotions racing may both find no alias row and both insert;
        the loser's transaction fails on the primary key and is simply run again,
        now as an update.
        """
        for attempt in range(2):
            try:
                self._set_alias_once(model, version, alias)
                return
            except sa.exc.IntegrityError:
                if attempt:
                    raise

    def _set_alias_once(self, model: str, version: int, alias: str) -> None:
        now = time.time()
        with self._begin() as conn:
            exists = conn.execute(
                sa.select(t.versions.c.version).where(
                    t.versions.c.model == model, t.versions.c.version == version
                )
            ).first()
            if exists is None:
                raise NotFoundError(f"model '{model}' has no version {version}")
            self._write_alias(conn, model, alias, version, now)
            conn.execute(
                sa.insert(t.alias_history).values(
                    model=model, alias=alias, version=version, active=True, at=now
                )
            )

    def _write_alias(self, conn: sa.Connection, model: str, alias: str, version: int, now: float) -> None:
        updated = conn.execute(
            sa.update(t.aliases)
            .where(t.aliases.c.model == model, t.aliases.c.alias == alias)
            .values(version=version, updated_at=now)
        )
        if updated.rowcount == 0:
            conn.execute(
                sa.insert(t.aliases).values(model=model, alias=alias, version=version, updated_at=now)
            )

    def rollback_alias(self, model: str, alias: str = PRODUCTION) -> int:
        """Move ``alias`` back to the version it pointed at before the newest promotion."""
        with self._begin() as conn:
            active = conn.execute(
                sa.select(t.alias_history.c.id, t.alias_history.c.version)
                .where(
                    t.alias_history.c.model == model,
                    t.alias_history.c.alias == alias,
                    t.alias_history.c.active.is_(True),
                )
                .order_by(t.alias_history.c.id.desc())
                .limit(2)
            ).all()
            if len(active) < 2:
                raise NotFoundError(f"model '{model}': no earlier '{alias}' version to roll back to")
            current, previous = active
            conn.execute(
                sa.update(t.alias_history).where(t.alias_history.c.id == current.id).values(active=False)
            )
            self._write_alias(conn, model, alias, previous.version, time.time())
        return previous.version

    # jobs ---------------------------------------------------------------
    def create_job(self, job_id: str, model: str, overrides: dict[str, Any]) -> JobRecord:
        """Queue a training job, or raise ConflictError naming the one already running."""
        now = time.time()
        try:
            with self._begin() as conn:
                conn.execute(sa.insert(t.training_locks).values(model=model, job_id=job_id, taken_at=now))
                conn.execute(
                    sa.insert(t.jobs).values(
                        id=job_id,
                        model=model,
                        status="queued",
                        done=0,
                        total=0,
                        overrides=json.dumps(overrides),
                        created_at=now,
                    )
                )
        except sa.exc.IntegrityError:
            running = self.training_lock(model)
            raise ConflictError(
                f"model '{model}' is already training (job {running})", job_id=running
            ) from None
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
        return _job_from_row(row)

    def update_job(self, job_id: str, **values: Any) -> None:
        with self._begin() as conn:
            conn.execute(sa.update(t.jobs).where(t.jobs.c.id == job_id).values(**values))

    def finish_job(self, job_id: str, model: str, **values: Any) -> None:
        """Record a job's end and release its model's training lock together."""
        with self._begin() as conn:
            conn.execute(
                sa.update(t.jobs).where(t.jobs.c.id == job_id).values(finished_at=time.time(), **values)
            )
            conn.execute(
                sa.delete(t.training_locks).where(
                    t.training_locks.c.model == model, t.training_locks.c.job_id == job_id
                )
            )

    def stale_jobs(self, older_than: float) -> list[JobRecord]:
        """Queued or running jobs whose last heartbeat (or creation) is older than ``older_than``."""
        with self._begin() as conn:
            rows = conn.execute(
                sa.select(t.jobs).where(
                    t.jobs.c.status.in_(("queued", "running")),
                    sa.func.coalesce(t.jobs.c.heartbeat_at, t.jobs.c.created_at) < older_than,
                )
            ).all()
        return [_job_from_row(r) for r in rows]

    def job_counts(self) -> dict[str, int]:
        with self._begin() as conn:
            rows = conn.execute(sa.select(t.jobs.c.status, sa.func.count()).group_by(t.jobs.c.status)).all()
        return {status: int(count) for status, count in rows}


def _make_sqlite_folder(url: str) -> None:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (see below).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    try:
        if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            _switch_to_wal(cursor)
    finally:
        cursor.close()


def _switch_to_wal(cursor: Any) -> None:
    # Switching a new database to WAL needs an exclusive lock and SQLite does
    # not wait for it (no busy handler), so processes opening the same fresh
    # file at once see "database is locked": retry for a while.
    import sqlite3

    deadline = time.monotonic() + 30
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(0.01, 0.05))


def _sqlite_begin_immediate(conn: sa.Connection) -> None:
    # Take the write lock up front: a deferred transaction that reads, then
    # writes, fails at once under concurrent writers instead of waiting.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


class _TransientConflict(ConflictError):
    """A deadlock or serialization failure: the transaction is safe to retry."""


# MySQL/MariaDB error numbers and PostgreSQL SQLSTATEs that mean "retry the transaction".
_MYSQL_RETRYABLE = {1205, 1213}  # lock wait timeout, deadlock
_POSTGRES_RETRYABLE = {"40001", "40P01"}  # serialization failure, deadlock detected


def _is_transient_conflict(exc: sa.exc.DBAPIError) -> bool:
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in _POSTGRES_RETRYABLE:
        return True
    args = getattr(orig, "args", ())
    return bool(args) and args[0] in _MYSQL_RETRYABLE


def _one_line(error: BaseException | None) -> str:
    return " ".join(str(error).split())


@contextmanager
def _translate_outage(safe_url: str) -> Iterator[None]:
    """Turn a lost connection into BackendUnavailableError, with the password hidden."""
    try:
        yield
    except sa.exc.OperationalError as exc:
        if _is_transient_conflict(exc):
            raise _TransientConflict(str(exc.orig)) from exc
        raise BackendUnavailableError(
            f"registry database {safe_url} unavailable: {_one_line(exc.orig)}"
        ) from None
    except sa.exc.InterfaceError as exc:
        raise BackendUnavailableError(
            f"registry database {safe_url} unavailable: {_one_line(exc.orig)}"
        ) from None
