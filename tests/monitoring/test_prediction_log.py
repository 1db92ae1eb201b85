"""The prediction log on a real SQLite registry: rows written in batches, pruned by age, exported."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from tabserve.cli import main
from tabserve.errors import BackendUnavailableError, ConfigError
from tabserve.monitoring.channel import Channel, Observation
from tabserve.monitoring.export import parse_since, read_log
from tabserve.monitoring.prediction_log import PRUNE_EVERY_S, PredictionLog
from tabserve.predictor import Predictor
from tabserve.registry import open_registry
from tabserve.registry.metadata import MetadataStore

T0 = datetime(2026, 11, 1, tzinfo=UTC).timestamp()


@pytest.fixture
def iris_predictor(trained_iris) -> Predictor:
    settings, outcome = trained_iris
    registry = open_registry(settings)
    try:
        return Predictor.load(registry, settings.model, outcome.version)
    finally:
        registry.close()


@pytest.fixture
def store(tmp_path) -> MetadataStore:
    opened = MetadataStore(f"sqlite:///{tmp_path / 'registry.db'}")
    yield opened
    opened.close()


def _observation(predictor: Predictor, rows: list[list[float]], at: float, labels_only: bool = False):
    matrix = np.asarray(rows, dtype=np.float64)
    probabilities = np.full((len(rows), 3), 1 / 3)
    indices = np.arange(len(rows)) % 3
    return Observation(
        predictor, len(rows), matrix, None, indices, None if labels_only else probabilities, at
    )


def test_rows_are_written_with_inputs_outputs_model_version_request_and_time(store, iris_predictor):
    log = PredictionLog(lambda: store, retention_days=30, clock=lambda: T0)
    log.handle(
        [
            _observation(iris_predictor, [[5.1, 3.5, 1.4, 0.2], [6.0, math.nan, 4.0, 1.2]], T0 - 60),
            _observation(iris_predictor, [[7.0, 3.2, 4.7, 1.4]], T0 - 30, labels_only=True),
        ]
    )
    frame = read_log(store.engine, "iris", T0 - 3600)
    assert list(frame.columns) == [
        "sepal_length", "sepal_width", "petal_length", "petal_width", "prediction",
        "proba_setosa", "proba_versicolor", "proba_virginica",
        "logged_at", "model", "version", "request_id", "row",
    ]  # fmt: skip
    assert frame["sepal_length"].tolist() == [5.1, 6.0, 7.0]
    assert pd.isna(frame["sepal_width"][1])  # a missing value stays missing
    assert frame["prediction"].tolist() == ["setosa", "versicolor", "setosa"]
    assert frame["proba_setosa"].tolist()[:2] == pytest.approx([1 / 3, 1 / 3])
    assert pd.isna(frame["proba_setosa"][2])  # labels only: no probabilities to log
    assert frame["row"].tolist() == [0, 1, 0]
    assert frame["request_id"][0] == frame["request_id"][1] != frame["request_id"][2]
    assert set(frame["version"]) == {iris_predictor.version} and set(frame["model"]) == {"iris"}
    assert frame["logged_at"][0] == "2026-10-31T23:59:00.000+00:00"
    assert read_log(store.engine, "iris", T0 - 45)["row"].tolist() == [0]  # since: only the later call
    assert read_log(store.engine, "other", 0).empty


def test_rows_older_than_the_retention_are_deleted_at_most_every_few_minutes(store, iris_predictor):
    now = [T0]
    log = PredictionLog(lambda: store, retention_days=1 / 48, clock=lambda: now[0])  # half an hour
    log.handle([_observation(iris_predictor, [[5.1, 3.5, 1.4, 0.2]], T0 - 2 * 86_400)])
    assert read_log(store.engine, "iris", 0).empty  # the first write prunes, and this row is two days old
    log.handle([_observation(iris_predictor, [[5.1, 3.5, 1.4, 0.2]], T0 - 1700)])
    now[0] = T0 + 300  # the second row is now past the retention, but the last prune was just now
    log.handle([_observation(iris_predictor, [[6.1, 3.5, 1.4, 0.2]], now[0])])
    assert len(read_log(store.engine, "iris", 0)) == 2
    now[0] = T0 + PRUNE_EVERY_S
    log.handle([_observation(iris_predictor, [[6.2, 3.5, 1.4, 0.2]], now[0])])
    assert read_log(store.engine, "iris", 0)["sepal_length"].tolist() == [6.1, 6.2]
    assert log.pruned_chunks == 2


def test_an_unreachable_database_fails_the_batch_which_the_channel_counts(iris_predictor):
    store = MetadataStore("postgresql+psycopg://postgres:hidden-pw@127.0.0.1:9/nothing")
    try:
        log = PredictionLog(lambda: store, retention_days=1)
        with pytest.raises(BackendUnavailableError) as raised:
            log.handle([_observation(iris_predictor, [[5.1, 3.5, 1.4, 0.2]], T0)])
        assert "hidden-pw" not in str(raised.value) and "5.1" not in str(raised.value)
        channel = Channel("log", log.handle, capacity_rows=10)
        channel.offer(_observation(iris_predictor, [[5.1, 3.5, 1.4, 0.2]] * 4, T0))
        channel.offer(_observation(iris_predictor, [[5.1, 3.5, 1.4, 0.2]] * 7, T0))  # more than the room left
        channel.handle_now()
        assert (channel.failed_rows, channel.dropped_rows, channel.handled_rows) == (4, 7, 0)
    finally:
        store.close()


def test_since_takes_durations_and_iso_times():
    assert parse_since("24h", now=T0) == T0 - 86_400
    assert parse_since("90m", now=T0) == T0 - 5400
    assert parse_since("2026-11-01") == T0
    assert parse_since("2026-11-01T01:00:00+01:00") == T0
    with pytest.raises(ConfigError, match="neither a duration"):
        parse_since("yesterday")


def test_export_predictions_writes_csv_and_parquet_and_refuses_other_names(
    tmp_path, trained_iris, iris_predictor, capsys
):
    settings, _ = trained_iris
    config = tmp_path / "tabserve.yaml"
    config.write_text(
        f"registry: {{url: '{settings.registry.url}', artifacts: '{settings.registry.artifacts}'}}\n"
        "logging: {file: null}\n"
    )
    store = MetadataStore(settings.registry.url)
    try:
        PredictionLog(lambda: store, retention_days=3650).handle(
            [_observation(iris_predictor, [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]], T0)]
        )
    finally:
        store.close()
    since = ["--since", "2026-10-31"]
    assert main(["-c", str(config), "data", "export-predictions", *since, "-o", str(tmp_path / "p.csv")]) == 0
    assert (
        "wrote 2 logged predictions of model iris since 2026-10-31T00:00:00+00:00" in capsys.readouterr().out
    )
    csv = pd.read_csv(tmp_path / "p.csv")
    assert csv[["sepal_length", "prediction"]].values.tolist() == [[5.1, "setosa"], [6.7, "versicolor"]]
    out = tmp_path / "p.parquet"
    assert main(["-c", str(config), "data", "export-predictions", *since, "-o", str(out)]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(out), csv, check_dtype=False)
    assert (
        main(["-c", str(config), "data", "export-predictions", "--since", "2030-01-01", "-o", str(out)]) == 0
    )
    assert pd.read_parquet(out).empty
    assert (
        main(["-c", str(config), "data", "export-predictions", *since, "-o", str(tmp_path / "p.xlsx")]) == 2
    )
    assert "must end in .csv or .parquet" in capsys.readouterr().err
    assert not (tmp_path / "p.xlsx").exists()
