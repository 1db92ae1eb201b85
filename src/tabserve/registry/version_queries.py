"""Versions in the registry database: claim a number, list, find, read an alias.

Moving an alias (promote, roll back, remove) and its history are alias_queries.py.

Races between processes are settled by primary keys (a clash is retried or
reported), never by locks held across network calls.
"""

from __future__ import annotations

import json
import time
from typing import Any

import sqlalchemy as sa

from tabserve.database import TransientConflict, pause_before_retry
from tabserve.errors import ConflictError, NotFoundError
from tabserve.registry import tables as t
from tabserve.registry.connection import RegistryConnection
from tabserve.registry.records import PRODUCTION, VersionRecord, version_from_row, version_row

MAX_INSERT_ATTEMPTS = 50


class VersionQueries(RegistryConnection):
    """The version and alias tables."""

    def add_version(self, model: str, fields: dict[str, Any]) -> int:
        """Insert a version under the next free number; a clash with a concurrent writer retries.

        The primary key (model, version) settles races on every backend: the
        loser's insert fails (or deadlocks on MySQL), and it tries the next number.
        """
        row = version_row(fields)
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
            except TransientConflict:
                pass
            pause_before_retry(attempt)
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
        return [version_from_row(r, aliases.get(r.version, [])) for r in rows]

    def get_version(self, model: str, version: int) -> VersionRecord:
        with self._begin() as conn:
            row = conn.execute(
                sa.select(t.versions).where(t.versions.c.model == model, t.versions.c.version == version)
            ).first()
            if row is None:
                raise NotFoundError(f"model '{model}' has no version {version}")
            aliases = self._aliases_by_version(conn, model)
        return version_from_row(row, aliases.get(version, []))

    def models(self) -> list[str]:
        with self._begin() as conn:
            return list(
                conn.execute(sa.select(t.versions.c.model).distinct().order_by(t.versions.c.model)).scalars()
            )

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

    def version_summaries(self, model: str) -> list[dict[str, Any]]:
        """Every version's listing columns, oldest first, without the heavy JSON (CV table, schema, config).

        What a version table needs: with hundreds of versions, decoding each
        one's CV table and config costs far more than the page itself.
        """
        v = t.versions
        columns = [
            v.c.version,
            v.c.created_at,
            v.c.estimator,
            v.c.params,
            v.c.metrics,
            v.c.data_rows,
            v.c.data_hash,
        ]
        with self._begin() as conn:
            aliases = self._aliases_by_version(conn, model)
            rows = conn.execute(sa.select(*columns).where(v.c.model == model).order_by(v.c.version)).all()
        summaries = []
        for row in rows:
            item = dict(row._mapping)
            item["params"] = json.loads(item["params"])
            item["metrics"] = json.loads(item["metrics"])
            item["aliases"] = aliases.get(row.version, [])
            summaries.append(item)
        return summaries
