"""The registry's SQL tables and their numbered migrations.

A numbered-migrations table (not Alembic): the schema is small, it must be
created by whichever process first touches an empty database, and keeping the
steps as plain SQLAlchemy Core avoids shipping a migration environment.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from tabserve.errors import BackendUnavailableError
from tabserve.registry.column_types import LongText, Name

log = logging.getLogger(__name__)

metadata = sa.MetaData()

schema_versions = sa.Table(
    "tabserve_schema_versions",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied_at", sa.Double, nullable=False),
)

versions = sa.Table(
    "tabserve_versions",
    metadata,
    sa.Column("model", Name, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("estimator", sa.String(200), nullable=False),
    sa.Column("params", LongText, nullable=False),
    sa.Column("metrics", LongText, nullable=False),
    sa.Column("cv_results", LongText, nullable=False),
    sa.Column("feature_schema", LongText, nullable=False),
    sa.Column("data_rows", sa.Integer, nullable=False),
    sa.Column("data_hash", sa.String(64), nullable=False),
    sa.Column("libraries", LongText, nullable=False),
    sa.Column("config", LongText, nullable=False),
    sa.Column("artifacts", LongText, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
)

aliases = sa.Table(
    "tabserve_aliases",
    metadata,
    sa.Column("model", Name, primary_key=True),
    sa.Column("alias", sa.String(50), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
)

# Every alias move is a row. A promote pushes an active one; a rollback deactivates the newest
# active one and is recorded as an inactive row, as is the removal of an alias: the active rows are
# the stack a rollback walks back. ``version`` is where the alias points after the move (for a
# removal: where it pointed), ``previous_version`` where it pointed before (null: nowhere, or a move
# recorded before migration 4).
alias_history = sa.Table(
    "tabserve_alias_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model", Name, nullable=False, index=True),
    sa.Column("alias", sa.String(50), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("at", sa.Double, nullable=False),
    # Migration 4: who moved it and why.
    sa.Column("action", sa.String(16), nullable=False, server_default="promote"),
    sa.Column("previous_version", sa.Integer, nullable=True),
    sa.Column("actor", sa.String(32), nullable=False, server_default="unknown"),
    sa.Column("forced", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("reason", sa.Text, nullable=True),
)
# The columns migration 4 adds to a table created before it (a new table has them from the start).
HISTORY_V4_COLUMNS = ("action", "previous_version", "actor", "forced", "reason")

jobs = sa.Table(
    "tabserve_jobs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("model", Name, nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("done", sa.Integer, nullable=False),
    sa.Column("total", sa.Integer, nullable=False),
    sa.Column("version", sa.Integer, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("overrides", LongText, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("started_at", sa.Double, nullable=True),
    sa.Column("finished_at", sa.Double, nullable=True),
    sa.Column("heartbeat_at", sa.Double, nullable=True),
    sa.Column("host", sa.String(255), nullable=True),
    sa.Column("pid", sa.Integer, nullable=True),
)

# A row per model while one of its trainings is queued or running.
training_locks = sa.Table(
    "tabserve_training_locks",
    metadata,
    sa.Column("model", Name, primary_key=True),
    sa.Column("job_id", sa.String(32), nullable=False),
    sa.Column("taken_at", sa.Double, nullable=False),
)


def _create_v1(conn: sa.Connection) -> None:
    for table in (versions, aliases, alias_history, jobs, training_locks):
        table.create(conn, checkfirst=True)


def _create_v2(conn: sa.Connection) -> None:
    from tabserve.registry import prediction_table  # its own module: it imports this one

    prediction_table.create(conn)


def _history_v4(conn: sa.Connection) -> None:
    """Who moved an alias, why, forced or not, and from which version: columns added to the history.

    Each column is added only if it is missing, so the step is safe to repeat: MySQL/MariaDB commit
    every ALTER at once, and a process that died between two of them leaves some added. Rows written
    before get actor 'unknown', action 'promote', not forced, no reason and no previous version.
    """
    present = {column["name"] for column in sa.inspect(conn).get_columns(alias_history.name)}
    for name in HISTORY_V4_COLUMNS:
        if name not in present:
            spec = sa.schema.CreateColumn(alias_history.c[name]).compile(dialect=conn.dialect)
            conn.execute(sa.text(f"ALTER TABLE {alias_history.name} ADD COLUMN {spec}"))


MIGRATIONS: list[tuple[int, Callable[[sa.Connection], None]]] = [
    (1, _create_v1),
    (2, _create_v2),
    (4, _history_v4),
]


def applied_version(conn: sa.Connection) -> int:
    return conn.execute(sa.select(sa.func.max(schema_versions.c.version))).scalar() or 0


def applied_numbers(conn: sa.Connection) -> set[int]:
    """Every migration recorded, so a step numbered below the newest (merged later) still runs."""
    return set(conn.execute(sa.select(schema_versions.c.version)).scalars())


# Any fixed number: the key of the advisory lock that serialises migrations
# (PostgreSQL's advisory locks are per database already).
_LOCK_KEY = 7_461_220_001
LOCK_TIMEOUT_S = 60


def _mysql_lock_name(conn: sa.Connection) -> str:
    # MySQL's named locks are server-wide: include the database so registries sharing a server don't wait.
    return f"tabserve_schema:{conn.engine.url.database or ''}"[:64]


@contextmanager
def _migration_lock(conn: sa.Connection) -> Iterator[None]:
    """Hold the database's advisory lock so only one process migrates at a time.

    PostgreSQL and MySQL/MariaDB have session-level advisory locks that die
    with the connection; SQLite needs none because the registry opens every
    transaction with BEGIN IMMEDIATE, which already excludes other writers.
    """
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(sa.select(sa.func.set_config("lock_timeout", f"{LOCK_TIMEOUT_S}s", True)))
        conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": _LOCK_KEY})
        conn.commit()
    elif dialect in ("mysql", "mariadb"):
        got = conn.execute(
            sa.text("SELECT GET_LOCK(:name, :timeout)"),
            {"name": _mysql_lock_name(conn), "timeout": LOCK_TIMEOUT_S},
        ).scalar()
        conn.commit()
        if got != 1:
            held = f"registry schema: another process held the migration lock for {LOCK_TIMEOUT_S} s"
            raise BackendUnavailableError(held, public=held)
    try:
        yield
    finally:
        try:
            conn.rollback()
            if dialect == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": _LOCK_KEY})
            elif dialect in ("mysql", "mariadb"):
                conn.execute(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": _mysql_lock_name(conn)})
            conn.commit()
        except sa.exc.DBAPIError:  # the connection is gone, and the lock with it
            log.debug("migration lock not released: connection lost", exc_info=True)


def migrate(engine: sa.Engine) -> int:
    """Bring the schema up to the newest migration; safe when several processes race.

    Each step runs under the advisory lock and records its number in
    ``tabserve_schema_versions`` in the same transaction (MySQL commits DDL
    implicitly, so steps also check for each table first and are safe to repeat).
    """
    with engine.connect() as conn, _migration_lock(conn):
        schema_versions.create(conn, checkfirst=True)
        conn.commit()
        for number, step in MIGRATIONS:
            if number in applied_numbers(conn):
                conn.rollback()
                continue
            step(conn)
            conn.execute(sa.insert(schema_versions).values(version=number, applied_at=time.time()))
            conn.commit()
            log.info("registry schema migrated to version %d", number)
        current = applied_version(conn)
        conn.rollback()
        return current
