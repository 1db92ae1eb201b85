"""Live drift over HTTP: rows with one feature shifted show on /models/{name}/drift and /metrics."""

from __future__ import annotations

import re

import numpy as np
from sklearn.datasets import load_iris

from tabserve.config import load_settings
from tabserve.service.app import create_app
from tests.support.servers import serve_in_thread, write_config

NAMES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def _iris_rows(count: int, seed: int) -> np.ndarray:
    rows = load_iris().data
    return rows[np.random.default_rng(seed).integers(0, len(rows), count)]


def test_a_shifted_feature_drifts_on_the_drift_route_and_in_metrics(iris_config, start_app):
    server = start_app(iris_config)
    server.wait()
    rows = _iris_rows(1500, seed=0)
    rows[:, 1] += 1.5  # sepal_width moved up
    for start in range(0, 1400, 100):  # batches through the general path
        answer = server.client.post("/predict", json={"instances": rows[start : start + 100].tolist()})
        assert answer.status_code == 200, answer.text
    for row in rows[1400:]:  # single rows through the pure-Python path
        assert server.client.post("/predict", json=row.tolist()).status_code == 200

    drift = server.client.get("/models/iris/drift")
    assert drift.status_code == 200, drift.text
    report = drift.json()
    assert report["version"] == 1 and report["profile"] is True and report["rows"] == 1500
    assert report["features"]["sepal_width"]["psi"] > 0.2
    assert report["features"]["sepal_width"]["drifted"] is True
    assert report["features"]["sepal_width"]["out_of_range_share"] > 0.1
    for name in ("sepal_length", "petal_length", "petal_width"):
        assert report["features"][name]["psi"] < 0.1, (name, report["features"][name])
    assert set(report["predictions"]["live"]) == {"setosa", "versicolor", "virginica"}

    metrics = server.client.get("/metrics").text
    psi = {
        m.group(1): float(m.group(2))
        for m in re.finditer(r'tabserve_drift_psi\{feature="(\w+)",model="iris",version="1"\} (\S+)', metrics)
    }
    assert psi.keys() == set(NAMES)
    assert psi["sepal_width"] > 0.2 and max(v for k, v in psi.items() if k != "sepal_width") < 0.1
    assert 'tabserve_drift_window_rows{model="iris",version="1"} 1500.0' in metrics
    assert 'tabserve_watch_dropped_rows_total{consumer="drift"} 0.0' in metrics


def test_drift_of_a_version_that_answered_nothing_and_of_unknown_models(iris_config, start_app):
    server = start_app(iris_config)
    server.wait()
    empty = server.client.get("/models/iris/drift", params={"version": 7}).json()
    assert empty["rows"] == 0 and empty["version"] == 7
    assert server.client.get("/models/nope/drift").status_code == 404
    assert server.client.get("/models/iris/drift", params={"version": 0}).status_code == 422


def test_a_full_queue_drops_rows_and_counts_them_without_failing_a_prediction(
    tmp_path, iris_config, start_app
):
    import yaml

    config = yaml.safe_load(iris_config.read_text())
    path = write_config(tmp_path, config["registry"], monitoring={"queue_rows": 100})
    server = start_app(path)
    server.wait()
    batch = _iris_rows(101, seed=1).tolist()
    for _ in range(3):
        assert server.client.post("/predict", json={"instances": batch}).status_code == 200
    metrics = server.client.get("/metrics").text
    assert 'tabserve_watch_dropped_rows_total{consumer="drift"} 303.0' in metrics
    assert server.client.get("/models/iris/drift").json()["rows"] == 0


def test_drift_off_answers_404_and_queues_nothing(tmp_path, iris_config, start_app):
    import yaml

    config = yaml.safe_load(iris_config.read_text())
    server = start_app(write_config(tmp_path, config["registry"], monitoring={"drift": False}))
    server.wait()
    assert server.client.post("/predict", json=[5.1, 3.5, 1.4, 0.2]).status_code == 200
    answer = server.client.get("/models/iris/drift")
    assert answer.status_code == 404 and "monitoring.drift" in answer.json()["detail"]
    assert "tabserve_drift_psi" not in server.client.get("/metrics").text


def test_a_few_rows_get_no_verdict_no_gauge_and_say_how_many_are_needed(iris_config):
    """A dozen rows of the training data itself have PSIs far above 0.2: no verdict until there are enough."""
    import time

    app = create_app(load_settings(iris_config, environ={}))
    with serve_in_thread(app) as client:
        deadline = time.monotonic() + 60
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the server never became ready"
            time.sleep(0.05)
        rows = _iris_rows(15, seed=3)
        assert client.post("/predict", json={"instances": rows.tolist()}).status_code == 200

        report = client.get("/models/iris/drift").json()
        assert report["rows"] == 15 and report["min_rows"] == 200 and report["verdict"] is False
        assert report["detail"].startswith("15 rows so far, needs 200")
        assert all(f["psi"] is None and f["drifted"] is None for f in report["features"].values())
        assert report["predictions"]["psi"] is None and report["predictions"]["drifted"] is None
        assert report["features"]["sepal_width"]["missing_share"] == 0.0  # the shares are counted

        metrics = client.get("/metrics").text
        assert "tabserve_drift_psi{" not in metrics and "tabserve_drift_prediction_psi{" not in metrics
        assert 'tabserve_drift_window_rows{model="iris",version="1"} 15.0' in metrics
        assert 'tabserve_drift_min_rows{model="iris",version="1"} 200.0' in metrics

        page = client.get("/ui/drift").text
        assert 'data-drift-state="too-few"' in page and "15 rows so far, needs 200" in page
        assert 'data-level="drifted"' not in page

        more = _iris_rows(300, seed=4)
        assert client.post("/predict", json={"instances": more.tolist()}).status_code == 200
        report = client.get("/models/iris/drift").json()
        assert report["rows"] == 315 and report["verdict"] is True and "detail" not in report
        assert all(f["drifted"] is False for f in report["features"].values()), report["features"]
        assert (
            'tabserve_drift_psi{feature="sepal_width",model="iris",version="1"}'
            in client.get("/metrics").text
        )
        assert 'data-drift-state="too-few"' not in client.get("/ui/drift").text
