"""Model files in S3, over HTTP to a real S3-compatible server (moto's server mode on a loopback port)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from tabserve.config import load_settings
from tabserve.data import load_iris_frame
from tabserve.errors import BackendUnavailableError, IntegrityError
from tabserve.registry import ModelStore, StoredFile
from tabserve.registry.artifacts import S3ArtifactStore, open_artifact_store
from tabserve.registry.metadata import MetadataStore
from tabserve.registry.serialization import dump_model
from tabserve.workflow import train_and_register

pytestmark = pytest.mark.backend

FIELDS = {
    "estimator": "sklearn.linear_model.LogisticRegression",
    "params": {},
    "metrics": {"holdout_score": 1.0},
    "cv_results": [],
    "feature_schema": {},
    "data_rows": 150,
    "data_hash": "0" * 64,
    "libraries": {},
    "config": {},
}


@pytest.fixture
def iris_model():
    frame = load_iris_frame()
    return LogisticRegression(max_iter=500).fit(frame.drop(columns="species"), frame["species"])


@pytest.fixture
def s3_registry(tmp_path, s3_endpoint, s3_bucket):
    opened = ModelStore.open(f"sqlite:///{tmp_path / 'registry.db'}", f"s3://{s3_bucket}/models", s3_endpoint)
    yield opened
    opened.close()


def stored_key(registry: ModelStore, model: str, version: int) -> str:
    record = registry.get(model, version)
    return f"models/{record.artifacts['model']['key']}"


def test_round_trip_through_s3_predicts_identically(s3_registry, s3_client, s3_bucket, iris_model):
    version = s3_registry.register(
        "iris", [StoredFile("model", "model.skops", dump_model(iris_model))], FIELDS
    )

    key = stored_key(s3_registry, "iris", version)
    assert s3_client.head_object(Bucket=s3_bucket, Key=key)["ContentLength"] > 0
    loaded = s3_registry.load_model(s3_registry.get("iris", version))
    rows = load_iris_frame().drop(columns="species")
    np.testing.assert_array_equal(loaded.predict_proba(rows), iris_model.predict_proba(rows))


def test_train_with_artifacts_in_s3_from_config(tmp_path, s3_endpoint, s3_bucket, s3_client):
    settings = load_settings(
        environ={},
        overrides={
            "registry": {
                "url": f"sqlite:///{tmp_path / 'registry.db'}",
                "artifacts": f"s3://{s3_bucket}/team/models",
                "s3_endpoint_url": s3_endpoint,
            },
            "candidates": [{"estimator": "sklearn.linear_model.LogisticRegression", "grid": {"C": [1.0]}}],
            "search": {"n_jobs": 1},
            "logging": {"file": None},
        },
    )

    outcome = train_and_register(settings)

    keys = [o["Key"] for o in s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert all(key.startswith("team/models/iris/") for key in keys)
    assert any(key.endswith("/model.skops") for key in keys)
    registry = ModelStore.open(settings.registry.url, settings.registry.artifacts, s3_endpoint)
    try:
        loaded = registry.load_model(registry.get("iris", outcome.version))
    finally:
        registry.close()
    rows = load_iris_frame().drop(columns="species")
    np.testing.assert_array_equal(loaded.predict(rows), outcome.trained.pipeline.predict(rows))


class ObjectCheckingMetadata(MetadataStore):
    """Records, at the moment the version row is written, what the bucket holds."""

    def __init__(self, url: str, client, bucket: str) -> None:
        super().__init__(url)
        self.client, self.bucket, self.seen = client, bucket, []

    def add_version(self, model: str, fields: dict) -> int:
        key = f"models/{fields['artifacts']['model']['key']}"
        self.seen.append(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        return super().add_version(model, fields)


def test_upload_is_complete_before_the_metadata_row(tmp_path, s3_endpoint, s3_bucket, s3_client, iris_model):
    data = dump_model(iris_model)
    metadata = ObjectCheckingMetadata(f"sqlite:///{tmp_path / 'r.db'}", s3_client, s3_bucket)
    registry = ModelStore(metadata, open_artifact_store(f"s3://{s3_bucket}/models", s3_endpoint))
    try:
        registry.register("iris", [StoredFile("model", "model.skops", data)], FIELDS)
    finally:
        registry.close()

    assert metadata.seen == [data]


def test_failed_upload_writes_no_version(tmp_path, s3_endpoint, aws_env, iris_model):
    registry = ModelStore.open(f"sqlite:///{tmp_path / 'r.db'}", "s3://no-such-bucket/models", s3_endpoint)
    try:
        with pytest.raises(BackendUnavailableError, match="bucket 'no-such-bucket' does not exist"):
            registry.register("iris", [StoredFile("model", "model.skops", dump_model(iris_model))], FIELDS)
        assert registry.versions("iris") == []
    finally:
        registry.close()


def test_missing_object_names_the_version(s3_registry, s3_client, s3_bucket, iris_model):
    version = s3_registry.register(
        "iris", [StoredFile("model", "model.skops", dump_model(iris_model))], FIELDS
    )
    s3_client.delete_object(Bucket=s3_bucket, Key=stored_key(s3_registry, "iris", version))

    with pytest.raises(
        IntegrityError, match=rf"model 'iris' version {version}: its model file \(model.skops\) is missing"
    ):
        s3_registry.load_model(s3_registry.get("iris", version))


def test_corrupted_object_fails_the_sha256_check(s3_registry, s3_client, s3_bucket, iris_model):
    version = s3_registry.register(
        "iris", [StoredFile("model", "model.skops", dump_model(iris_model))], FIELDS
    )
    s3_client.put_object(Bucket=s3_bucket, Key=stored_key(s3_registry, "iris", version), Body=b"tampered")

    with pytest.raises(
        IntegrityError,
        match=rf"model 'iris' version {version}: its model file \(model.skops\) failed its checksum",
    ):
        s3_registry.load_model(s3_registry.get("iris", version))


def test_unreachable_endpoint_is_a_clear_error(aws_env):
    from tests.support.ports import free_port

    store = S3ArtifactStore("bucket", "p", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(BackendUnavailableError, match=r"S3 at http://127\.0\.0\.1:\d+ unreachable"):
        store.get("k")


def test_missing_credentials_say_which_variables_to_set(s3_endpoint, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    store = S3ArtifactStore("bucket", "p", s3_endpoint)
    with pytest.raises(BackendUnavailableError, match="AWS_ACCESS_KEY_ID"):
        store.put("k", b"x")


def test_region_and_credentials_come_from_the_environment(s3_endpoint, aws_env, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    store = S3ArtifactStore("bucket", "p", s3_endpoint)
    credentials = store.client._request_signer._credentials
    assert store.client.meta.region_name == "eu-west-3"
    assert credentials.access_key == "tabserve-test"
