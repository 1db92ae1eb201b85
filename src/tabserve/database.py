"""Database plumbing shared by the registry's metadata store and sql.py's data tables.

One place for what every SQLAlchemy engine tabserve opens needs: the connect
timeout, SQLite's pragmas, how a driver's error becomes a one-line message,
which errors mean "retry the transaction", and the jittered pause between tries.
"""

from __future__ import annotations

import random
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tabserve.errors import BackendUnavailableError, ConflictError
from tabserve.extras import require_backend

# Long enough for a server across a slow link, short enough that an outage is
# reported in seconds instead of hanging a request or a training job for minutes.
CONNECT_TIMEOUT_S = 10
_SERVER_BACKENDS = ("mysql", "mariadb", "postgresql")
# MySQL/MariaDB error numbers and PostgreSQL SQLSTATEs that mean "retry the transaction".
_MYSQL_RETRYABLE = {1205, 1213}  # lock wait timeout, deadlock
_POSTGRES_RETRYABLE = {"40001", "40P01"}  # serialization failure, deadlock detected
_SQLITE_LOCK_WAIT_S = 30
# "The server answered, but the database in the URL does not exist."
_MYSQL_UNKNOWN_DATABASE = 1049
_POSTGRES_UNKNOWN_DATABASE = "3D000"
# libpq reports a refused startup without a SQLSTATE, so psycopg's error has
# none: the server's own (English) text is all there is to go on.
_POSTGRES_NO_DATABASE_TEXT = re.compile(r'FATAL:\s+database "[^"]*" does not exist')


class TransientConflict(ConflictError):
    """A deadlock or serialization failure: the transaction is safe to retry."""


def driver_message(exc: BaseException | None) -> str:
    """The database driver's own message on one line (psycopg's span several), without the SQL echo."""
    origin = getattr(exc, "orig", None) or exc
    return " ".join(str(origin).split())


def is_missing_database(exc: BaseException) -> bool:
    """The server was reached but the URL's database does not exist (MariaDB 1049, PostgreSQL 3D000)."""
    origin = getattr(exc, "orig", None) or exc
    if getattr(origin, "sqlstate", None) == _POSTGRES_UNKNOWN_DATABASE:
        return True
    args = getattr(origin, "args", ())
    if args and args[0] == _MYSQL_UNKNOWN_DATABASE:
        return True
    from_psycopg = type(origin).__module__.startswith("psycopg")
    return from_psycopg and bool(_POSTGRES_NO_DATABASE_TEXT.search(str(origin)))


def create_database_hint(url: sa.URL) -> str:
    """How to create the URL's database with the server's client: tabserve creates tables, not databases."""
    host = url.host or "localhost"
    if url.get_backend_name() == "postgresql":
        options = f"-h {host}" + (f" -p {url.port}" if url.port else "")
        options += f" -U {url.username}" if url.username else ""
        return f"create it first, e.g. createdb {options} {url.database}"
    options = f"-h {host}" + (f" -P {url.port}" if url.port else "")
    options += f" -u {url.username}" if url.username else ""
    return f"create it first, e.g. mysql {options} -e 'CREATE DATABASE {url.database}'"


def pause_before_retry(attempt: int) -> None:
    """A jittered pause growing with ``attempt`` (capped), so writers that collided do not collide again."""
    time.sleep(random.uniform(0.005, 0.02) * min(attempt + 1, 10))


def engine_options(url: sa.URL, long_lived: bool = True) -> dict[str, Any]:
    """Connect timeout for servers (unless the URL sets one), lock wait for SQLite.

    A long-lived engine (the registry's, held by a server for days) also checks
    pooled connections before use and recycles them, so a database restart
    costs one failed ping, not a failed request.
    """
    backend = url.get_backend_name()
    if backend == "sqlite":
        return {"connect_args": {"timeout": _SQLITE_LOCK_WAIT_S}}
    options: dict[str, Any] = {}
    if long_lived:
        options = {"pool_pre_ping": True, "pool_recycle": 1800, "pool_size": 5, "max_overflow": 5}
    if backend in _SERVER_BACKENDS and "connect_timeout" not in url.query:
        options["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_S}
    return options


def create_engine(url: str | sa.URL, *, long_lived: bool = True, own_sqlite: bool = False) -> sa.Engine:
    """An engine with tabserve's options.

    ``own_sqlite`` is for databases tabserve owns (the registry's): the file's
    folder is created, the file switched to WAL so readers never block the
    writer, and transactions take the write lock up front. A user's SQLite file
    (a data source) is left in the mode it has.
    """
    parsed = sa.make_url(url)
    require_backend(parsed.get_driver_name(), f"a {parsed.get_backend_name()} database")
    if own_sqlite:
        _make_sqlite_folder(parsed)
    engine = sa.create_engine(parsed, **engine_options(parsed, long_lived))
    if own_sqlite and engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin_immediate)
    return engine


def is_transient_conflict(exc: sa.exc.DBAPIError) -> bool:
    """A deadlock, lock wait timeout or serialization failure, on MySQL/MariaDB or PostgreSQL."""
    orig = exc.orig
    if getattr(orig, "sqlstate", None) in _POSTGRES_RETRYABLE:
        return True
    args = getattr(orig, "args", ())
    return bool(args) and args[0] in _MYSQL_RETRYABLE


@contextmanager
def translate_outage(what: str) -> Iterator[None]:
    """Turn a lost connection into BackendUnavailableError naming ``what`` (a redacted URL) on one line.

    A deadlock or serialization failure becomes TransientConflict instead, for
    the caller to retry.
    """
    try:
        yield
    except sa.exc.OperationalError as exc:
        if is_transient_conflict(exc):
            raise TransientConflict(driver_message(exc)) from exc
        raise BackendUnavailableError(f"{what} unavailable: {driver_message(exc)}") from None
    except sa.exc.InterfaceError as exc:
        raise BackendUnavailableError(f"{what} unavailable: {driver_message(exc)}") from None


def _make_sqlite_folder(url: sa.URL) -> None:
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (see below).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={_SQLITE_LOCK_WAIT_S * 1000}")
    try:
        if cursor.execute("PRAGMA journal_mode").fetchone()[0] not in ("wal", "memory"):
            _switch_to_wal(cursor)
    finally:
        cursor.close()


def _switch_to_wal(cursor: Any) -> None:
    # Switching a new database to WAL needs an exclusive lock and SQLite does
    # not wait for it (no busy handler), so processes opening the same fresh
    # file at once see "database is locked": retry for a while.
    deadline = time.monotonic() + _SQLITE_LOCK_WAIT_S
    attempt = 0
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            pause_before_retry(attempt)
            attempt += 1


def _sqlite_begin_immediate(conn: sa.Connection) -> None:
    # Take the write lock up front: a deferred transaction that reads, then
    # writes, fails at once under concurrent writers instead of waiting.
    conn.exec_driver_sql("BEGIN IMMEDIATE")
