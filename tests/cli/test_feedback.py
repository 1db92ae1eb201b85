"""`tabserve feedback FILE`: the same join and counts as the HTTP route, on the config's registry."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import yaml

from tabserve.cli import main
from tabserve.config import load_settings
from tabserve.monitoring.channel import Observation
from tabserve.monitoring.ids import RequestIds, row_ids
from tabserve.monitoring.prediction_log import PredictionLog
from tabserve.predictor import Predictor
from tabserve.registry import open_registry
from tabserve.registry.metadata import MetadataStore


@pytest.fixture
def logged(iris_config):
    """Two calls of three rows each in the prediction log of iris_config's registry; their row ids."""
    settings = load_settings(iris_config, environ={})
    registry = open_registry(settings)
    try:
        predictor = Predictor.load(registry, "iris", 1)
    finally:
        registry.close()
    store = MetadataStore(settings.registry.url)
    ids = RequestIds()
    calls = []
    for _ in range(2):
        request_id = ids()
        matrix = np.tile([5.1, 3.8, 1.5, 0.3], (3, 1))
        calls.append(
            Observation(
                predictor, 3, matrix, None, np.array([0, 0, 2]), None, time.time(), request_id=request_id
            )
        )
    try:
        PredictionLog(lambda: store, retention_days=30).handle(calls)
    finally:
        store.close()
    return [row_id for call in calls for row_id in row_ids(call.request_id, 3)]


def _run(capsys, config, *args) -> tuple[int, dict | str]:
    code = main(["-c", str(config), "feedback", *args])
    out, err = capsys.readouterr()
    return code, json.loads(out) if code == 0 else err


def test_a_csv_of_actuals_is_joined_and_a_second_send_counts_as_duplicates(
    tmp_path, iris_config, logged, capsys
):
    truth = tmp_path / "truth.csv"
    truth.write_text("id,actual\n" + "".join(f"{i},setosa\n" for i in logged) + "nope,setosa\n")
    code, report = _run(capsys, iris_config, str(truth))
    assert code == 0
    assert (report["accepted"], report["unknown_ids"], report["model"]) == (6, 1, "iris")
    code, again = _run(capsys, iris_config, str(truth))
    assert (again["accepted"], again["duplicates"]) == (0, 6)


def test_feedback_cannot_reach_another_models_log(tmp_path, iris_config, logged, capsys):
    records = tmp_path / "truth.json"
    records.write_text(json.dumps([{"id": i, "actual": "setosa"} for i in logged]))
    code, report = _run(capsys, iris_config, str(records), "--model", "wine")
    assert code == 0 and (report["accepted"], report["unknown_ids"]) == (0, 6)


def test_an_unreadable_file_is_a_usage_error_naming_what_is_wrong(tmp_path, iris_config, capsys):
    (tmp_path / "truth.txt").write_text("id,actual\n")
    code, err = _run(capsys, iris_config, str(tmp_path / "truth.txt"))
    assert code == 2 and ".csv, .json or .jsonl" in err
    (tmp_path / "truth.csv").write_text("prediction,label\nx,y\n")
    code, err = _run(capsys, iris_config, str(tmp_path / "truth.csv"))
    assert code == 2 and "no id or actual column" in err
    code, err = _run(capsys, iris_config, str(tmp_path / "missing.csv"))
    assert code == 2 and "cannot read missing.csv" in err


def test_the_retention_comes_from_the_config(tmp_path, iris_config, logged, capsys):
    config = yaml.safe_load(iris_config.read_text())
    config["monitoring"] = {"retention_days": 1}
    iris_config.write_text(yaml.safe_dump(config))
    old = RequestIds(clock_ns=lambda: time.time_ns() - 2 * 86_400 * 10**9)()
    (tmp_path / "old.jsonl").write_text(json.dumps({"id": f"{old}-0", "actual": "setosa"}) + "\n")
    code, report = _run(capsys, iris_config, str(tmp_path / "old.jsonl"))
    assert code == 0 and report["expired"] == 1 and "retention (1 days)" in report["reasons"][0]["reason"]
