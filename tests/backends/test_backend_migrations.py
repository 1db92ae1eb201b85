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


def _schema_2(url: str) -> None:
    """What an earlier tabserve left: schema 1 and 2, the alias history without migration 4's columns
    and two moves in it; and, as a MySQL step that died between two ALTERs would, one column added."""
    from tabserve.registry import prediction_table

    old = sa.MetaData()
    history = sa.Table(
        t.alias_history.name,
        old,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("alias", sa.String(50), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("at", sa.Double, nullable=False),
    )
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for table in (t.schema_versions, t.versions, t.aliases, t.jobs, t.training_locks, history):
                table.create(conn)
            prediction_table.create(conn)
            conn.execute(t.schema_versions.insert(), [{"version": n, "applied_at": 0.0} for n in (1, 2)])
            conn.execute(
                history.insert(),
                [
                    {"model": "m", "alias": "production", "version": v, "active": True, "at": float(v)}
                    for v in (1, 2)
                ],
            )
            conn.execute(
                sa.text(f"ALTER TABLE {history.name} ADD COLUMN actor VARCHAR(32) DEFAULT 'unknown' NOT NULL")
            )
    finally:
        engine.dispose()


def test_migration_4_gives_an_old_history_its_columns_and_is_safe_to_repeat(empty_db_url):
    _schema_2(empty_db_url)
    store = MetadataStore(empty_db_url)
    try:
        moves = store.alias_history("m")
        assert [(m.version, m.actor, m.action, m.forced, m.reason, m.previous_version) for m in moves] == [
            (2, "unknown", "promote", False, "", None),
            (1, "unknown", "promote", False, "", None),
        ]
        assert store.rollback_alias("m", actor="cli", reason="back", forced=True) == 1
        newest = store.alias_history("m", limit=1)[0]
        assert (newest.action, newest.version, newest.actor, newest.forced, newest.reason) == (
            "rollback",
            1,
            "cli",
            True,
            "back",
        )
    finally:
        store.close()
    assert _schema_rows(empty_db_url) == [1, 2, 4]
    engine = sa.create_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            t._history_v4(conn)  # every column there already: nothing to add, no error
            columns = {c["name"] for c in sa.inspect(conn).get_columns(t.alias_history.name)}
    finally:
        engine.dispose()
    assert columns == {column.name for column in t.alias_history.columns}
