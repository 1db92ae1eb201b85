"""A regression version on every registry backend: its task, metrics and interval residuals come back."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge

import tabserve
from tabserve.inputs import batch_from_frame
from tabserve.predictor import Predictor

pytestmark = pytest.mark.backend


def test_a_regressor_stores_its_task_and_residuals(backend, db_url, model_name, tmp_path):
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.normal(size=120), "b": rng.normal(size=120)})
    y = 2 * x["a"] - x["b"] + rng.normal(0, 0.1, 120)
    model = Ridge().fit(x[:60], y[:60])
    with tabserve.Registry(url=db_url, artifacts=str(tmp_path / "artifacts")) as registry:
        tabserve.register(
            model, name=model_name, X_sample=x[:5], X_test=x[60:], y_test=y[60:], registry=registry
        )
        detail = registry.version(model_name, 1)
        assert detail["task"] == "regression" and detail["rmse"] == pytest.approx(detail["metrics"]["rmse"])
        predictor = Predictor.load(registry.store, model_name, 1)
        answer = predictor.predict(batch_from_frame(x[:3], predictor.schema), interval=0.8)
        np.testing.assert_allclose(answer.values, model.predict(x[:3]), atol=1e-9)
        assert answer.interval is not None and (answer.interval.upper > answer.values).all()


def test_a_regressors_logged_values_and_intervals_come_back(backend, db_url, model_name, tmp_path):
    """The prediction log on every backend keeps a regressor's values and its intervals' ends."""
    from tabserve.monitoring.channel import Observation
    from tabserve.monitoring.export import read_log
    from tabserve.monitoring.prediction_log import PredictionLog

    rng = np.random.default_rng(1)
    x = pd.DataFrame({"a": rng.normal(size=80), "b": rng.normal(size=80)})
    model = Ridge().fit(x, x["a"] - x["b"])
    with tabserve.Registry(url=db_url, artifacts=str(tmp_path / "artifacts")) as registry:
        tabserve.register(
            model, name=model_name, X_sample=x[:5], X_test=x[40:], y_test=x["a"][40:], registry=registry
        )
        predictor = Predictor.load(registry.store, model_name, 1)
        metadata = registry.store.metadata
        answer = predictor.predict(batch_from_frame(x[:3], predictor.schema), interval=0.8)
        matrix = x[:3].to_numpy()
        log = PredictionLog(lambda: metadata, retention_days=30)
        values, interval = answer.values, answer.interval
        call = Observation(predictor, 3, matrix, None, answer.indices, None, time.time(), values, interval)
        log.handle([call])
        logged = read_log(metadata.engine, model_name, 0)
    assert logged["prediction"].tolist() == pytest.approx(answer.values.tolist())
    assert logged["interval_lower"].tolist() == pytest.approx(answer.interval.lower.tolist())
    assert logged["interval_upper"].tolist() == pytest.approx(answer.interval.upper.tolist())
    assert set(logged["interval_coverage"]) == {0.8}
