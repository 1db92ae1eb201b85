"""The registry schema is created on first use, once, even when processes race to create it."""

from __future__ import annotations

import sqlalchemy as sa

from tabserve.registry import tables as t
from tabserve.registry.metadata import MetadataStore

# Server backends are marked by the `backend` fixture's params; the SQLite runs are fast tests.

REGISTRY_TABLES = {table.name for table in t.metadata.sorted_tables}


def _schema_rows(url: str) -> list[int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.select(t.schema_versions.c.version)).scalars())
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_first_use_creates_every_table_and_records_each_migration(empty_db_url):
    assert not _tables(empty_db_url) & REGISTRY_TABLES

    store = MetadataStore(empty_db_url)
    try:
        assert store.latest_version("iris") is None  # any call migrates first
    finally:
        store.close()

    assert _tables(empty_db_url) >= REGISTRY_TABLES
    assert _schema_rows(empty_db_url) == [number for number, _ in t.MIGRATIONS]


def test_migrating_again_changes_nothing(empty_db_url):
    engine = sa.create_engine(empty_db_url)
    try:
        first = t.migrate(engine)
        second = t.migrate(engine)
    finally:
        engine.dispose()

    assert first == second == t.MIGRATIONS[-1][0]
    assert _schema_rows(empty_db_url) == [number for number, _ in t.MIGRATIONS]


MIGRATE_SCRIPT = """
import json
from tabserve.registry.metadata import MetadataStore
store = MetadataStore(sys.argv[1])
# --ready--
store.ensure_schema()
print(json.dumps(store.latest_version("race")))
store.close()
"""


def test_processes_migrating_an_empty_database_at_once_all_succeed(empty_db_url, run_together):
    outputs = run_together(MIGRATE_SCRIPT, [[empty_db_url]] * 6)

    assert [out.strip() for out in outputs] == ["null"] * 6
    assert _schema_rows(empty_db_url) == [number for number, _ in t.MIGRATIONS]
    assert _tables(empty_db_url) >= REGISTRY_TABLES
