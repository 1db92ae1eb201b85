"""The SQL metadata store: versions, aliases and training jobs in one object.

One implementation serves SQLite, MySQL/MariaDB and PostgreSQL through
SQLAlchemy Core with only portable SQL. The concepts live in modules of their
own: records.py (what is stored), version_queries.py, alias_queries.py, job_queries.py,
connection.py (engine, schema, outages) on top of tabserve.database (plumbing
shared with sql.py). New query groups join here as another base class.
"""

from __future__ import annotations

from tabserve.registry.alias_queries import AliasQueries
from tabserve.registry.job_queries import JobQueries
from tabserve.registry.records import JobRecord, VersionRecord
from tabserve.registry.version_queries import MAX_INSERT_ATTEMPTS, PRODUCTION, VersionQueries

__all__ = ["MAX_INSERT_ATTEMPTS", "PRODUCTION", "JobRecord", "MetadataStore", "VersionRecord"]


class MetadataStore(VersionQueries, AliasQueries, JobQueries):
    """Registry metadata in a SQL database named by a SQLAlchemy URL."""
