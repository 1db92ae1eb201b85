"""A registry table renamed under a running server: a 503-class error naming the schema, on every backend."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tabserve.registry import ModelStore, StoredFile
from tabserve.registry.artifacts import LocalArtifactStore
from tabserve.registry.connection import RegistrySchemaError
from tabserve.registry.metadata import MetadataStore
from tests.backends.test_backend_registry import version_fields


def test_a_renamed_versions_table_is_a_schema_error(empty_db_url, tmp_path):
    registry = ModelStore(MetadataStore(empty_db_url), LocalArtifactStore(tmp_path / "artifacts"))
    try:
        registry.register("iris", [StoredFile("model", "model.bin", b"bytes")], version_fields())
        engine = sa.create_engine(empty_db_url)
        try:
            with engine.begin() as conn:
                conn.execute(sa.text("ALTER TABLE tabserve_versions RENAME TO tabserve_versions_gone"))
        finally:
            engine.dispose()
        with pytest.raises(RegistrySchemaError, match="registry schema is not as expected"):
            registry.versions("iris")
    finally:
        registry.close()


def test_json_documents_over_64_kb_round_trip_on_every_backend(empty_db_url, tmp_path):
    """MySQL/MariaDB's TEXT stops at 64 kB: the document columns are LONGTEXT there."""
    big = {f"param_{i}": "x" * 100 for i in range(1000)}  # about 110 kB of JSON
    with ModelStore(MetadataStore(empty_db_url), LocalArtifactStore(tmp_path / "artifacts")) as registry:
        version = registry.register(
            "iris", [StoredFile("model", "model.bin", b"bytes")], {**version_fields(), "params": big}
        )
        assert registry.get("iris", version).params == big
    engine = sa.create_engine(empty_db_url)
    try:
        column = {c["name"]: c["type"] for c in sa.inspect(engine).get_columns("tabserve_versions")}["params"]
    finally:
        engine.dispose()
    if engine.dialect.name in ("mysql", "mariadb"):
        assert type(column).__name__ == "LONGTEXT", column
    else:
        assert isinstance(column, sa.Text), column
