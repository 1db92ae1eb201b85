"""The prediction log through a real server: rows reach the registry database off the request path,
a full queue drops and counts, and a database outage costs logged rows, never a prediction."""

from __future__ import annotations

import re
import subprocess

import pandas as pd
import pytest
import yaml

from tests.support.outage import outage_config, seed_version
from tests.support.servers import TABSERVE, write_config
from tests.support.traffic import PredictLoop

SETOSA = [5.1, 3.8, 1.5, 0.3]


def _counter(server, name: str, consumer: str) -> float:
    found = re.search(rf'{name}_total{{consumer="{consumer}"}} (\S+)', server.client.get("/metrics").text)
    return float(found.group(1)) if found else 0.0


def _export(config, out, since: str = "1h") -> pd.DataFrame:
    done = subprocess.run(
        [TABSERVE, "-c", str(config), "data", "export-predictions", "--since", since, "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=config.parent,
    )
    assert done.returncode == 0, done.stderr
    return pd.read_csv(out)


def _logging_config(tmp_path, iris_config, **monitoring):
    registry = yaml.safe_load(iris_config.read_text())["registry"]
    return write_config(tmp_path, registry, monitoring={"log_predictions": 1.0, **monitoring})


def test_every_answered_row_is_logged_and_exported(tmp_path, iris_config, start_app):
    config = _logging_config(tmp_path, iris_config)
    server = start_app(config)
    server.wait()
    assert server.client.post("/predict", json=SETOSA).json()["labels"] == ["setosa"]
    batch = {"instances": [[6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]], "labels_only": True}
    assert server.client.post("/models/iris/predict", json=batch).status_code == 200
    assert server.client.post("/predict", json=[1, 2, 3]).status_code == 422  # refused rows are not logged
    server.until(lambda: _counter(server, "tabserve_watch_handled_rows", "log") == 3, "three rows logged")

    frame = _export(config, tmp_path / "log.csv")
    assert frame[["sepal_length", "prediction"]].values.tolist() == [
        [5.1, "setosa"],
        [6.7, "virginica"],
        [5.9, "versicolor"],
    ]
    assert frame["proba_setosa"][0] > 0.9 and frame["proba_setosa"][1:].isna().all()
    assert frame["request_id"][1] == frame["request_id"][2] != frame["request_id"][0]
    assert set(frame["version"]) == {1}


def test_a_full_log_queue_drops_and_counts_rows_and_every_prediction_succeeds(
    tmp_path, iris_config, start_app
):
    server = start_app(_logging_config(tmp_path, iris_config, queue_rows=10, drift=False))
    server.wait()
    batch = {"instances": [SETOSA] * 11}
    for _ in range(5):
        assert server.client.post("/predict", json=batch).status_code == 200
    assert _counter(server, "tabserve_watch_dropped_rows", "log") == 55


@pytest.mark.slow
@pytest.mark.backend
def test_a_database_outage_drops_logged_rows_and_never_a_prediction(
    tmp_path, private_postgres, trained_iris, start_server
):
    config = outage_config(tmp_path, private_postgres)
    settings = yaml.safe_load(config.read_text())
    settings["monitoring"] = {"log_predictions": 1.0}
    config.write_text(yaml.safe_dump(settings))
    seed_version(config, trained_iris)
    server = start_server(config)
    server.wait()
    loop = PredictLoop(server.url)
    try:
        server.until(lambda: _counter(server, "tabserve_watch_handled_rows", "log") > 20, "rows logged")
        private_postgres.stop()
        server.until(lambda: _counter(server, "tabserve_watch_failed_rows", "log") > 0, "rows failed")
        during = len(loop.statuses)
        server.until(lambda: len(loop.statuses) > during + 50, "predictions during the outage")
        private_postgres.start()
        handled = _counter(server, "tabserve_watch_handled_rows", "log")
        server.until(
            lambda: _counter(server, "tabserve_watch_handled_rows", "log") > handled + 20,
            "rows logged again after the outage",
        )
    finally:
        loop.finish()
    assert set(loop.statuses) == {200}, "a prediction failed during the outage"
    assert "log: rows dropped" in server.log()
    assert private_postgres.password not in server.log()
    frame = _export(config, tmp_path / "log.csv")
    assert 0 < len(frame) < len(loop.statuses)  # the outage left a hole, the rest is there
    assert set(frame["prediction"]) == {"setosa"}
