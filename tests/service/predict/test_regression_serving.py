"""A regression model served: version routes, pictures and console pages, predictions with intervals."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tabserve.config import load_settings
from tabserve.service.app import create_app, with_fast_predict
from tabserve.workflow import train_and_register
from tests.support.polling import eventually
from tests.support.servers import register_copy, serve_in_thread

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


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
        eventually(lambda: http.get("/readyz").status_code == 200, "houses loaded")  # loads in the background
        yield http


@pytest.fixture(scope="module")
def fast_client(houses_config):
    """The app as `tabserve serve` runs it: the raw-ASGI fast paths in front of FastAPI."""
    with serve_in_thread(with_fast_predict(create_app(load_settings(houses_config, environ={})))) as http:
        eventually(lambda: http.get("/readyz").status_code == 200, "houses loaded")
        yield http


ROWS = [
    {"area": 100.0, "rooms": 3, "age": 20.0, "district": "north"},
    {"area": 55.5, "rooms": 1, "age": None, "district": None},  # missing values are imputed
]
PATHS = ["/predict", "/models/houses/predict", "/models/houses/versions/1/predict"]


def _expected_values(houses_config) -> list[float]:
    """What the stored pipeline itself answers for ROWS."""
    import pandas as pd

    from tabserve.registry import open_registry

    registry = open_registry(load_settings(houses_config, environ={}))
    try:
        pipeline = registry.load_model(registry.get("houses", 1))
    finally:
        registry.close()
    frame = pd.DataFrame(ROWS).astype({"district": object})
    return pipeline.predict(frame).tolist()


@pytest.fixture(params=["declared", "fast"])
def any_client(request, client, fast_client):
    return client if request.param == "declared" else fast_client


@pytest.mark.parametrize("path", PATHS)
def test_predict_answers_numbers(any_client, houses_config, path):
    body = any_client.post(path, json={"instances": ROWS}).json()
    assert body == {
        "model": "houses",
        "version": 1,
        "predictions": pytest.approx(_expected_values(houses_config)),
        "ids": [f"{body['ids'][0][:-2]}-{i}" for i in range(len(ROWS))],
    }


@pytest.mark.parametrize("how", ["query", "body"])
def test_predict_with_intervals(any_client, houses_config, how):
    if how == "query":
        response = any_client.post("/predict?interval=0.9", json={"instances": ROWS})
    else:
        response = any_client.post("/predict", json={"instances": ROWS, "interval": 0.9})
    body = response.json()
    values = body["predictions"]
    assert values == pytest.approx(_expected_values(houses_config))
    intervals = body["intervals"]
    assert intervals["coverage"] == 0.9
    half = [hi - v for v, hi in zip(values, intervals["upper"], strict=True)]
    assert half[0] > 0 and half == pytest.approx([half[0]] * 2)
    assert [v - lo for v, lo in zip(values, intervals["lower"], strict=True)] == pytest.approx(half)
    wider = any_client.post("/predict?interval=0.95", json={"instances": ROWS}).json()["intervals"]
    assert wider["upper"][0] - values[0] > half[0]


@pytest.mark.parametrize("bad", ["0", "1", "1.5", "-0.2", "nine"])
def test_coverage_outside_zero_one_is_a_422_naming_interval(any_client, bad):
    response = any_client.post(f"/predict?interval={bad}", json={"instances": ROWS})
    assert response.status_code == 422
    assert "interval" in response.json()["detail"]
    in_body = any_client.post("/predict", json={"instances": ROWS, "interval": 2})
    assert in_body.status_code == 422 and "interval" in in_body.json()["detail"]


def test_too_high_a_coverage_for_the_hold_out_is_refused(any_client):
    response = any_client.post("/predict?interval=0.999", json={"instances": ROWS})
    assert response.status_code == 422
    assert "hold-out residuals" in response.json()["detail"]


def test_a_version_without_residuals_says_why_it_has_no_intervals(any_client):
    plain = any_client.post("/models/houses/versions/2/predict", json={"instances": ROWS})
    assert plain.status_code == 200 and len(plain.json()["predictions"]) == 2
    response = any_client.post("/models/houses/versions/2/predict?interval=0.9", json={"instances": ROWS})
    assert response.status_code == 422
    assert "no hold-out residuals" in response.json()["detail"]


def test_csv_answers_prediction_lower_upper(any_client, houses_config):
    csv_body = "area,rooms,age,district\n100.0,3,20.0,north\n55.5,1,,\n"
    headers = {"content-type": "text/csv"}
    plain = any_client.post("/predict", content=csv_body, headers=headers)
    assert plain.headers["content-type"].startswith("text/csv")
    lines = plain.text.splitlines()
    assert lines[0] == "prediction"
    assert [float(v) for v in lines[1:]] == pytest.approx(_expected_values(houses_config))
    with_interval = any_client.post(
        "/predict?interval=0.8", content=csv_body, headers=headers
    ).text.splitlines()
    assert with_interval[0] == "prediction,lower,upper"
    value, lower, upper = map(float, with_interval[1].split(","))
    assert lower < value < upper


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


OIP_INPUTS = [
    {"name": "area", "datatype": "FP64", "shape": [2], "data": [100.0, 55.5]},
    {"name": "rooms", "datatype": "FP64", "shape": [2], "data": [3.0, 1.0]},
    {"name": "age", "datatype": "FP64", "shape": [2], "data": [20.0, 30.0]},
    {"name": "district", "datatype": "BYTES", "shape": [2], "data": ["north", "south"]},
]


def test_oip_v2_answers_fp64_predict_and_intervals_when_asked(any_client, houses_config):
    expected = _expected_values(houses_config)
    inputs = OIP_INPUTS  # the first row is ROWS[0]
    plain = any_client.post("/v2/models/houses/infer", json={"inputs": inputs})
    assert plain.status_code == 200, plain.text
    outputs = plain.json()["outputs"]
    assert [(o["name"], o["datatype"], o["shape"]) for o in outputs] == [("predict", "FP64", [2])]
    assert outputs[0]["data"][0] == pytest.approx(expected[0])
    asked = any_client.post(
        "/v2/models/houses/infer", json={"inputs": inputs, "parameters": {"interval": 0.9}}
    )
    by_name = {o["name"]: o for o in asked.json()["outputs"]}
    interval = by_name["predict_interval"]
    assert interval["datatype"] == "FP64" and interval["shape"] == [2, 2]
    assert interval["parameters"]["coverage"] == 0.9
    lower, upper = interval["data"][0], interval["data"][1]
    assert lower < by_name["predict"]["data"][0] < upper
    bad = any_client.post("/v2/models/houses/infer", json={"inputs": inputs, "parameters": {"interval": 1.5}})
    # OIP answers every bad input 400 in its own error shape (the protocols' rule), naming interval.
    assert bad.status_code == 400 and bad.json()["error"].startswith("interval:")
    unasked = any_client.post(
        "/v2/models/houses/infer", json={"inputs": inputs, "outputs": [{"name": "predict_interval"}]}
    )
    assert unasked.status_code == 400 and "interval" in unasked.json()["error"]


def test_oip_v2_metadata_says_regression(any_client):
    meta = any_client.get("/v2/models/houses").json()
    assert meta["outputs"] == [
        {"name": "predict", "datatype": "FP64", "shape": [-1]},
        {"name": "predict_interval", "datatype": "FP64", "shape": [-1, 2]},
    ]
    assert meta["parameters"] == {"task": "regression"}
    without = any_client.get("/v2/models/houses/versions/2").json()
    assert [o["name"] for o in without["outputs"]] == ["predict"]


def test_kserve_v1_and_mlflow_answer_numbers(any_client, houses_config):
    expected = _expected_values(houses_config)
    v1 = any_client.post("/v1/models/houses:predict", json={"instances": ROWS})
    assert v1.status_code == 200 and v1.json() == {"predictions": pytest.approx(expected)}
    records = any_client.post("/invocations", json={"dataframe_records": ROWS})
    assert records.status_code == 200 and records.json() == {"predictions": pytest.approx(expected)}


def test_monitoring_routes_do_not_break_on_a_regression_model(any_client):
    """Drift, Prometheus and readiness answer for a regressor (its figures: ops/test_watch_regression.py)."""
    assert any_client.post("/predict", json={"instances": ROWS}).status_code == 200
    drift = any_client.get("/models/houses/drift")
    assert drift.status_code == 200, drift.text
    metrics = any_client.get("/metrics")
    assert metrics.status_code == 200
    # Both rows' prices (a few hundred) are at most 500; the histogram counts them for the tabserve protocol.
    assert 'tabserve_predicted_values_bucket{le="500.0",model="houses",protocol="tabserve"}' in metrics.text
    assert any_client.get("/readyz").status_code == 200


def test_a_classifier_refuses_an_interval(tmp_path, trained_iris):
    from tests.support.servers import copy_registry, write_config

    config = write_config(tmp_path, copy_registry(trained_iris[0], tmp_path / "registry"))
    with serve_in_thread(with_fast_predict(create_app(load_settings(config, environ={})))) as http:
        eventually(lambda: http.get("/readyz").status_code == 200, "iris loaded")
        row = [5.1, 3.8, 1.5, 0.3]
        for response in (
            http.post("/predict?interval=0.9", json=[row]),
            http.post("/predict", json={"instances": [row], "interval": 0.9}),
        ):
            assert response.status_code == 422
            assert response.json()["detail"] == (
                "interval: this model is a classifier; intervals are for regression models"
            )


def test_feedback_for_a_regressor_yields_realised_rmse_and_mae(houses_config):
    settings = load_settings(houses_config, environ={"TABSERVE_MONITORING__LOG_PREDICTIONS": "1"})
    with serve_in_thread(with_fast_predict(create_app(settings))) as http:
        eventually(lambda: http.get("/readyz").status_code == 200, "the model loaded", 60)
        answer = http.post("/models/houses/predict", json={"instances": ROWS}).json()
        values = answer["predictions"]
        records = [
            {"id": answer["ids"][0], "actual": values[0] + 3.0},
            {"id": answer["ids"][1], "actual": values[1] - 1.0},
            {"id": answer["ids"][1] + "0", "actual": 1.0},  # no such row
        ]
        sent = http.post("/models/houses/feedback", json=records).json()
        assert (sent["accepted"], sent["unknown_ids"]) == (2, 1)
        wrong = http.post("/models/houses/feedback", json=[{"id": answer["ids"][0], "actual": "big"}]).json()
        assert wrong["duplicates"] == 1  # the id has its actual already; counted once
        overall = http.get("/models/houses/performance").json()["versions"][0]["overall"]
    assert overall["rows"] == 2
    assert overall["mae"] == pytest.approx(2.0) and overall["rmse"] == pytest.approx((5.0) ** 0.5)
    assert overall["rmse_interval"][0] <= overall["rmse"] <= overall["rmse_interval"][1]
