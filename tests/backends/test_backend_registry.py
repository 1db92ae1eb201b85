"""Registry metadata behaves the same on SQLite, MariaDB and PostgreSQL, also under concurrent writers."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pytest

from tabserve.config import load_settings
from tabserve.data import load_iris_frame
from tabserve.errors import ConflictError, NotFoundError
from tabserve.registry import PRODUCTION, ModelStore, StoredFile
from tabserve.registry.artifacts import LocalArtifactStore
from tabserve.registry.metadata import MetadataStore
from tabserve.sql import write_table
from tabserve.workflow import train_and_register

# Server backends are marked by the `backend` fixture's params; the SQLite runs are fast tests.


def version_fields(n: int = 0) -> dict:
    return {
        "estimator": "sklearn.linear_model.LogisticRegression",
        "params": {"C": n},
        "metrics": {"cv_score": 0.9, "accuracy": 0.9, "f1_macro": 0.9, "holdout_score": 0.9},
        "cv_results": [{"rank": 1}],
        "feature_schema": {"features": [{"name": "x", "type": "numeric"}], "classes": ["a", "b"]},
        "data_rows": 150,
        "data_hash": "0" * 64,
        "libraries": {"scikit-learn": "1"},
        "config": {"model": "m"},
    }


@pytest.fixture
def registry(db_url, tmp_path):
    opened = ModelStore(MetadataStore(db_url), LocalArtifactStore(tmp_path / "artifacts"))
    yield opened
    opened.close()


def register(registry: ModelStore, model: str, n: int = 0) -> int:
    return registry.register(
        model, [StoredFile("model", "model.bin", f"bytes {n}".encode())], version_fields(n)
    )


def test_register_list_and_get(registry, model_name):
    first = register(registry, model_name, 1)
    second = register(registry, model_name, 2)

    assert (first, second) == (1, 2)
    listed = registry.versions(model_name)
    assert [v.version for v in listed] == [1, 2]
    record = registry.get(model_name, 2)
    assert record.params == {"C": 2}
    assert record.feature_schema["classes"] == ["a", "b"]
    assert registry.read_file(record) == b"bytes 2"
    assert model_name in registry.metadata.models()


def test_unknown_version_is_not_found(registry, model_name):
    register(registry, model_name)
    with pytest.raises(NotFoundError, match=f"model '{model_name}' has no version 7"):
        registry.get(model_name, 7)


def test_long_json_fields_survive(registry, model_name):
    fields = version_fields()
    fields["cv_results"] = [{"params": "x" * 200, "score": i / 7} for i in range(2000)]  # > 64 KiB of JSON
    version = registry.register(model_name, [StoredFile("model", "m.bin", b"m")], fields)
    assert registry.get(model_name, version).cv_results == json.loads(json.dumps(fields["cv_results"]))


def test_promote_and_rollback_move_the_alias(registry, model_name):
    for n in range(3):
        register(registry, model_name, n)
    assert registry.serving_version(model_name) == 3  # newest while no alias is set

    registry.promote(model_name, 1)
    registry.promote(model_name, 3)
    assert registry.metadata.alias_version(model_name, PRODUCTION) == 3
    assert registry.get(model_name, 3).aliases == [PRODUCTION]

    assert registry.rollback(model_name) == 1
    assert registry.serving_version(model_name) == 1
    assert registry.get(model_name, 3).aliases == []
    with pytest.raises(NotFoundError, match="no earlier 'production' version"):
        registry.rollback(model_name)


def test_promote_unknown_version_changes_nothing(registry, model_name):
    register(registry, model_name)
    registry.promote(model_name, 1)
    with pytest.raises(NotFoundError):
        registry.promote(model_name, 9)
    assert registry.metadata.alias_version(model_name) == 1


def test_jobs_and_the_training_lock(registry, model_name):
    store = registry.metadata
    job_id = uuid.uuid4().hex
    job = store.create_job(job_id, model_name, {"search": {"cv": 2}})
    assert (job.status, job.overrides) == ("queued", {"search": {"cv": 2}})
    assert store.training_lock(model_name) == job_id

    with pytest.raises(ConflictError) as clash:
        store.create_job(uuid.uuid4().hex, model_name, {})
    assert clash.value.job_id == job_id

    store.update_job(job_id, status="running", done=3, total=10, heartbeat_at=1.0)
    assert (store.get_job(job_id).done, store.get_job(job_id).total) == (3, 10)
    assert job_id in {j.id for j in store.stale_jobs(older_than=2.0)}

    store.finish_job(job_id, model_name, status="succeeded", version=4)
    finished = store.get_job(job_id)
    assert (finished.status, finished.version) == ("succeeded", 4)
    assert finished.finished_at is not None
    assert store.training_lock(model_name) is None
    assert store.job_counts().get("succeeded", 0) >= 1
    store.create_job(uuid.uuid4().hex, model_name, {})  # the lock is free again


def test_unknown_job_is_not_found(registry):
    with pytest.raises(NotFoundError, match="no training job 'nope'"):
        registry.metadata.get_job("nope")


WRITER_SCRIPT = """
import json
from pathlib import Path
from tabserve.registry import ModelStore, StoredFile
from tabserve.registry.artifacts import LocalArtifactStore
from tabserve.registry.metadata import MetadataStore
url, folder, model, count, fields = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
registry = ModelStore(MetadataStore(url), LocalArtifactStore(folder))
registry.metadata.ensure_schema()
# --ready--
numbers = [
    registry.register(model, [StoredFile("model", "m.bin", str(i).encode())], json.loads(fields))
    for i in range(count)
]
print(json.dumps(numbers))
registry.close()
"""


def test_concurrent_writers_get_distinct_version_numbers(db_url, model_name, tmp_path, run_together):
    writers, per_writer = 4, 8
    argv = [db_url, str(tmp_path / "artifacts"), model_name, str(per_writer), json.dumps(version_fields())]

    outputs = run_together(WRITER_SCRIPT, [argv] * writers)

    numbers = [n for out in outputs for n in json.loads(out)]
    assert sorted(numbers) == list(range(1, writers * per_writer + 1))
    store = MetadataStore(db_url)
    try:
        assert [v.version for v in store.list_versions(model_name)] == sorted(numbers)
    finally:
        store.close()


def test_train_from_a_sql_table_end_to_end(db_url, table_name, model_name, tmp_path):
    write_table(load_iris_frame(), db_url, table_name)
    settings = load_settings(
        environ={},
        overrides={
            "model": model_name,
            "data": {"source": "sql", "url": db_url, "table": table_name},
            "registry": {"url": db_url, "artifacts": str(tmp_path / "artifacts")},
            "candidates": [{"estimator": "sklearn.linear_model.LogisticRegression", "grid": {"C": [1.0]}}],
            "search": {"n_jobs": 1},
            "logging": {"file": None},
        },
    )

    outcome = train_and_register(settings)

    assert (outcome.version, outcome.promoted) == (1, True)
    registry = ModelStore.open(db_url, str(tmp_path / "artifacts"))
    try:
        record = registry.get(model_name, registry.serving_version(model_name))
        assert record.data_rows == 150
        assert record.metrics["accuracy"] > 0.8
        model = registry.load_model(record)
        rows = load_iris_frame().drop(columns="species")
        np.testing.assert_array_equal(model.predict(rows), outcome.trained.pipeline.predict(rows))
    finally:
        registry.close()
