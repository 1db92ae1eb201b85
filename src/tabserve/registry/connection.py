"""The registry database's connection: engine, schema on first use, outages as domain errors.

The query classes (versions and aliases, jobs) build on this, so every query
runs in a transaction that has migrated the schema and reports a lost
database as BackendUnavailableError with the password hidden.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from tabserve import database
from tabserve.registry import tables as t
from tabserve.urls import redact_url


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
        with self._outage(), self.engine.begin() as conn:
            yield conn

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
