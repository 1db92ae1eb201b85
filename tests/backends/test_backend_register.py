"""A pipeline fitted in a notebook, registered through tabserve.register into a server database
(MariaDB with its files in S3, PostgreSQL with a local folder), loaded back and served over HTTP."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

import tabserve
from tests.support.notebook_models import customers, mixed_pipeline
from tests.support.servers import write_config

pytestmark = [pytest.mark.backend, pytest.mark.slow]  # a real server serves what was registered


def _registry_section(backend: str, db_url: str, tmp_path, request: pytest.FixtureRequest) -> dict:
    if backend == "mariadb":
        bucket = request.getfixturevalue("s3_bucket")
        return {
            "url": db_url,
            "artifacts": f"s3://{bucket}/notebook",
            "s3_endpoint_url": request.getfixturevalue("s3_endpoint"),
        }
    return {"url": db_url, "artifacts": str(tmp_path / "artifacts")}


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["mariadb", "postgresql"])
def test_notebook_pipeline_registered_on_a_server_database_is_loaded_and_served_with_its_answers(
    backend, db_url, model_name, tmp_path, request, start_server
):
    x, y = customers()
    x_train, x_test, y_train, y_test = x[:180], x[180:], y[:180], y[180:]
    pipeline = mixed_pipeline(x_train, y_train)
    registry = _registry_section(backend, db_url, tmp_path, request)
    with tabserve.Registry(**registry) as target:
        result = tabserve.register(
            pipeline,
            name=model_name,
            X_sample=x_train.head(20),
            X_test=x_test,
            y_test=y_test,
            registry=target,
            description=f"notebook fit on {backend}",
        )
        assert (result.version, result.promoted) == (1, True)
        np.testing.assert_array_equal(
            target.load(model_name).predict_proba(x_test), pipeline.predict_proba(x_test)
        )
        detail = target.version(model_name, 1)
        assert detail["description"] == f"notebook fit on {backend}"
        assert detail["metrics"]["accuracy"] == pytest.approx(
            float((pipeline.predict(x_test) == y_test).mean())
        )
    if backend == "mariadb":
        listed = request.getfixturevalue("s3_client").list_objects_v2(
            Bucket=registry["artifacts"][5:].split("/")[0]
        )
        assert any(item["Key"].endswith(".skops") for item in listed.get("Contents", []))

    config = write_config(tmp_path, registry)
    config.write_text(yaml.safe_dump({**yaml.safe_load(config.read_text()), "model": model_name}))
    server = start_server(config)
    server.wait()
    response = server.client.post(
        f"/models/{model_name}/predict", json={"instances": x_test.to_dict(orient="records")}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["labels"] == pipeline.predict(x_test).tolist()
    served = np.array([body["probabilities"][c] for c in body["classes"]]).T
    np.testing.assert_array_equal(served, pipeline.predict_proba(x_test))
    listing = server.client.get(f"/models/{model_name}").json()
    assert [v["accuracy"] for v in listing["versions"]] == [result.metrics["accuracy"]]
