"""The CLI's SQLAlchemy-free SQLite store agrees with MetadataStore, and steps aside when it can't."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tabserve.errors import BackendUnavailableError, ConflictError, NotFoundError
from tabserve.registry import ModelStore, StoredFile
from tabserve.registry import tables as t
from tabserve.registry.metadata import MetadataStore
from tabserve.registry.sqlite_direct import SCHEMA_MIGRATIONS, DirectSqliteMetadata, open_direct


def _fields(n: int) -> dict:
    return {
        "estimator": "x",
        "params": {"n": n},
        "metrics": {"cv_score": 0.5 + n / 100},
        "cv_results": [{"rank": n}],
        "feature_schema": {"columns": ["a"]},
        "data_rows": n,
        "data_hash": "h",
        "libraries": {"numpy": "1"},
        "config": {"registered": {"description": f"v{n}"}},
    }


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/registry.db"


@pytest.fixture
def pair(url: str, tmp_path: Path) -> Iterator[tuple[ModelStore, ModelStore]]:
    """The same registry opened as the server does and as a quick CLI command does; three versions of m."""
    full = ModelStore.open(url, str(tmp_path / "artifacts"))
    for n in (1, 2, 3):
        full.register("m", [StoredFile("model", "model.skops", str(n).encode())], _fields(n))
    quick = ModelStore.open(url, str(tmp_path / "artifacts"), quick=True)
    yield full, quick
    quick.close()
    full.close()


def _history(url: str) -> list[tuple]:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        return conn.execute(
            "SELECT model, alias, version, active, action, previous_version, actor "
            "FROM tabserve_alias_history ORDER BY id"
        ).fetchall()


def test_a_quick_registry_on_sqlite_skips_sqlalchemy(pair):
    full, quick = pair
    assert isinstance(quick.metadata, DirectSqliteMetadata)
    assert isinstance(full.metadata, MetadataStore)


def test_both_stores_read_the_same_records(pair):
    full, quick = pair
    full.promote("m", 2)
    assert quick.versions("m") == full.versions("m")
    assert quick.get("m", 2) == full.get("m", 2)
    assert quick.get("m", 2).aliases == ["production"]
    assert quick.get("m", 2).description == "v2"
    assert quick.serving_version("m") == full.serving_version("m") == 2
    assert quick.metadata.latest_version("m") == 3
    assert quick.versions("nobody") == []
    assert quick.metadata.alias_version("nobody") is None


def test_alias_moves_interleave_with_the_full_store(pair, url):
    full, quick = pair
    quick.promote("m", 1, actor="cli")
    full.promote("m", 3, actor="http")
    quick.promote("m", 2, actor="cli")
    assert full.serving_version("m") == 2
    assert full.rollback("m", actor="http") == 3
    assert quick.metadata.rollback_target("m") == 1
    assert quick.rollback("m", actor="cli", reason="v3 is worse live") == 1
    assert full.metadata.alias_version("m") == 1
    assert _history(url) == [
        ("m", "production", 1, 1, "promote", None, "cli"),
        ("m", "production", 3, 0, "promote", 1, "http"),
        ("m", "production", 2, 0, "promote", 3, "cli"),
        ("m", "production", 3, 0, "rollback", 2, "http"),
        ("m", "production", 1, 0, "rollback", 3, "cli"),
    ]
    assert quick.history("m") == full.history("m")
    newest = full.history("m", limit=2)
    assert [(m.action, m.previous_version, m.version, m.reason) for m in newest] == [
        ("rollback", 3, 1, "v3 is worse live"),
        ("rollback", 2, 3, ""),
    ]
    assert quick.history("m", limit=10, before=newest[-1].id) == full.history("m")[2:]


@pytest.mark.parametrize(
    ("action", "error", "message"),
    [
        (lambda r: r.get("m", 9), NotFoundError, "model 'm' has no version 9"),
        (lambda r: r.promote("m", 9), NotFoundError, "model 'm' has no version 9"),
        (
            lambda r: r.rollback("m"),
            NotFoundError,
            "model 'm': no earlier 'production' version to roll back to",
        ),
        (
            lambda r: r.metadata.rollback_alias("m", expected=3),
            NotFoundError,
            "no earlier 'production' version",
        ),
    ],
    ids=["get", "promote", "rollback", "rollback_alias"],
)
def test_both_stores_refuse_alike(pair, action, error, message):
    for registry in pair:
        with pytest.raises(error, match=message):
            action(registry)


def test_a_rollback_whose_target_moved_is_refused(pair):
    full, quick = pair
    for version in (1, 2, 3):
        full.promote("m", version)
    with pytest.raises(ConflictError, match="moved while rolling back"):
        quick.metadata.rollback_alias("m", expected=1)  # the checked target was 1; it is now 2
    assert quick.serving_version("m") == 3


def test_the_schema_it_expects_is_the_newest_migration():
    assert tuple(number for number, _ in t.MIGRATIONS) == SCHEMA_MIGRATIONS


@pytest.mark.parametrize(
    "url_of",
    [
        lambda folder: "sqlite://",
        lambda folder: "sqlite:///:memory:",
        lambda folder: f"sqlite:///{folder}/registry.db?timeout=5",
        lambda folder: f"sqlite:///{folder}/missing.db",
        lambda folder: "postgresql://tabserve@127.0.0.1:1/tabserve",
    ],
    ids=["memory", "memory-file", "options", "missing", "postgresql"],
)
def test_other_urls_are_left_to_sqlalchemy(pair, tmp_path, url_of):
    url = url_of(tmp_path)
    assert open_direct(url) is None
    assert not (tmp_path / "missing.db").exists()


@pytest.mark.parametrize(
    "damage",
    [
        "DELETE FROM tabserve_schema_versions WHERE version = 2",
        "INSERT INTO tabserve_schema_versions VALUES (99, 0)",
        "DROP TABLE tabserve_schema_versions",
    ],
    ids=["older", "newer", "unversioned"],
)
def test_a_registry_at_another_schema_is_left_to_sqlalchemy(pair, url, damage):
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        conn.execute(damage)
    assert open_direct(url) is None


def test_a_file_that_is_no_database_is_left_to_sqlalchemy(tmp_path):
    (tmp_path / "notes.db").write_text("not a database, at some length " * 40)
    assert open_direct(f"sqlite:///{tmp_path}/notes.db") is None


def test_a_table_dropped_underneath_is_an_outage_naming_the_registry(pair, url):
    _, quick = pair
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        conn.execute("DROP TABLE tabserve_aliases")
    with pytest.raises(
        BackendUnavailableError, match=r"^registry database sqlite:///.* unavailable: no such table"
    ):
        quick.versions("m")
