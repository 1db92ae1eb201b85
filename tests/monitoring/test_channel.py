"""The watch's queue: single rows gathered into runs, bounded in rows, and counted into drift alike."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.datasets import load_iris

from tabserve.config import load_settings
from tabserve.features import coerce_frame, infer_schema
from tabserve.monitoring.channel import Channel, Observation, RowRun
from tabserve.monitoring.drift_tracker import DriftTracker
from tabserve.monitoring.profile import build_profile
from tabserve.monitoring.watch import Watch

NAMES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def _predictor(version: int = 1) -> SimpleNamespace:
    return SimpleNamespace(model="iris", version=version, schema=SimpleNamespace(names=NAMES))


@pytest.fixture(scope="module")
def profile() -> dict:
    data = load_iris(as_frame=True)
    frame = data.data
    frame.columns = NAMES
    target = np.asarray(data.target_names)[data.target]
    schema = infer_schema(frame, frame.assign(species=target)["species"])
    return build_profile(coerce_frame(frame, schema), schema, target.tolist())


def _handled(channel: Channel) -> list[Observation]:
    seen: list[Observation] = []
    channel.handle = seen.extend
    channel.handle_now()
    return seen


def test_single_rows_of_one_version_become_one_run_until_something_else_comes():
    channel = Channel("drift", lambda _: None, capacity_rows=100)
    first, second = _predictor(1), _predictor(2)
    for n in range(3):
        channel.offer_row(first, [5.0 + n, 3.0, 1.4, 0.2], n)
    channel.offer_row(second, [6.0, 3.0, 5.0, 2.0], 2)
    batch = Observation(first, 2, np.ones((2, 4)), None, np.array([0, 1]), None, 0.0)
    channel.offer(batch)
    channel.offer_row(first, [7.0, 3.0, 6.0, 2.0], 2)
    taken = _handled(channel)
    assert [type(o).__name__ for o in taken] == ["RowRun", "RowRun", "Observation", "RowRun"]
    run = taken[0]
    assert run.predictor is first and run.rows == 3 and run.indices == [0, 1, 2]
    assert run.matrix == [5.0, 3.0, 1.4, 0.2, 6.0, 3.0, 1.4, 0.2, 7.0, 3.0, 1.4, 0.2]
    assert taken[1].predictor is second and taken[2] is batch and taken[3].rows == 1
    assert channel.handled_rows == 7


def test_a_full_queue_drops_and_counts_single_rows_one_by_one():
    channel = Channel("drift", lambda _: None, capacity_rows=3)
    predictor = _predictor()
    for _ in range(5):
        channel.offer_row(predictor, [5.0, 3.0, 1.4, 0.2], 0)
    taken = _handled(channel)
    assert channel.dropped_rows == 2 and [o.rows for o in taken] == [3]
    channel.offer_row(predictor, [5.0, 3.0, 1.4, 0.2], 0)  # room again once handed over
    assert _handled(channel)[0].rows == 1


def test_drift_counts_a_run_exactly_as_the_same_rows_one_by_one(profile):
    rng = np.random.default_rng(0)
    rows = rng.uniform([4.3, 2.0, 1.0, 0.1], [7.9, 4.4, 6.9, 2.5], size=(500, 4)).round(1)
    classes = rng.integers(0, 3, 500)
    predictor = _predictor()
    one_by_one = DriftTracker(1000, lambda _: profile)
    one_by_one.handle(
        [
            Observation(predictor, 1, list(r), None, (int(c),), None, 0.0)
            for r, c in zip(rows, classes, strict=True)
        ]
    )
    channel = Channel("drift", lambda _: None, capacity_rows=10_000)
    for r, c in zip(rows, classes, strict=True):
        channel.offer_row(predictor, r.tolist(), int(c))
    runs = DriftTracker(1000, lambda _: profile)
    runs.handle(_handled(channel))
    assert runs.report("iris", 1) == one_by_one.report("iris", 1)
    assert runs.report("iris", 1)["rows"] == 500


def test_the_watch_sends_a_single_row_to_drift_as_a_run_and_to_the_log_as_itself(tmp_path):
    settings = load_settings(
        environ={},
        overrides={
            "registry": {"url": f"sqlite:///{tmp_path / 'r.db'}", "artifacts": str(tmp_path / "a")},
            "monitoring": {"log_predictions": 1.0},
        },
    )
    watch = Watch(settings, lambda: None)
    predictor = _predictor()
    for _ in range(2):
        watch.observe(predictor, 1, [5.1, 3.8, 1.5, 0.3], None, (0,), [0.9, 0.05, 0.05])
    drift = _handled(watch.channels["drift"])
    logged = _handled(watch.channels["log"])
    assert len(drift) == 1 and type(drift[0]) is RowRun and drift[0].rows == 2
    assert [type(o) for o in logged] == [Observation, Observation]
    assert logged[0].probabilities == [0.9, 0.05, 0.05] and logged[0].matrix == [5.1, 3.8, 1.5, 0.3]
