"""Regression from a config: the split, the folds, defaults, config errors, metrics, pictures, intervals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tabserve.config import load_settings
from tabserve.data import binned_split
from tabserve.errors import ConfigError
from tabserve.inputs import Batch
from tabserve.predictor import Predictor
from tabserve.regression import REGRESSION_SCORING, default_regression_candidates
from tabserve.training import build_param_grid, train
from tabserve.workflow import train_and_register
from tests.support.settings import make_settings

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NOISE = 2.0


def _table(rows: int, seed: int) -> pd.DataFrame:
    """y = 3a - 2b + 5 (colour red) + N(0, 2): known Gaussian noise, a categorical column, missing values."""
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(-3, 3, rows), rng.uniform(-3, 3, rows)
    colour = rng.choice(["red", "blue", "green"], rows)
    y = 3 * a - 2 * b + 5 * (colour == "red") + rng.normal(0, NOISE, rows)
    frame = pd.DataFrame({"a": a, "b": b, "colour": colour, "y": y})
    frame.loc[rng.random(rows) < 0.03, "b"] = np.nan
    frame.loc[rng.random(rows) < 0.03, "colour"] = None
    return frame


@pytest.fixture
def linear_settings(tmp_path):
    path = tmp_path / "table.csv"
    _table(1500, seed=1).to_csv(path, index=False)
    return make_settings(
        tmp_path,
        model="lin",
        data={"source": "csv", "path": str(path), "target": "y"},
        split={"test_per_class": None, "test_fraction": 0.4, "random_state": 0},
        candidates=[{"estimator": "sklearn.linear_model.Ridge", "grid": {"alpha": [0.01, 1.0]}}],
        registry={"pictures": False},
    )


def test_auto_trains_a_regressor_with_metrics_and_stores_task(linear_settings):
    outcome = train_and_register(linear_settings)
    metrics = outcome.trained.metrics
    assert metrics["task"] == "regression" and metrics["task_reason"].startswith("auto:")
    assert metrics["scoring"] == REGRESSION_SCORING
    # The noise's standard deviation is the best RMSE a model can reach.
    assert NOISE * 0.85 < metrics["rmse"] < NOISE * 1.2
    assert metrics["mae"] < metrics["rmse"] and metrics["r2"] > 0.8
    assert list(metrics["residual_quantiles"]) == ["0.05", "0.25", "0.5", "0.75", "0.95"]
    assert metrics["holdout_rows"] == 600
    registry = linear_settings_registry(linear_settings)
    record = registry.get("lin", outcome.version)
    assert record.task == "regression" and record.feature_schema["classes"] == []
    assert "residuals" in record.artifacts
    residuals = json.loads(registry.read_file(record, "residuals"))
    assert len(residuals) == 600 and min(residuals) >= 0
    assert record.metrics["intervals"]["holdout_coverage"]["0.9"] == pytest.approx(0.9, abs=0.04)
    registry.close()


def linear_settings_registry(settings):
    from tabserve.registry import open_registry

    return open_registry(settings)


@pytest.mark.parametrize("coverage", [0.8, 0.9])
def test_intervals_cover_fresh_rows_at_nominal_rate(linear_settings, coverage):
    outcome = train_and_register(linear_settings)
    registry = linear_settings_registry(linear_settings)
    try:
        predictor = Predictor.load(registry, "lin", outcome.version)
    finally:
        registry.close()
    fresh = _table(20_000, seed=99)
    columns = {name: fresh[name].tolist() for name in ("a", "b", "colour")}
    prediction = predictor.predict(Batch(len(fresh), None, columns), interval=coverage)
    truth = fresh["y"].to_numpy()
    assert prediction.values is not None and prediction.values.dtype == np.float64
    assert prediction.labels == [] and prediction.probabilities is None
    interval = prediction.interval
    assert interval is not None and interval.coverage == coverage
    covered = float(np.mean((interval.lower <= truth) & (truth <= interval.upper)))
    assert abs(covered - coverage) <= 0.03


def test_binned_split_is_seeded_and_spans_the_target_range():
    rng = np.random.default_rng(0)
    target = pd.Series(rng.exponential(10, 500), name="y")
    features = pd.DataFrame({"x": np.arange(500.0)})
    split = load_settings(environ={}, overrides={"split": {"test_fraction": 0.2}}).split
    first = binned_split(features, target, split)
    again = binned_split(features, target, split)
    assert first[3].index.tolist() == again[3].index.tolist()
    assert len(first[3]) == 100
    # Every decile of the target is in the hold-out, about equally.
    deciles = pd.qcut(target, 10, labels=False)
    counts = deciles[first[3].index].value_counts()
    assert len(counts) == 10 and counts.min() >= 9


def test_default_candidates_and_scoring_for_regression(tmp_path):
    path = tmp_path / "t.csv"
    _table(120, seed=2).to_csv(path, index=False)
    settings = make_settings(
        tmp_path,
        task="regression",
        data={"source": "csv", "path": str(path), "target": "y"},
        split={"test_per_class": None, "test_fraction": 0.25},
        registry={"pictures": False},
    )
    trained = train(settings)
    seen = {row["estimator"] for row in trained.cv_results}
    assert seen == {c.estimator for c in default_regression_candidates()}
    assert trained.metrics["scoring"] == REGRESSION_SCORING


def test_default_per_class_split_becomes_a_fraction_for_regression(tmp_path):
    path = tmp_path / "t.csv"
    _table(100, seed=2).to_csv(path, index=False)
    settings = make_settings(
        tmp_path,
        data={"source": "csv", "path": str(path), "target": "y"},
        candidates=[{"estimator": "sklearn.linear_model.Ridge"}],
        registry={"pictures": False},
    )
    assert settings.split.test_per_class == 5
    assert train(settings).metrics["holdout_rows"] == 20  # the default 0.2 fraction


def test_auto_regression_with_explicit_per_class_is_refused(tmp_path):
    path = tmp_path / "t.csv"
    _table(100, seed=2).to_csv(path, index=False)
    settings = make_settings(
        tmp_path,
        data={"source": "csv", "path": str(path), "target": "y"},
        split={"test_per_class": 3},
        candidates=[{"estimator": "sklearn.linear_model.Ridge"}],
    )
    with pytest.raises(ConfigError, match=r"split.test_per_class: .*use split.test_fraction"):
        train(settings)


def test_wrong_kind_of_candidate_is_named():
    settings = load_settings(
        environ={},
        overrides={
            "candidates": [
                {"estimator": "sklearn.linear_model.Ridge"},
                {"estimator": "sklearn.tree.DecisionTreeClassifier"},
            ]
        },
    )
    with pytest.raises(
        ConfigError, match=r"candidates.1.estimator: .*DecisionTreeClassifier' is a classifier"
    ):
        build_param_grid(settings.candidates, 0, "regression")
    with pytest.raises(ConfigError, match=r"candidates.0.estimator: .*Ridge' is a regressor"):
        build_param_grid(settings.candidates, 0, "classification")
    with pytest.raises(ConfigError, match="candidates: mixes classifiers and regressors"):
        build_param_grid(settings.candidates, 0, None)


def test_classification_scorer_on_regression_is_a_config_error(tmp_path):
    path = tmp_path / "t.csv"
    _table(100, seed=2).to_csv(path, index=False)
    settings = make_settings(
        tmp_path,
        data={"source": "csv", "path": str(path), "target": "y"},
        search={"scoring": "f1_macro"},
        candidates=[{"estimator": "sklearn.linear_model.Ridge"}],
    )
    with pytest.raises(ConfigError, match=r"search.scoring: 'f1_macro' scores classifiers"):
        train(settings)


def test_example_config_trains_with_pictures(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the registry under var/ lands here
    settings = load_settings(EXAMPLES / "regression.yaml", environ={}, overrides={"search": {"n_jobs": 1}})
    outcome = train_and_register(settings)
    assert outcome.trained.metrics["r2"] > 0.8
    registry = linear_settings_registry(settings)
    try:
        record = registry.get("houses", outcome.version)
        for kind in ("predicted_vs_actual", "residual_distribution", "pairplot"):
            assert registry.read_file(record, kind).startswith(b"\x89PNG")
        assert "confusion_matrix" not in record.artifacts
    finally:
        registry.close()
