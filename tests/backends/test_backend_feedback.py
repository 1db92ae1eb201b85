"""Ground truth on every backend: migration 3 makes its table, feedback joins the log by id, a record
sent twice counts once (even when two calls race), and realised accuracy comes back with its interval."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import sqlalchemy as sa

from tabserve.monitoring.channel import Observation
from tabserve.monitoring.feedback import FeedbackStore
from tabserve.monitoring.feedback_records import Record
from tabserve.monitoring.ids import RequestIds, row_ids
from tabserve.monitoring.performance import model_report, wilson
from tabserve.monitoring.prediction_log import PredictionLog
from tabserve.predictor import Predictor
from tabserve.registry import ModelStore, open_registry
from tabserve.registry.artifacts import LocalArtifactStore
from tabserve.registry.feedback_table import feedback
from tabserve.registry.metadata import MetadataStore
from tabserve.registry.tables import MIGRATIONS


@pytest.fixture(scope="module")
def iris_predictor(trained_iris) -> Predictor:
    settings, outcome = trained_iris
    registry = open_registry(settings)
    try:
        return Predictor.load(registry, settings.model, outcome.version)
    finally:
        registry.close()


def _log_calls(store: MetadataStore, predictor: Predictor, calls: int, rows: int) -> list[str]:
    """``calls`` logged calls of ``rows`` rows each, predicted setosa, versicolor, virginica in turn."""
    ids = RequestIds()
    observations = []
    for _ in range(calls):
        request_id = ids()
        matrix = np.tile([5.1, 3.8, 1.5, 0.3], (rows, 1))
        indices = np.arange(rows) % 3
        observations.append(
            Observation(predictor, rows, matrix, None, indices, None, time.time(), request_id=request_id)
        )
    PredictionLog(lambda: store, retention_days=30).handle(observations)
    return [row_id for o in observations for row_id in row_ids(o.request_id, rows)]


def test_feedback_joins_the_log_and_yields_realised_accuracy(empty_db_url, iris_predictor, tmp_path):
    store = MetadataStore(empty_db_url)
    try:
        ids = _log_calls(store, iris_predictor, calls=4, rows=30)
        assert sa.inspect(store.engine).has_table(feedback.name)
        with store.engine.connect() as conn:
            applied = conn.execute(sa.text("SELECT max(version) FROM tabserve_schema_versions")).scalar()
        assert applied == MIGRATIONS[-1][0] >= 3
        classes = ["setosa", "versicolor", "virginica"]
        # Rows predicted i % 3; every fifth actual is off by one class: 96 of 120 right.
        records = [Record(i, classes[(n + (n % 5 == 0)) % 3]) for n, i in enumerate(ids)]
        report = FeedbackStore(lambda: store, 30).record("iris", records + records[:10])
        assert (report.accepted, report.duplicates, report.unknown_ids) == (120, 10, 0)
        other = FeedbackStore(lambda: store, 30).record("wine", records[:5])
        assert (other.accepted, other.unknown_ids) == (0, 5)  # another model's log is out of reach

        registry = ModelStore(store, LocalArtifactStore(tmp_path / "artifacts"))
        version = model_report(registry, "iris", "hour", 3600, 7, time.time())["versions"][0]
        assert version["overall"]["rows"] == 120
        assert version["overall"]["accuracy"] == pytest.approx(96 / 120)
        assert version["overall"]["accuracy_interval"] == pytest.approx(list(wilson(96, 120)))
    finally:
        store.close()


def test_two_calls_racing_with_the_same_records_store_each_once(empty_db_url, iris_predictor):
    store = MetadataStore(empty_db_url)
    try:
        ids = _log_calls(store, iris_predictor, calls=2, rows=50)
        records = [Record(i, "setosa") for i in ids]
        reports = []
        start = threading.Barrier(2)

        def send() -> None:
            start.wait()
            reports.append(FeedbackStore(lambda: store, 30).record("iris", records))

        threads = [threading.Thread(target=send) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert len(reports) == 2 and sum(r.accepted for r in reports) == 100
        assert sum(r.accepted + r.duplicates for r in reports) == 200
        with store.engine.connect() as conn:
            stored = conn.execute(sa.select(sa.func.count()).select_from(feedback)).scalar()
        assert stored == 100
    finally:
        store.close()
