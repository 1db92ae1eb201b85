"""A regression version on every registry backend: its task, metrics and interval residuals come back."""

from __future__ import annotations

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
