"""The bf47ac6 registry fixture's rows on every backend: today's code opens, serves, promotes and
rolls back what an earlier tabserve wrote (schema 2), with nothing lost."""

from __future__ import annotations

import sqlite3
import tarfile
from pathlib import Path

import sqlalchemy as sa

from tabserve import promotion
from tabserve.inputs import parse_payload
from tabserve.registry import PRODUCTION, ModelStore
from tabserve.registry import tables as t
from tabserve.registry.artifacts import LocalArtifactStore
from tabserve.registry.metadata import MetadataStore
from tabserve.smoke import load_checked

FIXTURE = Path(__file__).parent.parent / "fixtures" / "registry_v2.tar.gz"
COPIED = (t.versions, t.aliases, t.alias_history)


def _copy_fixture(url: str, folder: Path) -> None:
    """The fixture's version and alias rows, as written, into the backend's schema 2 tables."""
    with tarfile.open(FIXTURE) as archive:
        archive.extractall(folder, filter="data")
    store = MetadataStore(url)
    store.ensure_schema()
    store.close()
    engine = sa.create_engine(url)
    try:
        with sqlite3.connect(folder / "registry.db") as old, engine.begin() as conn:
            for table in COPIED:
                cursor = old.execute(f"SELECT * FROM {table.name}")
                names = [d[0] for d in cursor.description]
                rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
                for row in rows:
                    row.pop("id", None)  # numbered anew, in the same order, by the backend's own sequence
                    if "active" in row:
                        row["active"] = bool(row["active"])
                conn.execute(table.insert(), rows)
    finally:
        engine.dispose()


def test_an_old_registry_upgrades_on_every_backend(empty_db_url: str, tmp_path: Path) -> None:
    _copy_fixture(empty_db_url, tmp_path)
    with ModelStore(MetadataStore(empty_db_url), LocalArtifactStore(tmp_path / "artifacts")) as registry:
        assert [r.version for r in registry.versions("iris")] == [1, 2]
        assert registry.serving_version("iris") == 2
        for version in (1, 2):
            predictor = load_checked(registry, "iris", version)
            batch = parse_payload([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]], predictor.schema, 2)
            assert predictor.predict(batch).labels == ["setosa", "virginica"]
        assert promotion.rollback(registry, "iris") == 1
        promotion.promote(registry, "iris", 2)
        assert registry.metadata.alias_version("iris", PRODUCTION) == 2
        assert promotion.rollback(registry, "iris") == 1
        assert [r.sha256 for r in registry.versions("iris")] == [
            registry.get("iris", v).artifacts["model"]["sha256"] for v in (1, 2)
        ]
