"""Models, jobs lookup, visualise, health, metrics and the API description, over real HTTP."""

from __future__ import annotations

import logging
import re

import pytest

from tabserve.registry import open_registry

PNG = b"\x89PNG\r\n\x1a\n"
PROBLEM = "application/problem+json"


def test_models_lists_the_served_models(app_server):
    body = app_server.client.get("/models").json()
    assert body == {
        "default": "iris",
        "models": [{"name": "iris", "serving_version": 1, "url": "/models/iris"}],
    }


def test_model_lists_versions_with_metrics_and_aliases(app_server):
    body = app_server.client.get("/models/iris").json()
    assert body["model"] == "iris"
    assert body["serving_version"] == 1
    [version] = body["versions"]
    assert version["version"] == 1
    assert version["aliases"] == ["production"]
    assert 0.8 < version["accuracy"] <= 1.0


def test_model_version_in_full(app_server):
    body = app_server.client.get("/models/iris/versions/1").json()
    assert body["data_rows"] == 150
    assert len(body["data_hash"]) == 64
    assert body["feature_schema"]["features"][0]["name"] == "sepal_length"
    assert body["cv_results"] and "mean_test_score" in body["cv_results"][0]
    assert "confusion_matrix" in body["metrics"]
    assert "config" not in body  # may hold database URLs


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/models/iris/versions/99", 404),
        ("/models/iris/versions/0", 422),
        ("/models/iris/versions/abc", 422),
        ("/models/iris/versions/99999999999", 422),
        ("/models/iris/versions/99/confusion_matrix.png", 404),
        ("/models/wine", 404),
        ("/models/wine/versions/1", 404),
        ("/models/1", 404),
        ("/jobs/0123abcd", 404),
        ("/jobs/not-a-job!", 422),
        ("/no/such/route", 404),
    ],
)
def test_missing_or_malformed_ids_are_problems(app_server, path, status):
    response = app_server.client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == status


def test_confusion_matrix_png(app_server):
    response = app_server.client.get("/models/iris/versions/1/confusion_matrix.png")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(PNG)


def test_visualise_page_shows_pairplot_metrics_and_confusion_matrix(app_server):
    response = app_server.client.get("/visualise")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert 'src="/visualise/pairplot.png"' in page
    assert 'src="/models/iris/versions/1/confusion_matrix.png"' in page
    assert re.search(r"accuracy</th><td>0\.\d{4}", page)


def test_pairplot_is_the_one_stored_with_the_served_version(app_server, trained_iris, caplog):
    settings, outcome = trained_iris
    registry = open_registry(settings)
    stored = registry.read_file(registry.get("iris", outcome.version), "pairplot")
    registry.close()
    with caplog.at_level(logging.INFO, logger="tabserve"):
        first = app_server.client.get("/visualise/pairplot.png")
    assert first.status_code == 200 and first.content.startswith(PNG)
    assert first.content == stored
    # Read from the version, not drawn by the server (which logs each drawing before answering).
    assert "drew the pairplot for data" not in caplog.text
    etag = first.headers["etag"]
    assert (
        app_server.client.get("/visualise/pairplot.png", headers={"if-none-match": etag}).status_code == 304
    )


def test_health_and_readiness(app_server):
    assert app_server.client.get("/healthz").json() == {"status": "ok"}
    assert app_server.client.get("/readyz").json() == {
        "status": "ready",
        "model": "iris",
        "version": 1,
        "models": {"iris": 1},
    }


def test_a_model_not_served_here_is_a_404_naming_it(app_server):
    for method, path in [
        ("GET", "/models/wine"),
        ("POST", "/models/wine/predict"),
        ("POST", "/models/wine/versions/1/predict"),
        ("POST", "/models/wine/versions/1/promote"),
        ("POST", "/models/wine/rollback"),
        ("POST", "/models/wine/train"),
    ]:
        response = app_server.client.request(method, path, json=[5.1, 3.8, 1.5, 0.3])
        assert response.status_code == 404, (method, path, response.text)
        assert response.headers["content-type"] == PROBLEM
        assert "model 'wine' is not served by this server (it serves: iris)" in response.json()["detail"]


def test_metrics_count_requests_predictions_version_and_jobs(app_server):
    app_server.client.post("/predict", json=[5.1, 3.8, 1.5, 0.3])
    app_server.client.post("/predict", json=[5.1, 3.8])
    app_server.client.get("/models")
    app_server.client.post("/models/iris/versions/1/predict", json=[5.1, 3.8, 1.5, 0.3])
    response = app_server.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert re.search(
        r'tabserve_http_requests_total\{method="POST",route="/predict",status="200"\} [1-9]', text
    )
    assert 'tabserve_http_requests_total{method="POST",route="/predict",status="422"}' in text
    assert (
        'tabserve_http_request_duration_seconds_bucket{le="0.001",method="POST",route="/predict",status="200"}'
        in text
    )
    assert 'tabserve_http_requests_total{method="GET",route="/models",status="200"}' in text
    assert re.search(
        r'tabserve_http_requests_total\{method="POST",route="/models/\{name\}/versions/\{version\}/predict",'
        r'status="200"\} [1-9]',
        text,
    )
    assert re.search(
        r'tabserve_predictions_total\{class="setosa",model="iris",protocol="tabserve"\} [1-9]', text
    )
    assert "# TYPE tabserve_background_task_failures_total counter" in text
    assert not re.search(r"^tabserve_background_task_failures_total\{", text, re.MULTILINE)
    assert 'tabserve_model_version{model="iris"} 1.0' in text
    assert 'tabserve_training_jobs{status="running"} 0.0' in text


def test_unmatched_paths_share_one_metric_label(app_server):
    for i in range(3):
        app_server.client.get(f"/scan/{i}")
    text = app_server.client.get("/metrics").text
    assert 'route="unmatched"' in text
    assert "/scan/" not in text


def test_docs_and_openapi_are_counted_under_their_own_routes(app_server):
    assert app_server.client.get("/docs").status_code == 200
    assert app_server.client.get("/openapi.json").status_code == 200
    text = app_server.client.get("/metrics").text
    assert 'route="/docs"' in text and 'route="/openapi.json"' in text


def test_openapi_describes_every_route_and_the_predict_shapes(app_server):
    spec = app_server.client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/predict",
        "/train",
        "/jobs/{job_id}",
        "/models",
        "/models/{name}",
        "/models/{name}/versions/{version}",
        "/models/{name}/versions/{version}/promote",
        "/models/{name}/rollback",
        "/models/{name}/versions/{version}/confusion_matrix.png",
        "/models/{name}/predict",
        "/models/{name}/versions/{version}/predict",
        "/models/{name}/train",
        "/visualise",
        "/visualise/pairplot.png",
        "/healthz",
        "/readyz",
        "/metrics",
    ):
        assert path in paths, path
    body = paths["/predict"]["post"]["requestBody"]["content"]
    assert {s["title"] for s in body["application/json"]["schema"]["oneOf"]} == {
        "One row",
        "Instances",
        "Columnar",
    }
    assert "text/csv" in body
    assert "413" in paths["/predict"]["post"]["responses"]
    assert app_server.client.get("/docs").status_code == 200
