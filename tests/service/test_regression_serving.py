"""A regression model served: version routes, pictures and console pages, predictions with intervals."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tabserve.config import load_settings
from tabserve.service.app import create_app
from tabserve.workflow import train_and_register
from tests.service.conftest import register_copy, serve_in_thread

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def houses_config(tmp_path_factory) -> Path:
    """The shipped regression example trained once (v1, with residuals and pictures), plus v2: the
    same model file registered again without residuals (a regressor with no intervals)."""
    root = tmp_path_factory.mktemp("houses")
    config = yaml.safe_load((EXAMPLES / "regression.yaml").read_text())
    config["data"]["path"] = str(EXAMPLES / "houses.csv")
    config["search"] = {**config.get("search", {}), "n_jobs": 1}
    config["registry"] = {"url": f"sqlite:///{root / 'registry.db'}", "artifacts": str(root / "artifacts")}
    config["logging"] = {"file": None}
    path = root / "tabserve.yaml"
    path.write_text(yaml.safe_dump(config))
    train_and_register(load_settings(path, environ={}))
    register_copy(path)
    return path


@pytest.fixture(scope="module")
def client(houses_config):
    with serve_in_thread(create_app(load_settings(houses_config, environ={}))) as http:
        yield http


def test_version_route_shows_the_regression_metrics(client):
    body = client.get("/models/houses/versions/1").json()
    assert body["task"] == "regression"
    assert body["rmse"] == body["metrics"]["rmse"] and body["r2"] > 0.8
    assert body["metrics"]["task_reason"] == "configured: task: regression"
    assert set(body["metrics"]["residual_quantiles"]) == {"0.05", "0.25", "0.5", "0.75", "0.95"}
    listing = client.get("/models/houses").json()
    assert [v["task"] for v in listing["versions"]] == ["regression", "regression"]


def test_regression_pictures_are_served_and_a_confusion_matrix_is_not(client):
    for kind in ("predicted_vs_actual", "residual_distribution", "pairplot"):
        response = client.get(f"/models/houses/versions/1/{kind}.png")
        assert response.status_code == 200 and response.content.startswith(b"\x89PNG"), kind
    missing = client.get("/models/houses/versions/2/predicted_vs_actual.png")
    assert missing.status_code == 404 and "predicted vs actual" in missing.json()["detail"]
    assert client.get("/models/houses/versions/1/confusion_matrix.png").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/ui/models/houses",
        "/ui/models/houses/versions/1",
        "/ui/models/houses/versions/2",
        "/ui/models/houses/compare?a=1&b=2",
        "/ui/predict",
        "/ui/data",
        "/ui/drift",
        "/visualise",
    ],
)
def test_console_pages_render_for_a_regression_model(client, path):
    response = client.get(path)
    assert response.status_code == 200, response.text[:400]


def test_version_page_shows_regression_metrics_and_pictures_instead_of_a_confusion_matrix(client):
    html = client.get("/ui/models/houses/versions/1").text
    assert "Hold-out RMSE" in html and "Hold-out R²" in html and "Prediction intervals" in html
    assert 'src="/models/houses/versions/1/predicted_vs_actual.png"' in html
    assert 'src="/models/houses/versions/1/residual_distribution.png"' in html
    assert "Confusion matrix" not in html and "Hold-out accuracy" not in html
    without = client.get("/ui/models/houses/versions/2").text
    assert "No hold-out residuals stored" in without
    compare = client.get("/ui/models/houses/compare?a=1&b=2").text
    assert "Hold-out RMSE (lower is better)" in compare
