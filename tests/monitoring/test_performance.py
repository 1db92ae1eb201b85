"""Realised-performance figures: scikit-learn's numbers, intervals that cover, windows by time."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from sklearn.metrics import f1_score, mean_absolute_error, root_mean_squared_error

from tabserve.monitoring.performance import figures, macro_f1, performance, regression_figures, wilson


def test_macro_f1_equals_scikit_learns():
    rng = random.Random(0)
    labels = ["a", "b", "c", "d"]
    pairs = [(rng.choice(labels[:3]), rng.choice(labels)) for _ in range(300)]
    expected = f1_score([a for _, a in pairs], [p for p, _ in pairs], average="macro", zero_division=0)
    assert macro_f1(pairs) == pytest.approx(expected)


def test_the_wilson_interval_is_sensible_at_the_edges_and_narrows_with_rows():
    assert wilson(0, 10)[0] == 0 and wilson(10, 10)[1] == 1
    assert 0 < wilson(0, 10)[1] < 0.35 and 0.65 < wilson(10, 10)[0] < 1
    assert wilson(0, 0) == (0.0, 1.0)
    low, high = wilson(80, 100)
    assert low == pytest.approx(0.7112, abs=1e-4) and high == pytest.approx(0.8666, abs=1e-4)
    assert wilson(800, 1000)[1] - wilson(800, 1000)[0] < high - low


def test_regression_figures_equal_scikit_learns_with_intervals_around_them():
    rng = np.random.default_rng(0)
    actual = rng.normal(10, 3, 500)
    predicted = actual + rng.normal(0, 1, 500)
    found = regression_figures(list(zip(predicted.tolist(), actual.tolist(), strict=True)))
    assert found["rows"] == 500
    assert found["rmse"] == pytest.approx(root_mean_squared_error(actual, predicted))
    assert found["mae"] == pytest.approx(mean_absolute_error(actual, predicted))
    assert found["rmse_interval"][0] < found["rmse"] < found["rmse_interval"][1]
    assert found["mae_interval"][0] < found["mae"] < found["mae_interval"][1]
    assert 0.8 < found["rmse_interval"][0] < found["rmse_interval"][1] < 1.2  # the noise sd is 1
    one = regression_figures([(1.0, 3.0)])
    assert one["rmse"] == 2.0 and math.isinf(one["rmse_interval"][1])  # one row says little


def test_rows_are_grouped_by_version_and_by_utc_window_of_the_prediction_time():
    hour = 3600.0
    t0 = 1_800_000_000 - 1_800_000_000 % hour
    rows = [
        (1, t0 + 10, "a", "a", None, None),
        (1, t0 + 20, "a", "b", None, None),
        (1, t0 + hour + 5, "b", "b", None, None),
        (2, t0 + 30, "a", "a", None, None),
    ]
    found = performance(rows, hour, lambda version: {"accuracy": 0.9 + version / 100})
    assert [v["version"] for v in found] == [2, 1]
    one = found[1]
    assert one["holdout"] == {"accuracy": 0.91}
    assert one["overall"]["rows"] == 3 and one["overall"]["accuracy"] == pytest.approx(2 / 3)
    assert [(w["rows"], w["accuracy"]) for w in one["windows"]] == [(2, 0.5), (1, 1.0)]
    assert one["windows"][0]["start"].startswith("2027-01-15T08:00:00")
    regression = figures([(None, None, 2.0, 1.0), (None, None, 4.0, 4.0)])
    assert regression["rows"] == 2 and regression["mae"] == 0.5
