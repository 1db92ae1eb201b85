"""The drift window against a real profile of iris (and of a table with a categorical column)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris

from tabserve.features import coerce_frame, infer_schema
from tabserve.monitoring.bins import category_bins, numeric_bins
from tabserve.monitoring.channel import Observation
from tabserve.monitoring.drift import BLOCKS, DriftWindow, psi
from tabserve.monitoring.drift_tracker import DriftTracker
from tabserve.monitoring.profile import build_profile


@pytest.fixture(scope="module")
def iris() -> tuple[pd.DataFrame, dict]:
    data = load_iris(as_frame=True)
    frame = data.data
    frame.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    target = pd.Series(np.asarray(data.target_names)[data.target], name="species")
    schema = infer_schema(frame, target)
    return frame, build_profile(coerce_frame(frame, schema), schema, target.tolist())


def _sample(frame: pd.DataFrame, rows: int, seed: int = 0) -> pd.DataFrame:
    return frame.sample(rows, replace=True, random_state=seed).reset_index(drop=True)


def _feed(window: DriftWindow, frame: pd.DataFrame, classes: int = 3, batch: int = 100) -> None:
    rng = np.random.default_rng(0)
    for start in range(0, len(frame), batch):
        part = frame.iloc[start : start + batch]
        window.add([part[name].to_numpy() for name in window.names], rng.integers(0, classes, len(part)))


def test_a_shifted_feature_has_a_psi_above_0_2_and_the_others_below_0_1(iris):
    frame, profile = iris
    live = _sample(frame, 3000)
    live["petal_length"] += 1.5
    window = DriftWindow(profile, list(frame.columns), window_rows=5000)
    _feed(window, live)
    report = window.report()
    assert report["rows"] == 3000
    shifted = report["features"]["petal_length"]
    assert shifted["psi"] > 0.2 and shifted["drifted"]
    assert shifted["out_of_range_share"] > 0.05
    for name in ("sepal_length", "sepal_width", "petal_width"):
        assert report["features"][name]["psi"] < 0.1, name
        assert not report["features"][name]["drifted"]
        assert report["features"][name]["out_of_range_share"] == 0.0


def test_rows_like_the_training_data_show_no_drift_and_the_class_mix_is_compared(iris):
    frame, profile = iris
    window = DriftWindow(profile, list(frame.columns), window_rows=5000)
    _feed(window, _sample(frame, 2000, seed=1))
    report = window.report()
    assert all(f["psi"] < 0.1 and f["missing_share"] == 0.0 for f in report["features"].values())
    assert report["predictions"]["reference"] == pytest.approx(
        {"setosa": 1 / 3, "versicolor": 1 / 3, "virginica": 1 / 3}
    )
    assert report["predictions"]["psi"] < 0.1  # uniform random classes against a uniform hold-out
    only_setosa = DriftWindow(profile, list(frame.columns), window_rows=5000)
    _feed(only_setosa, _sample(frame, 500), classes=1)
    assert only_setosa.report()["predictions"]["psi"] > 0.2
    assert only_setosa.report()["predictions"]["live"]["setosa"] == 1.0


def test_the_window_forgets_old_rows_and_its_memory_does_not_grow(iris):
    frame, profile = iris
    window = DriftWindow(profile, list(frame.columns), window_rows=1000)
    shifted = _sample(frame, 2000)
    shifted["sepal_width"] += 3
    _feed(window, shifted)
    assert window.report()["features"]["sepal_width"]["psi"] > 0.2
    before = window.bins.nbytes + window.predicted.nbytes + window.out_of_range.nbytes
    _feed(window, _sample(frame, 5000, seed=2), batch=333)  # batches straddle block boundaries
    report = window.report()
    assert 1000 - 1000 // BLOCKS <= report["rows"] <= 1000
    assert report["features"]["sepal_width"]["psi"] < 0.1  # the shifted rows have left the window
    assert window.bins.nbytes + window.predicted.nbytes + window.out_of_range.nbytes == before


def test_a_batch_longer_than_the_window_keeps_only_its_newest_rows(iris):
    frame, profile = iris
    window = DriftWindow(profile, list(frame.columns), window_rows=1000)
    _feed(window, _sample(frame, 500, seed=3))
    batch = _sample(frame, 5000, seed=4)
    batch.loc[: 5000 - window.capacity - 1, "sepal_width"] += 3  # shifted, but older than the window
    classes = np.zeros(5000, dtype=np.int64)
    classes[-window.capacity :] = 2
    window.add([batch[name].to_numpy() for name in window.names], classes)
    report = window.report()
    assert report["rows"] == window.capacity == 1000
    assert report["features"]["sepal_width"]["psi"] < 0.1
    assert report["features"]["sepal_width"]["out_of_range_share"] == 0.0
    assert report["predictions"]["live"]["virginica"] == 1.0  # nothing older: not the 500 fed before


def test_the_tracker_bins_only_what_the_window_can_hold(iris, monkeypatch):
    frame, profile = iris
    predictor = SimpleNamespace(model="iris", version=1, schema=SimpleNamespace(names=list(frame.columns)))
    tracker = DriftTracker(window_rows=1000, read_profile=lambda _: profile)
    seen: list[int] = []
    tracker.handle([])  # nothing queued: nothing to do
    original = DriftWindow.add

    def counting_add(self, columns, indices):
        seen.append(len(indices))
        original(self, columns, indices)

    batches = [_sample(frame, 600, seed=n) for n in range(10)]
    observations = [
        Observation(predictor, 600, b.to_numpy(), None, np.full(600, n % 3), None, float(n))
        for n, b in enumerate(batches)
    ]
    monkeypatch.setattr(DriftWindow, "add", counting_add)
    tracker.handle(observations)
    assert seen == [1200]  # the newest two of ten 600-row answers cover the 1000-row window
    assert tracker.report("iris", 1)["rows"] == 1000


def test_missing_values_and_unseen_categories_are_counted_separately():
    frame = pd.DataFrame(
        {"colour": ["red", "blue", "green", None] * 50, "size": [1.0, 2.0, np.nan, 4.0] * 50}
    )
    target = pd.Series(["a", "b"] * 100, name="label")
    schema = infer_schema(frame, target)
    profile = build_profile(coerce_frame(frame, schema), schema, ["a", "b"])
    assert profile["features"]["colour"]["reference"] == pytest.approx([0.25, 0.25, 0.25, 0.0, 0.25])
    window = DriftWindow(profile, ["colour", "size"], window_rows=1000)
    window.add([["red", "purple", None, "blue"] * 25, [1.0, np.nan, np.nan, 99.0] * 25], np.zeros(100, int))
    colour, size = window.report()["features"]["colour"], window.report()["features"]["size"]
    assert colour["unseen_share"] == 0.25 and colour["missing_share"] == 0.25
    assert colour["out_of_range_share"] is None
    assert size["missing_share"] == 0.5 and size["out_of_range_share"] == 0.25
    assert size["unseen_share"] is None
    assert colour["psi"] > 0.2  # a quarter of the rows in a bin that was empty in training


def test_bins_agree_on_edges_and_psi_is_none_without_rows():
    assert numeric_bins(np.array([1.0, 1.5, 2.0, np.nan]), np.array([1.0, 2.0])).tolist() == [1, 1, 2, 3]
    assert category_bins(["b", "x", None, float("nan")], ["b", "a"]).tolist() == [0, 2, 3, 3]
    assert psi(np.array([0.5, 0.5]), np.array([0, 0])) is None
    assert psi(np.array([0.5, 0.5]), np.array([10, 10])) == pytest.approx(0.0)


def test_training_stores_the_profile_with_the_version(trained_iris):
    import json

    from tabserve.registry import open_registry

    settings, outcome = trained_iris
    registry = open_registry(settings)
    try:
        record = registry.get(settings.model, outcome.version)
        stored = json.loads(registry.read_file(record, "profile"))
    finally:
        registry.close()
    assert stored == outcome.trained.profile
    assert set(stored["features"]) == {"sepal_length", "sepal_width", "petal_length", "petal_width"}
    assert stored["rows"] == 135 and stored["holdout_rows"] == 15
    assert sum(stored["class_mix"]) == pytest.approx(1.0)


def test_a_dozen_training_rows_look_drifted_so_below_min_rows_there_is_no_verdict(iris):
    frame, profile = iris
    predictor = SimpleNamespace(model="iris", version=1, schema=SimpleNamespace(names=list(frame.columns)))
    sample = _sample(frame, 12, seed=5)
    observation = Observation(predictor, 12, sample.to_numpy(), None, np.arange(12) % 3, None, 0.0)

    eager = DriftTracker(window_rows=1000, read_profile=lambda _: profile, min_rows=1)
    eager.handle([observation])
    assert any(f["drifted"] for f in eager.report("iris", 1)["features"].values())  # the false alarm

    tracker = DriftTracker(window_rows=1000, read_profile=lambda _: profile, min_rows=200)
    tracker.handle([observation])
    report = tracker.report("iris", 1)
    assert report["verdict"] is False and report["min_rows"] == 200
    assert report["detail"] == "12 rows so far, needs 200 for a drift verdict (monitoring.drift_min_rows)"
    assert {f["psi"] for f in report["features"].values()} == {None}
    assert {f["drifted"] for f in report["features"].values()} == {None}
    assert report["predictions"]["psi"] is None and report["predictions"]["drifted"] is None

    big = _sample(frame, 300, seed=6)
    tracker.handle([Observation(predictor, 300, big.to_numpy(), None, np.arange(300) % 3, None, 1.0)])
    report = tracker.report("iris", 1)
    assert report["verdict"] is True and "detail" not in report
    assert not any(f["drifted"] for f in report["features"].values())


def test_drift_min_rows_defaults_to_a_real_sample_and_fits_in_the_window():
    from tabserve.config import load_settings
    from tabserve.errors import ConfigError

    assert load_settings(environ={}).monitoring.drift_min_rows == 200
    with pytest.raises(ConfigError, match=r"drift_min_rows \(500\) is more than the drift window holds"):
        load_settings(environ={}, overrides={"monitoring": {"window_rows": 100, "drift_min_rows": 500}})


@pytest.fixture(scope="module")
def regression_profile() -> tuple[pd.DataFrame, dict]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=2000)})
    schema = infer_schema(frame, pd.Series([], dtype=float, name="y"), "regression")
    holdout_values = 3 * frame["x"].to_numpy()[:500] + 10
    return frame, build_profile(coerce_frame(frame, schema), schema, [], holdout_values)


def test_a_regressors_window_compares_its_predicted_values_with_the_hold_outs(regression_profile):
    frame, profile = regression_profile
    same = DriftWindow(profile, ["x"], window_rows=5000, regression=True)
    same.add([frame["x"].to_numpy()], 3 * frame["x"].to_numpy() + 10)
    report = same.report()["predictions"]
    assert report["kind"] == "values" and report["available"] is True
    assert report["psi"] < 0.05 and report["drifted"] is False
    assert list(report["live"]) == list(report["reference"])
    names = list(report["live"])
    assert names[0].startswith("below ") and names[-1] == "missing"
    higher = DriftWindow(profile, ["x"], window_rows=5000, regression=True)
    higher.add([frame["x"].to_numpy()], 3 * frame["x"].to_numpy() + 14)  # same rows, values shifted
    shifted = higher.report()
    assert shifted["features"]["x"]["psi"] < 0.05  # the inputs did not move
    assert shifted["predictions"]["psi"] > 0.2 and shifted["predictions"]["drifted"] is True


def test_a_regressor_without_hold_out_values_has_no_prediction_drift_but_feature_drift(regression_profile):
    frame, profile = regression_profile
    older = {key: value for key, value in profile.items() if key != "values"}
    window = DriftWindow(older, ["x"], window_rows=5000, regression=True)
    window.add([frame["x"].to_numpy() + 2], np.zeros(len(frame)))
    report = window.report()
    assert report["features"]["x"]["drifted"] is True
    predictions = report["predictions"]
    assert predictions["available"] is False and predictions["psi"] is None
    assert predictions["detail"].startswith("not available: ")


def test_the_tracker_bins_a_regressors_values(regression_profile):
    frame, profile = regression_profile
    predictor = SimpleNamespace(model="m", version=1, is_regression=True, schema=SimpleNamespace(names=["x"]))
    tracker = DriftTracker(1000, lambda p: profile)
    values = 3 * frame["x"].to_numpy()[:300] + 10
    matrix = frame[["x"]].to_numpy()[:300]
    tracker.handle([Observation(predictor, 300, matrix, None, np.empty(0), None, 0.0, values)])
    report = tracker.report("m", 1)
    assert report["rows"] == 300 and report["predictions"]["kind"] == "values"
    assert sum(report["predictions"]["live"].values()) == pytest.approx(1.0)
