"""tabserve.register with a regressor: task inferred, metrics and residuals from X_test/y_test, intervals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_absolute_error, root_mean_squared_error
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

import tabserve
from tabserve.errors import DataError, InputError
from tabserve.inputs import batch_from_frame
from tabserve.predictor import Predictor
from tabserve.schema import FeatureSchema
from tests.support.settings import make_settings


def _houses(rows: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame({"area": rng.uniform(30, 150, rows), "district": rng.choice(["n", "s", "e"], rows)})
    y = 2.0 * x["area"] + x["district"].map({"n": 30.0, "s": 0.0, "e": 10.0}) + rng.normal(0, 5, rows)
    return x, y.rename("price")


def _pipeline(x: pd.DataFrame, y: pd.Series):
    prep = ColumnTransformer(
        [
            ("num", SimpleImputer(), ["area"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["district"]),
        ]
    )
    return make_pipeline(prep, Ridge(alpha=0.1)).fit(x, y)


@pytest.fixture
def notebook_registry(tmp_path: Path):
    with tabserve.Registry(settings=make_settings(tmp_path)) as registry:
        yield registry


def test_a_regressor_registers_with_task_metrics_and_intervals(notebook_registry):
    x, y = _houses(600, seed=1)
    model = _pipeline(x[:300], y[:300])
    result = tabserve.register(
        model, name="prices", X_sample=x[:20], X_test=x[300:], y_test=y[300:], registry=notebook_registry
    )
    predicted = model.predict(x[300:])
    assert result.metrics["rmse"] == pytest.approx(root_mean_squared_error(y[300:], predicted))
    assert result.metrics["mae"] == pytest.approx(mean_absolute_error(y[300:], predicted))
    assert result.metrics["holdout_score"] == pytest.approx(-result.metrics["rmse"])
    detail = notebook_registry.version("prices", 1)
    assert detail["task"] == "regression" and detail["feature_schema"]["target"] == "price"
    store = notebook_registry.store
    predictor = Predictor.load(store, "prices", 1)
    fresh, _ = _houses(50, seed=2)
    schema = FeatureSchema.from_dict(detail["feature_schema"])
    answer = predictor.predict(batch_from_frame(fresh, schema), interval=0.9)
    np.testing.assert_allclose(answer.values, model.predict(fresh), rtol=0, atol=1e-9)
    assert answer.interval is not None
    widths = answer.interval.upper - answer.interval.lower
    assert np.allclose(widths, widths[0]) and widths[0] > 0
    # The hold-out's predicted values are binned into the drift profile: prediction drift's reference.
    profile = json.loads(store.read_file(predictor.record, "profile"))
    edges = np.asarray(profile["values"]["edges"])
    expected = np.bincount(np.searchsorted(edges, predicted, side="right"), minlength=len(edges) + 2)
    assert profile["values"]["reference"] == pytest.approx((expected / len(predicted)).tolist())


def test_without_hold_out_rows_a_regressor_has_no_intervals_and_says_why(notebook_registry):
    x, y = _houses(100, seed=3)
    tabserve.register(_pipeline(x, y), name="bare", X_sample=x[:10], registry=notebook_registry)
    predictor = Predictor.load(notebook_registry.store, "bare", 1)
    schema = predictor.schema
    assert predictor.predict(batch_from_frame(x[:3], schema)).values.shape == (3,)
    with pytest.raises(
        InputError, match=r"interval: bare version 1 has no hold-out residuals .*X_test and y_test"
    ):
        predictor.predict(batch_from_frame(x[:3], schema), interval=0.9)


def test_text_targets_for_a_regressor_are_refused(notebook_registry):
    x, y = _houses(60, seed=4)
    with pytest.raises(DataError, match="y_test: a regressor's hold-out targets must be numbers"):
        tabserve.register(
            _pipeline(x, y),
            name="bad",
            X_sample=x[:5],
            X_test=x[:5],
            y_test=["a"] * 5,
            registry=notebook_registry,
        )


def test_export_and_import_keep_the_residuals(notebook_registry, tmp_path):
    from tabserve.exchange import export_version, import_version

    x, y = _houses(200, seed=5)
    model = _pipeline(x[:100], y[:100])
    tabserve.register(
        model, name="prices", X_sample=x[:10], X_test=x[100:], y_test=y[100:], registry=notebook_registry
    )
    store = notebook_registry.store
    written = export_version(store, "prices", 1, tmp_path / "out")
    assert "residuals.json" in written
    stored = import_version(store, tmp_path / "out", name="copied", promote=None, auto_promote=True)
    before = Predictor.load(store, "prices", 1)
    after = Predictor.load(store, "copied", stored.version)
    assert after.is_regression and after.residuals is not None
    assert after.residuals.half_width(0.9) == before.residuals.half_width(0.9)
