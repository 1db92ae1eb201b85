"""The registry's SQL tables and their numbered migrations.

A numbered-migrations table (not Alembic): the schema is small, it must be
created by whichever process first touches an empty database, and keeping the
steps as plain SQLAlchemy Core avoids shipping a migration environment.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

log = logging.getLogger(__name__)

metadata = sa.MetaData()
LongText = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
Name = sa.String(100)

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

# Each promote pushes a row; a rollback deactivates the newest active one.
alias_history = sa.Table(
    "tabserve_alias_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model", Name, nullable=False, index=True),
    sa.Column("alias", sa.String(50), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("at", sa.Double, nullable=False),
)

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


MIGRATIONS: list[tuple[int, Callable[[sa.Connection], None]]] = [(1, _create_v1)]


def applied_version(conn: sa.Connection) -> int:
    return conn.execute(sa.select(sa.func.max(schema_versions.c.version))).scalar() or 0


def migrate(engine: sa.Engine) -> int:
    """Bring the schema up to the newest migration; safe when several processes race."""
    schema_versions.create(engine, checkfirst=True)
    for number, step in MIGRATIONS:
        with engine.begin() as conn:
            if applied_version(conn) >= number:
                continue
            step(conn)
            try:
                with conn.begin_nested():
                    conn.execute(sa.insert(schema_versions).values(version=number, applied_at=time.time()))
            except sa.exc.IntegrityError:
                continue  # another process recorded it first
            log.info("registry schema migrated to version %d", number)
    with engine.connect() as conn:
        return applied_version(conn)
