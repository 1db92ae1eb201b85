"""The registry's SQLite metadata through the standard library, for the CLI's quick commands.

Importing SQLAlchemy costs more than everything else `tabserve models list`
does, so listing, showing, promoting, rolling back and the history on
the default SQLite registry use this instead of MetadataStore. It runs the
same statements on the same tables as version_queries.py, and only on a
registry whose schema is already the one this tabserve writes: a missing,
older or newer schema, any other database and any URL with options go
through MetadataStore, which migrates and knows every backend.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import Any

from tabserve.errors import BackendUnavailableError, ConflictError, NotFoundError
from tabserve.registry.records import (
    HISTORY_COLUMNS,
    PRODUCTION,
    PROMOTE,
    ROLLBACK,
    AliasMove,
    VersionRecord,
    checked_note,
    move_from_values,
    version_from_values,
)

# The migrations in tables.py (a test keeps the two equal): all of them, none other, must be applied.
SCHEMA_MIGRATIONS = (1, 2, 4)
SCHEMA_VERSION = SCHEMA_MIGRATIONS[-1]
DEFAULT_HISTORY_LIMIT = 50  # as alias_queries.py
_LOCK_WAIT_S = 30  # as tabserve.database gives SQLAlchemy's SQLite engines
_PREFIXES = ("sqlite:///", "sqlite+pysqlite:///")
_VERSION_COLUMNS = ", ".join(f.name for f in fields(VersionRecord) if f.name != "aliases")


def plain_sqlite_path(url: str) -> Path | None:
    """The file a plain ``sqlite:///FILE`` URL names; None for any other URL.

    In-memory databases, query options and escaped characters are left to
    SQLAlchemy's parser, so this never reads a URL differently from it.
    """
    for prefix in _PREFIXES:
        if url.startswith(prefix):
            database = url[len(prefix) :]
            if database in ("", ":memory:") or any(c in database for c in "?%#"):
                return None
            return Path(database)
    return None


def open_direct(url: str) -> DirectSqliteMetadata | None:
    """A direct store on the registry at ``url`` if it is a SQLite file at this schema, else None."""
    path = plain_sqlite_path(url)
    if path is None or not path.is_file():
        return None
    store = DirectSqliteMetadata(url, path)
    try:
        current = store.schema_numbers()
    except BackendUnavailableError:
        current = None
    if current != SCHEMA_MIGRATIONS:
        store.close()
        return None
    return store


class DirectSqliteMetadata:
    """Versions and aliases of a SQLite registry: the part of MetadataStore the quick commands use."""

    def __init__(self, url: str, path: Path) -> None:
        self.url = url
        self.safe_url = url  # a SQLite URL holds no password
        # mode=rw: a quick command never creates a database, only reads or moves aliases in one.
        self._conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=rw",
            uri=True,
            timeout=_LOCK_WAIT_S,
            isolation_level=None,
        )

    @contextmanager
    def _transaction(self, write: bool = False) -> Iterator[sqlite3.Connection]:
        """One transaction; writers take the lock up front as MetadataStore's SQLite engine does."""
        try:
            self._conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            message = " ".join(str(exc).split())
            raise BackendUnavailableError(
                f"registry database {self.safe_url} unavailable: {message}"
            ) from None

    def schema_numbers(self) -> tuple[int, ...]:
        """The migrations this database records, in order."""
        with self._transaction() as conn:
            rows = conn.execute("SELECT version FROM tabserve_schema_versions ORDER BY version").fetchall()
        return tuple(row[0] for row in rows)

    def _aliases_by_version(self, conn: sqlite3.Connection, model: str) -> dict[int, list[str]]:
        found: dict[int, list[str]] = {}
        for alias, version in conn.execute(
            "SELECT alias, version FROM tabserve_aliases WHERE model = ?", (model,)
        ):
            found.setdefault(version, []).append(alias)
        return found

    def _records(self, conn: sqlite3.Connection, model: str, where: str, *args: Any) -> list[VersionRecord]:
        cursor = conn.execute(
            f"SELECT {_VERSION_COLUMNS} FROM tabserve_versions WHERE model = ?{where} ORDER BY version",
            (model, *args),
        )
        names = [column[0] for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor]
        aliases = self._aliases_by_version(conn, model)
        return [version_from_values(row, aliases.get(row["version"], [])) for row in rows]

    def list_versions(self, model: str) -> list[VersionRecord]:
        with self._transaction() as conn:
            return self._records(conn, model, "")

    def get_version(self, model: str, version: int) -> VersionRecord:
        with self._transaction() as conn:
            found = self._records(conn, model, " AND version = ?", version)
        if not found:
            raise NotFoundError(f"model '{model}' has no version {version}")
        return found[0]

    def alias_version(self, model: str, alias: str = PRODUCTION) -> int | None:
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT version FROM tabserve_aliases WHERE model = ? AND alias = ?", (model, alias)
            ).fetchone()
        return None if row is None else row[0]

    def latest_version(self, model: str) -> int | None:
        with self._transaction() as conn:
            return conn.execute(
                "SELECT max(version) FROM tabserve_versions WHERE model = ?", (model,)
            ).fetchone()[0]

    def set_alias(
        self,
        model: str,
        version: int,
        alias: str = PRODUCTION,
        *,
        actor: str = "unknown",
        reason: str = "",
        forced: bool = False,
    ) -> None:
        """Point ``alias`` at ``version`` and record the move (who, why, forced), in one transaction."""
        reason = checked_note(actor, reason)
        now = time.time()
        with self._transaction(write=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM tabserve_versions WHERE model = ? AND version = ?", (model, version)
            ).fetchone()
            if exists is None:
                raise NotFoundError(f"model '{model}' has no version {version}")
            previous = self._write_alias(conn, model, alias, version, now)
            self._record(conn, (model, alias, version, True, now, PROMOTE, previous, actor, forced, reason))

    def _record(self, conn: sqlite3.Connection, values: tuple[Any, ...]) -> None:
        conn.execute(
            "INSERT INTO tabserve_alias_history (model, alias, version, active, at, action, "
            "previous_version, actor, forced, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            values,
        )

    def _write_alias(
        self, conn: sqlite3.Connection, model: str, alias: str, version: int, now: float
    ) -> int | None:
        row = conn.execute(
            "SELECT version FROM tabserve_aliases WHERE model = ? AND alias = ?", (model, alias)
        ).fetchone()
        if row is None:
            conn.execute(
                "INSERT INTO tabserve_aliases (model, alias, version, updated_at) VALUES (?, ?, ?, ?)",
                (model, alias, version, now),
            )
            return None
        conn.execute(
            "UPDATE tabserve_aliases SET version = ?, updated_at = ? WHERE model = ? AND alias = ?",
            (version, now, model, alias),
        )
        return row[0]

    def _rollback_pair(self, conn: sqlite3.Connection, model: str, alias: str) -> list[tuple[int, int]]:
        active = conn.execute(
            "SELECT id, version FROM tabserve_alias_history WHERE model = ? AND alias = ? AND active = 1 "
            "ORDER BY id DESC LIMIT 2",
            (model, alias),
        ).fetchall()
        if len(active) < 2:
            raise NotFoundError(f"model '{model}': no earlier '{alias}' version to roll back to")
        return active

    def rollback_target(self, model: str, alias: str = PRODUCTION) -> int:
        """The version a rollback of ``alias`` would move it to (NotFoundError if there is none)."""
        with self._transaction() as conn:
            return self._rollback_pair(conn, model, alias)[1][1]

    def rollback_alias(
        self,
        model: str,
        alias: str = PRODUCTION,
        expected: int | None = None,
        *,
        actor: str = "unknown",
        reason: str = "",
        forced: bool = False,
    ) -> int:
        """Move ``alias`` back to the version before the newest promotion (ConflictError if that moved),
        recorded."""
        reason = checked_note(actor, reason)
        now = time.time()
        with self._transaction(write=True) as conn:
            (current_id, _), (_, previous) = self._rollback_pair(conn, model, alias)
            if expected is not None and previous != expected:
                raise ConflictError(
                    f"model '{model}': the '{alias}' alias moved while rolling back; try again"
                )
            conn.execute("UPDATE tabserve_alias_history SET active = 0 WHERE id = ?", (current_id,))
            was = self._write_alias(conn, model, alias, previous, now)
            self._record(conn, (model, alias, previous, False, now, ROLLBACK, was, actor, forced, reason))
        return previous

    def alias_history(
        self,
        model: str,
        *,
        alias: str | None = None,
        limit: int = DEFAULT_HISTORY_LIMIT,
        before: int | None = None,
    ) -> list[AliasMove]:
        """The model's alias moves, newest first, as MetadataStore.alias_history gives them."""
        where, args = "model = ?", [model]
        if alias is not None:
            where, args = where + " AND alias = ?", [*args, alias]
        if before is not None:
            where, args = where + " AND id < ?", [*args, before]
        with self._transaction() as conn:
            cursor = conn.execute(
                f"SELECT {', '.join(HISTORY_COLUMNS)} FROM tabserve_alias_history WHERE {where} "
                "ORDER BY id DESC LIMIT ?",
                (*args, limit),
            )
            return [move_from_values(dict(zip(HISTORY_COLUMNS, row, strict=True))) for row in cursor]

    def close(self) -> None:
        self._conn.close()
