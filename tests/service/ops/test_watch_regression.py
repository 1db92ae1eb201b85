"""Watching a regression model: prediction drift against the hold-out's predicted values, the
prediction log with values and intervals, shadow differences, and their Prometheus figures."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tabserve.config import load_settings
from tabserve.monitoring.drift import NO_VALUE_REFERENCE
from tabserve.workflow import train_and_register
from tests.support.servers import InProcessServer

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
TOKEN = "regression-watch-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FEATURES = ["area", "rooms", "age", "district"]


def _houses() -> pd.DataFrame:
    return pd.read_csv(EXAMPLES / "houses.csv")


def _instances(frame: pd.DataFrame) -> list[dict]:
    rows = frame[FEATURES].astype(object).where(frame[FEATURES].notna(), None)
    return rows.to_dict(orient="records")


@pytest.fixture(scope="module")
def houses(tmp_path_factory) -> Path:
    """v1: the shipped regression example (production); v2: a Ridge trained on the same data, not
    promoted; v3: v1's pipeline registered from Python without hold-out rows (no value reference)."""
    import tabserve

    root = tmp_path_factory.mktemp("houses-watch")
    config = yaml.safe_load((EXAMPLES / "regression.yaml").read_text())
    config["data"]["path"] = str(EXAMPLES / "houses.csv")
    config["search"] = {**config.get("search", {}), "n_jobs": 1}
    config["registry"] = {
        "url": f"sqlite:///{root / 'registry.db'}",
        "artifacts": str(root / "artifacts"),
        "auto_promote": False,
        "pictures": False,
    }
    config["logging"] = {"file": str(root / "tabserve.log")}
    config["server"] = {"token": TOKEN, "reload_interval_s": 0.2}
    config["monitoring"] = {"log_predictions": 1.0, "window_rows": 1000, "drift_min_rows": 100}
    path = root / "tabserve.yaml"
    path.write_text(yaml.safe_dump(config))
    train_and_register(load_settings(path, environ={}))
    ridge = {**config, "candidates": [{"estimator": "sklearn.linear_model.Ridge", "grid": {"alpha": [1.0]}}]}
    ridge_path = root / "ridge.yaml"
    ridge_path.write_text(yaml.safe_dump(ridge))
    train_and_register(load_settings(ridge_path, environ={}))
    with tabserve.Registry.from_config(path) as registry:
        pipeline = registry.load("houses", 1)
        frame = _houses()
        tabserve.register(pipeline, name="houses", X_sample=frame[FEATURES].head(50), registry=registry)
    return path


@pytest.fixture(scope="module")
def server(houses):
    with InProcessServer(houses) as running:
        running.wait()
        yield running


def test_the_profile_keeps_the_hold_out_predictions_bins(houses):
    from tabserve.monitoring.drift_tracker import read_profile
    from tabserve.predictor import Predictor
    from tabserve.registry import open_registry

    registry = open_registry(load_settings(houses, environ={}))
    try:
        trained = read_profile(registry, Predictor.load(registry, "houses", 1))
        registered = read_profile(registry, Predictor.load(registry, "houses", 3))
    finally:
        registry.close()
    values = trained["values"]
    assert values["type"] == "numeric" and len(values["edges"]) == 9
    assert sum(values["reference"]) == pytest.approx(1.0) and values["reference"][-1] == 0.0  # none missing
    assert trained["holdout_rows"] == 100  # a quarter of the 400 rows
    assert "values" not in registered


def test_prediction_drift_of_a_regressor_is_the_psi_of_its_values(server):
    client = server.client
    frame = _houses()
    like_training = client.post("/predict", json={"instances": _instances(frame)})
    assert like_training.status_code == 200
    report = client.get("/models/houses/drift").json()
    predictions = report["predictions"]
    assert report["rows"] == 400 and report["verdict"] is True
    assert predictions["kind"] == "values" and predictions["available"] is True
    assert predictions["psi"] < 0.2 and predictions["drifted"] is False
    assert len(predictions["live"]) == len(predictions["reference"]) == 11  # ten value bins and missing
    assert sum(predictions["live"].values()) == pytest.approx(1.0)

    bigger = frame.assign(area=frame["area"] * 3)  # much larger houses: much higher predicted prices
    assert client.post("/models/houses/versions/2/predict", json={"instances": _instances(bigger)}).is_success
    shifted = client.get("/models/houses/drift?version=2").json()["predictions"]
    assert shifted["psi"] > 0.2 and shifted["drifted"] is True
    top_bin = list(shifted["live"])[-2]  # the highest values' bin, before "missing"
    assert top_bin.endswith("and above") and shifted["live"][top_bin] > 0.5


def test_a_regressor_without_hold_out_predictions_has_feature_drift_but_no_prediction_drift(server):
    client = server.client
    rows = _instances(_houses().head(150))
    assert client.post("/models/houses/versions/3/predict", json={"instances": rows}).status_code == 200
    response = client.get("/models/houses/drift?version=3")
    assert response.status_code == 200
    report = response.json()
    assert report["profile"] is True and report["verdict"] is True
    assert set(report["features"]) == set(FEATURES)
    assert report["predictions"]["available"] is False and report["predictions"]["psi"] is None
    assert report["predictions"]["detail"] == NO_VALUE_REFERENCE


def test_prometheus_gives_the_value_psi_and_no_class_shares_for_a_regressor(server):
    client = server.client
    assert client.post("/predict", json={"instances": _instances(_houses().head(200))}).is_success
    client.get("/models/houses/drift")  # flushes the drift queue
    metrics = client.get("/metrics").text
    assert 'tabserve_drift_prediction_psi{model="houses",version="1"}' in metrics
    assert 'tabserve_drift_class_share{model="houses"' not in metrics
    counted = [line for line in metrics.splitlines() if line.startswith("tabserve_predictions_total")]
    assert not [line for line in counted if 'model="houses"' in line]  # no counts by class
    assert 'tabserve_predicted_values_count{model="houses",protocol="tabserve"}' in metrics


def test_the_prediction_log_keeps_values_and_intervals(server):
    from tabserve.monitoring.export import read_log
    from tabserve.registry import open_registry

    client = server.client
    frame = _houses().iloc[300:303]
    plain = client.post("/predict", json={"instances": _instances(frame)}).json()
    asked = client.post("/predict?interval=0.9", json={"instances": _instances(frame)}).json()
    registry = open_registry(load_settings(server.config, environ={}))

    def both_logged() -> list[pd.DataFrame] | None:
        found = read_log(registry.metadata.engine, "houses", 0)
        with_interval = "interval_coverage" in found and found["interval_coverage"].notna().sum() >= 3
        return [found] if with_interval else None

    try:
        (logged,) = server.until(both_logged, "both calls in the prediction log")
    finally:
        registry.close()
    with_interval = logged[logged["interval_coverage"].notna()]
    plain_calls = [
        call
        for _, call in logged[logged["interval_coverage"].isna()].groupby("request_id", sort=False)
        if call["area"].tolist() == frame["area"].tolist()
    ]
    without = plain_calls[-1]
    assert with_interval["prediction"].tolist()[-3:] == pytest.approx(asked["predictions"])
    assert with_interval["interval_lower"].tolist()[-3:] == pytest.approx(asked["intervals"]["lower"])
    assert with_interval["interval_upper"].tolist()[-3:] == pytest.approx(asked["intervals"]["upper"])
    assert set(with_interval["interval_coverage"]) == {0.9}
    assert without["prediction"].tolist()[-3:] == pytest.approx(plain["predictions"])
    assert not any(column.startswith("proba_") for column in logged.columns)


def test_a_regression_shadow_reports_differences_not_agreement(server):
    client = server.client
    assert client.post("/models/houses/versions/2/shadow", headers=AUTH).status_code == 200
    frame = _houses().iloc[:40]
    served = client.post("/predict", json={"instances": _instances(frame)}).json()["predictions"]
    ridge = client.post("/models/houses/versions/2/predict", json={"instances": _instances(frame)}).json()
    report = client.get("/models/houses/shadow").json()
    (pair,) = report["pairs"]
    gaps = np.abs(np.asarray(ridge["predictions"]) - np.asarray(served))
    assert pair["kind"] == "values" and pair["rows"] == 40 and pair["errors"] == 0
    assert pair["mean_absolute_difference"] == pytest.approx(gaps.mean())
    assert pair["mean_relative_difference"] == pytest.approx(gaps.sum() / np.abs(served).sum())
    assert pair["max_absolute_difference"] == pytest.approx(gaps.max())
    assert "agreement" not in pair and "confusion" not in pair
    metrics = client.get("/metrics").text
    labels = 'model="houses",production_version="1",shadow_version="2"'
    assert f"tabserve_shadow_mean_absolute_difference{{{labels}}}" in metrics
    assert f"tabserve_shadow_agreement{{{labels}}}" not in metrics
    assert client.delete("/models/houses/shadow", headers=AUTH).status_code == 200


def test_the_cli_exports_logged_values_and_intervals(server, tmp_path):
    from tabserve.cli import main

    client = server.client
    frame = _houses().iloc[310:312]
    asked = client.post("/predict?interval=0.8", json={"instances": _instances(frame)}).json()
    out = tmp_path / "log.csv"

    def exported() -> list[pd.DataFrame] | None:
        assert (
            main(["-c", str(server.config), "data", "export-predictions", "--since", "1h", "-o", str(out)])
            == 0
        )
        found = pd.read_csv(out)
        return [found] if (found["interval_coverage"] == 0.8).sum() >= 2 else None

    (logged,) = server.until(exported, "the call in the exported log")
    assert list(logged.columns[:5]) == [*FEATURES, "prediction"]
    assert {"interval_coverage", "interval_lower", "interval_upper"} <= set(logged.columns)
    rows = logged[logged["interval_coverage"] == 0.8]
    assert rows["prediction"].tolist() == pytest.approx(asked["predictions"])
    assert rows["interval_upper"].tolist() == pytest.approx(asked["intervals"]["upper"])


# ---- the console's pages for a regressor ----


def test_the_version_table_shows_rmse_mae_and_r2_instead_of_accuracy(server, houses):
    from tabserve.registry import open_registry

    html = server.client.get("/ui/models/houses").text
    for heading in ("Hold-out RMSE", "Hold-out MAE", "Hold-out R²"):
        assert f">{heading}</a></th>" in html
    assert "Hold-out accuracy" not in html and "Macro F1" not in html
    registry = open_registry(load_settings(houses, environ={}))
    try:
        rmse = registry.get("houses", 1).metrics["rmse"]
    finally:
        registry.close()
    assert f'<td class="n" data-metric="rmse">{rmse:.4f}</td>' in html
    by_rmse = server.client.get("/ui/models/houses?sort=rmse&order=asc").text
    order = [int(v) for v in re.findall(r'<tr data-version="(\d+)">', by_rmse)]
    assert order[-1] == 3  # registered without hold-out rows: no RMSE, last either way
    home = server.client.get("/").text
    assert 'data-metric="rmse"' in home and 'data-metric="accuracy"' not in home


def test_the_data_page_shows_the_targets_histogram_not_class_counts(server):
    html = server.client.get("/ui/data?model=houses").text
    assert 'data-target="histogram"' in html and "Distribution of price" in html
    assert "Classes of price" not in html
    assert '<svg class="chart"' in html and "Rows by price" in html
    counts = [int(n) for n in re.findall(r'<td class="n">(\d+)</td></tr>', html)]
    assert sum(counts[-20:]) == 400  # the 400 rows of houses.csv in 20 ranges


def test_the_drift_page_shows_the_prediction_psi_and_the_shadow_differences(server):
    client = server.client
    assert client.post("/predict", json={"instances": _instances(_houses())}).is_success
    html = client.get("/ui/drift?model=houses&version=1").text
    assert "Predicted values against the hold-out" in html and 'data-prediction-drift="values"' in html
    assert "PSI of the predicted values" in html and "Predicted classes" not in html
    assert "and above</th>" in html  # the highest value range's row
    without = client.get("/ui/drift?model=houses&version=3").text
    assert 'data-prediction-drift="not-available"' in without and "not available: " in without
    assert client.post("/models/houses/versions/2/shadow", headers=AUTH).status_code == 200
    assert client.post("/predict", json={"instances": _instances(_houses().head(20))}).is_success
    shadowed = client.get("/ui/drift?model=houses").text
    assert "data-mean-absolute-difference" in shadowed and "Mean relative difference" in shadowed
    assert "data-agreement" not in shadowed
    assert client.delete("/models/houses/shadow", headers=AUTH).status_code == 200
