"""The registry database's connection: engine, schema on first use, outages as domain errors.

The query classes (versions and aliases, jobs) build on this, so every query
runs in a transaction that has migrated the schema and reports a lost
database as BackendUnavailableError with the password hidden.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from tabserve import database
from tabserve.errors import BackendUnavailableError
from tabserve.registry import tables as t
from tabserve.urls import redact_url

log = logging.getLogger(__name__)


# Driver words for "no such table/column" (SQLite, MySQL/MariaDB 1146/1054, PostgreSQL 42P01/42703).
_SCHEMA_WORDS = (
    "no such table",
    "no such column",
    "doesn't exist",
    "does not exist",
    "unknown column",
    "undefinedtable",
    "undefinedcolumn",
)


def _is_schema_error(exc: sa.exc.DBAPIError) -> bool:
    text = f"{type(exc.orig).__name__} {exc.orig}".lower()
    return any(word in text for word in _SCHEMA_WORDS)


class RegistrySchemaError(BackendUnavailableError):
    """The registry's tables are not what this tabserve expects: the server cannot answer from them (503)."""


class RegistryConnection:
    """An engine on the registry database named by a SQLAlchemy URL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.safe_url = redact_url(url)
        self.engine = database.create_engine(url, own_sqlite=True)
        self._migrated = False

    @contextmanager
    def _outage(self) -> Iterator[None]:
        with database.translate_outage(f"registry database {self.safe_url}"):
            yield

    @contextmanager
    def _begin(self) -> Iterator[sa.Connection]:
        self.ensure_schema()
        with self._outage(), self._schema_checked(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _schema_checked(self) -> Iterator[None]:
        """A table or column that is not there (dropped or renamed under a running server): 503, not 500."""
        try:
            yield
        except (sa.exc.ProgrammingError, sa.exc.OperationalError) as exc:
            if not _is_schema_error(exc):
                raise
            log.error("registry database %s: %s", self.safe_url, database.driver_message(exc))
            what = "the registry schema is not as expected (a table or column is missing or renamed)"
            raise RegistrySchemaError(
                f"registry database {self.safe_url}: {what}; see the server log",
                public=f"{what}; the server log says which",
            ) from None

    def ensure_schema(self) -> None:
        """Create or upgrade the tables on first use."""
        if self._migrated:
            return
        with self._outage():
            t.migrate(self.engine)
        self._migrated = True

    def ping(self) -> None:
        """Raise BackendUnavailableError unless the database answers a query."""
        with self._outage(), self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        self.engine.dispose()
